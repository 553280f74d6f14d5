"""Safe file writes: nothing a user made is ever replaced by a half-written file, nor
replaced at all unless asked, nor written over a command's own input."""
import contextlib
import json
import math
import os
import re
import secrets
from pathlib import Path

__all__ = ["atomic_path", "check_output", "remove_stale_temporaries", "json_ready", "write_json"]

# the names atomic_path gives its temporary files: .<stem>.<8 hex>.tmp<suffix>
_TMP_NAME = re.compile(r"^\..+\.[0-9a-f]{8}\.tmp(\.[A-Za-z0-9]+)?$")


def check_output(path, *, overwrite=False, inputs=(), what="output", how="overwrite=True"):
    """Check that ``path`` may be written; return it as a :class:`~pathlib.Path`.

    Parameters
    ----------
    path : str or Path
        The file about to be written.
    overwrite : bool
        Allow replacing an existing file.
    inputs : iterable of str or Path
        The files the writer reads; ``path`` may never be one of them, with or
        without ``overwrite`` (the result would replace its own input).
    what : str
        How the message names the output (e.g. ``'--output'``).
    how : str
        How the message says to allow replacing it (e.g. ``'--overwrite'``).

    Raises
    ------
    ValueError
        If ``path`` is one of ``inputs``, is a folder, or exists and ``overwrite``
        is false.

    Examples
    --------
    >>> check_output(folder / "labels.tif", inputs=[folder / "image.tif"])  # doctest: +SKIP
    PosixPath('.../labels.tif')
    """
    path = Path(path)
    for source in inputs:
        if source is not None and _same_file(path, Path(source)):
            raise ValueError(f"{what} {path} is also an input of this command; write the result "
                             f"to another file (nothing is written over its own input)")
    if path.is_dir():
        raise ValueError(f"{what} {path} is a folder; give a file name")
    if path.exists() and not overwrite:
        raise ValueError(f"{what} {path} exists; pass {how} to replace it, or choose another name")
    return path


def _same_file(a, b):
    """Whether two paths name the same file (existing or not)."""
    try:
        if a.exists() and b.exists():
            return os.path.samefile(a, b)
    except OSError:
        pass
    return a.expanduser().resolve() == b.expanduser().resolve()


def remove_stale_temporaries(folder):
    """Remove the temporary files an interrupted :func:`atomic_path` left in ``folder``.

    Only names of the form ``.<stem>.<8 hex digits>.tmp<suffix>`` are removed (what
    :func:`atomic_path` creates), and only directly in ``folder``. Call it where a
    single process owns the folder (e.g. a training run holding its lock).

    Returns
    -------
    list of Path
        The removed files.
    """
    folder = Path(folder)
    removed = []
    if not folder.is_dir():
        return removed
    for p in folder.iterdir():
        if p.is_file() and _TMP_NAME.match(p.name):
            with contextlib.suppress(FileNotFoundError):
                p.unlink()
                removed.append(p)
    return removed


@contextlib.contextmanager
def atomic_path(path):
    """Yield a temporary path next to ``path``; rename it over ``path`` on success.

    The temporary file keeps ``path``'s extension (writers that pick a format from it
    keep working) and gets the usual permissions (the process umask applies). On any
    error, including ``KeyboardInterrupt``, the temporary file is removed and
    ``path`` is left as it was. Missing parent folders are created.

    Examples
    --------
    >>> with atomic_path(folder / "table.csv") as tmp:   # doctest: +SKIP
    ...     tmp.write_text("a,b\\n1,2\\n")
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.parent / f".{path.stem}.{secrets.token_hex(4)}.tmp{path.suffix}"
    os.close(os.open(tmp, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o666))
    try:
        yield tmp
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        raise


def json_ready(value):
    """``value`` as plain JSON data: numpy/torch arrays and scalars as lists and numbers,
    paths as strings, tuples as lists, and NaN or infinite floats as None (JSON has no
    NaN: a file with ``NaN`` in it is not valid JSON).

    Examples
    --------
    >>> json_ready({"iou": [0.5, float("nan")], "shape": (2, 3)})
    {'iou': [0.5, None], 'shape': [2, 3]}
    """
    if isinstance(value, dict):
        return {str(k): json_ready(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_ready(v) for v in value]
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    if hasattr(value, "tolist") and not isinstance(value, (str, bytes)):  # numpy, torch
        return json_ready(value.tolist())
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if value is None or isinstance(value, (str, int, bool)):
        return value
    raise TypeError(f"cannot write a {type(value).__name__} to JSON")


def write_json(path, value, *, indent=1):
    """Write ``value`` (see :func:`json_ready`) as JSON, atomically; returns the path.

    The one JSON writer of emseg's result files (results, metrics, histories, run
    records): always valid JSON, NaN written as ``null``.
    """
    text = json.dumps(json_ready(value), indent=indent, allow_nan=False)
    with atomic_path(path) as tmp:
        tmp.write_text(text + "\n", encoding="utf-8")
    return Path(path)
