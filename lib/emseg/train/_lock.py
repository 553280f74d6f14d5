"""An exclusive lock on a training run folder: one run writes into a folder at a time."""
import contextlib
import json
import os
import socket
import time
import warnings
from pathlib import Path

__all__ = ["run_lock", "LOCK_NAME"]

LOCK_NAME = ".emseg-train.lock"


@contextlib.contextmanager
def run_lock(folder):
    """Hold an exclusive lock on a run folder for the duration of a ``with`` block.

    The lock is a file ``.emseg-train.lock`` in ``folder`` (created, with the folder,
    if missing) naming the process that holds it. A second run into the same folder
    is refused with a ``ValueError`` that names the process and the host. A lock left
    by a process that no longer runs on this machine (e.g. after ``kill -9``) is
    removed with a warning and taken over.

    Parameters
    ----------
    folder : str or Path
        The run folder (``fit``'s ``output_dir``).

    Raises
    ------
    ValueError
        If another process holds the lock.

    Examples
    --------
    >>> with run_lock("runs/my-run"):           # doctest: +SKIP
    ...     train()
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / LOCK_NAME
    me = {"pid": os.getpid(), "host": socket.gethostname(), "start": _start_time(os.getpid()),
          "since": time.strftime("%Y-%m-%d %H:%M:%S")}
    for _ in range(3):
        try:
            fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            holder = _read(path)
            if holder is None:  # being written by its holder this instant, or unreadable
                time.sleep(0.2)
                holder = _read(path)
            if holder is not None and _alive(holder):
                raise ValueError(
                    f"{folder} is in use by another training run (process {holder['pid']} on "
                    f"{holder['host']}, since {holder.get('since', '?')}); wait for it to finish "
                    f"or choose another output folder. If no such run exists, delete "
                    f"{path}") from None
            if holder is None:
                raise ValueError(f"{path} exists but cannot be read; if no training run uses "
                                 f"{folder}, delete it and start again") from None
            if _read(path) == holder:  # still the same stale lock: take it over
                with contextlib.suppress(FileNotFoundError):
                    path.unlink()
                warnings.warn(f"removed a stale lock in {folder}: process {holder['pid']} on "
                              f"{holder['host']} no longer runs (it was stopped before it "
                              f"finished)", stacklevel=3)
            continue
        with os.fdopen(fd, "w") as fh:
            json.dump(me, fh)
        break
    else:
        raise ValueError(f"could not lock {folder}: other processes keep taking it; "
                         f"make sure only one training run uses it")
    try:
        yield path
    finally:
        if _read(path) == me:
            with contextlib.suppress(FileNotFoundError):
                path.unlink()


def _read(path):
    """The lock's holder as a dict, or None if the file is missing, empty or garbled."""
    try:
        holder = json.loads(Path(path).read_text())
    except (OSError, ValueError):
        return None
    return holder if isinstance(holder, dict) and isinstance(holder.get("pid"), int) else None


def _alive(holder):
    """Whether the lock's holder may still run (other hosts: assume so)."""
    if holder.get("host") != socket.gethostname():
        return True
    pid = holder["pid"]
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    except OSError:
        return True
    start = holder.get("start")  # the pid may have been reused by another process
    return start is None or _start_time(pid) in (None, start)


def _start_time(pid):
    """The process's start time in clock ticks since boot (Linux), else None."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat[stat.rindex(")") + 2:].split()  # after "pid (name) "
    return int(fields[19]) if len(fields) > 19 else None
