"""Atomic file writes: nothing a user made is ever replaced by a half-written file."""
import contextlib
import os
import secrets
from pathlib import Path

__all__ = ["atomic_path"]


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
