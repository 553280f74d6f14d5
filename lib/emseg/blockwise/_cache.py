"""Open files and arrays shared by the tasks of one run inside a worker process.

Every dask task receives its own unpickled copy of the small input/output descriptions;
without a shared cache each would reopen the TIFF or zarr array. Entries are keyed by a
token made once per run (so a later run, perhaps on a file rewritten since, opens afresh)
and the last few are kept (a long-lived worker does not pile up open files).
"""
import threading
from collections import OrderedDict

__all__ = ["shared"]

_KEEP = 8
_ENTRIES = OrderedDict()
_LOCK = threading.Lock()


def shared(key, open_):
    """The object cached under ``key`` in this process, made by ``open_()`` the first time."""
    with _LOCK:
        if key in _ENTRIES:
            _ENTRIES.move_to_end(key)
            return _ENTRIES[key]
        value = open_()
        _ENTRIES[key] = value
        while len(_ENTRIES) > _KEEP:
            _ENTRIES.popitem(last=False)
        return value
