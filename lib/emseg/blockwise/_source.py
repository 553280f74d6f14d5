"""Chunked input volumes: read any box of a numpy array, a TIFF file or a zarr array
without loading the whole volume.

A :class:`ChunkedVolume` is a small picklable description (a path, a URL, or the
array itself for in-memory inputs) that opens its file lazily in whichever process
reads from it, so a dask worker opens each file once and keeps it open.
"""
import hashlib
import os
import secrets
import threading
from pathlib import Path

import numpy as np

__all__ = ["ChunkedVolume", "open_volume"]

_TIFF_SUFFIXES = (".tif", ".tiff")


class ChunkedVolume:
    """A (z, y, x) or (y, x) volume that is read box by box.

    Make one with :func:`open_volume`. ``volume[box]`` (a tuple of slices) returns a
    numpy copy of that box; ``shape``, ``dtype``, ``ndim``, ``chunks`` (the storage
    chunking, a hint for block sizes) and ``kind`` (``'numpy'``, ``'memmap'``,
    ``'tiff'``, ``'tiff-memmap'`` or ``'zarr'``) describe it.
    """

    def __init__(self, kind, *, shape, dtype, chunks, array=None, path=None, dataset=None,
                 storage_options=None, memmap=None):
        self.kind, self.shape, self.dtype = kind, tuple(int(s) for s in shape), np.dtype(dtype)
        self.chunks = tuple(int(c) for c in chunks)
        self.path, self.dataset, self.storage_options = path, dataset, storage_options
        self._array = array          # numpy inputs (and zarr Array objects) travel with the object
        self._memmap = memmap        # (filename, offset, order) of a numpy memmap: reopened, not copied
        self._handle = None
        self._token = secrets.token_hex(8)  # one per opened volume: worker caches key on it
        self._lock = threading.Lock()

    @property
    def ndim(self):
        return len(self.shape)

    def describe(self):
        """A short JSON-able identity used to refuse resuming a prediction with another input:
        kind, path, dataset, shape, dtype, plus a hash of the data for in-memory arrays and
        the size and modification time of files (zarr folders: their path only)."""
        info = {"kind": self.kind, "path": None if self.path is None else str(self.path),
                "dataset": self.dataset, "shape": list(self.shape), "dtype": self.dtype.str}
        if self.kind == "numpy":
            h = hashlib.sha1()
            for plane in self._array.reshape((-1,) + self.shape[-2:]):  # no copy of the whole
                h.update(np.ascontiguousarray(plane).data)
            info["sha1"] = h.hexdigest()
        elif self.kind in ("memmap", "tiff", "tiff-memmap"):
            stat = os.stat(self._memmap[0] if self.kind == "memmap" else self.path)
            info.update(file=self._memmap[0] if self.kind == "memmap" else str(self.path),
                        bytes=stat.st_size, mtime_ns=stat.st_mtime_ns)
        return info

    def __getitem__(self, box):
        box = box if isinstance(box, tuple) else (box,)
        box = box + (slice(None),) * (self.ndim - len(box))
        return np.array(self._open()[box], copy=True)

    def __repr__(self):
        where = f" {self.path}" + (f" [{self.dataset}]" if self.dataset else "") if self.path else ""
        return f"ChunkedVolume({self.kind}{where}, shape={self.shape}, dtype={self.dtype})"

    # pickling: never the open file handle; a numpy memmap is reopened from its file
    def __getstate__(self):
        state = dict(self.__dict__)
        state["_handle"], state["_lock"] = None, None
        return state

    def __setstate__(self, state):
        self.__dict__.update(state)
        self._lock = threading.Lock()

    def _open(self):
        if self._handle is None:
            with self._lock:
                if self._handle is None:
                    if self.kind == "numpy" or self._array is not None:
                        self._handle = self._open_handle()
                    else:  # files: opened once per process for all tasks of a run
                        from emseg.blockwise._cache import shared
                        self._handle = shared(("volume", self._token), self._open_handle)
        return self._handle

    def _open_handle(self):
        if self.kind == "numpy":
            return self._array
        if self.kind == "memmap":
            filename, offset, order = self._memmap
            return np.memmap(filename, dtype=self.dtype, mode="r", shape=self.shape,
                             offset=offset, order=order)
        if self.kind == "tiff-memmap":
            import tifffile
            return tifffile.memmap(self.path, mode="r").reshape(self.shape)
        if self.kind == "tiff":
            import tifffile
            import zarr
            try:  # tifffile's zarr view decodes only the tiles a box needs
                arr = zarr.open(tifffile.imread(self.path, aszarr=True), mode="r")
            except (ImportError, ValueError, TypeError):  # a tifffile/zarr pair that do not fit
                return _TiffPages(self.path, self.shape)
            return arr if tuple(arr.shape) == self.shape else _Reshaped(arr, self.shape)
        if self.kind == "zarr":
            if self._array is not None:
                return self._array
            return _open_zarr(self.path, self.dataset, self.storage_options)
        raise ValueError(f"unknown volume kind {self.kind!r}")


class _Reshaped:
    """A TIFF's zarr view without its length-1 axes (e.g. one page stored as (1, y, x))."""

    def __init__(self, arr, shape):
        self.arr, self.shape = arr, shape

    def __getitem__(self, box):
        box, index = list(box), []
        for size in self.arr.shape:
            index.append(0 if size == 1 else box.pop(0))
        return self.arr[tuple(index)]


class _TiffPages:
    """Boxes of a compressed multi-page TIFF, decoding only the pages (z slices) they need."""

    def __init__(self, path, shape):
        import tifffile
        self.tif, self.shape, self.lock = tifffile.TiffFile(path), shape, threading.Lock()

    def __getitem__(self, box):
        if len(self.shape) == 2:
            with self.lock:
                return self.tif.asarray().reshape(self.shape)[box]
        keys = list(range(*box[0].indices(self.shape[0])))
        with self.lock:
            pages = self.tif.asarray(key=keys)
        return pages.reshape((len(keys),) + self.shape[1:])[(slice(None),) + tuple(box[1:])]


def open_volume(image, *, dataset=None, storage_options=None):
    """Describe an input volume so that it can be read box by box.

    Parameters
    ----------
    image : numpy.ndarray, str, Path or zarr.Array
        * a numpy array (a ``numpy.memmap`` is reopened from its file by each reader,
          never copied);
        * a ``.tif``/``.tiff`` file: memory-mapped when its pages are stored
          contiguously and uncompressed, otherwise read page/tile-wise through
          tifffile's zarr view (only the pages a box needs are decoded);
        * a zarr array: a local folder or any URL fsspec understands (``s3://...``,
          ``gs://...``, ``https://...`` where you have the package), or an open
          ``zarr.Array``. For a zarr group, name the array with ``dataset``.
    dataset : str, optional
        The array inside a zarr group (e.g. ``'raw'`` or ``'volumes/raw'``).
    storage_options : dict, optional
        Passed to fsspec for zarr URLs (credentials, anonymous access, ...).

    Returns
    -------
    ChunkedVolume

    Raises
    ------
    FileNotFoundError
        For a local path that does not exist.
    ValueError
        For an array that is not 2D or 3D, not numeric, or a zarr group without ``dataset``.

    Examples
    --------
    >>> vol = open_volume(np.zeros((4, 30, 40), np.uint8))
    >>> vol.shape, vol[1:2, :2, :3].shape
    ((4, 30, 40), (1, 2, 3))
    """
    if isinstance(image, ChunkedVolume):
        return image
    if isinstance(image, np.memmap) and getattr(image, "filename", None) and image.base is not None:
        order = "F" if image.flags.f_contiguous and not image.flags.c_contiguous else "C"
        if image.flags.c_contiguous or image.flags.f_contiguous:
            vol = ChunkedVolume("memmap", shape=image.shape, dtype=image.dtype,
                                chunks=_slice_chunks(image.shape),
                                memmap=(str(image.filename), int(image.offset), order))
            return _checked(vol)
    if isinstance(image, np.ndarray):
        return _checked(ChunkedVolume("numpy", shape=image.shape, dtype=image.dtype,
                                      chunks=_slice_chunks(image.shape), array=image))
    if _is_zarr_array(image):
        return _checked(ChunkedVolume("zarr", shape=image.shape, dtype=image.dtype,
                                      chunks=image.chunks, array=image,
                                      path=_zarr_array_location(image)))
    if not isinstance(image, (str, Path)):
        raise TypeError(f"image must be a numpy array, a TIFF path, a zarr path/URL or a zarr.Array, "
                        f"got {type(image).__name__}")
    text = str(image)
    is_url = "://" in text
    if not is_url and not Path(text).exists():
        raise FileNotFoundError(f"no volume at {text}")
    if not is_url and Path(text).suffix.lower() in _TIFF_SUFFIXES:
        return _checked(_open_tiff(Path(text)))
    arr = _open_zarr(text, dataset, storage_options)
    return _checked(ChunkedVolume("zarr", shape=arr.shape, dtype=arr.dtype, chunks=arr.chunks,
                                  path=text, dataset=dataset, storage_options=storage_options))


def _open_tiff(path):
    import tifffile

    with tifffile.TiffFile(path) as tif:
        series = tif.series[0]
        shape = tuple(s for s in series.shape if s != 1) or (1,)
        if len(shape) == 1 or len(shape) > 3:
            shape = tuple(series.shape)  # let _checked say what is wrong
        contiguous = series.dataoffset is not None
        page = series.pages[0] if len(series.pages) else None
        page_shape = tuple(getattr(page, "shape", shape[-2:]))[-2:]
    chunks = (1,) * (len(shape) - 2) + tuple(page_shape) if len(shape) >= 2 else shape
    kind = "tiff-memmap" if contiguous else "tiff"
    return ChunkedVolume(kind, shape=shape, dtype=series.dtype, chunks=chunks, path=str(path))


def _open_zarr(url, dataset, storage_options):
    import zarr

    kwargs = {"storage_options": storage_options} if storage_options else {}
    try:
        node = zarr.open(url, mode="r", **kwargs)
    except Exception as exc:  # zarr 2 and 3 raise different errors for "not zarr"
        raise ValueError(f"{url} is neither a TIFF file nor a zarr array or group ({exc})") from exc
    if dataset:
        if _is_zarr_array(node):
            raise ValueError(f"{url} is a zarr array, not a group: leave dataset out")
        try:
            node = node[dataset]
        except KeyError:
            raise ValueError(f"the zarr group {url} has no array {dataset!r}; it has "
                             f"{sorted(node.array_keys())}") from None
    if not _is_zarr_array(node):
        raise ValueError(f"{url} is a zarr group; name the array to predict with dataset= "
                         f"(CLI: --dataset), one of {sorted(node.array_keys())}")
    return node


def _is_zarr_array(obj):
    try:
        import zarr
    except ImportError:  # pragma: no cover - zarr is a dependency
        return False
    return isinstance(obj, zarr.Array)


def _slice_chunks(shape):
    return (1,) * (len(shape) - 2) + tuple(shape[-2:]) if len(shape) >= 2 else tuple(shape)


def _checked(vol):
    if vol.ndim not in (2, 3):
        raise ValueError(f"blockwise prediction takes (z, y, x) volumes or (y, x) images, got shape "
                         f"{vol.shape}; select one channel/time point first")
    if not (np.issubdtype(vol.dtype, np.integer) or np.issubdtype(vol.dtype, np.floating)) \
            or vol.dtype == np.bool_:
        raise ValueError(f"the volume must hold integers or floats, not {vol.dtype}")
    if min(vol.shape) < 1:
        raise ValueError(f"the volume is empty (shape {vol.shape})")
    return vol


def _zarr_array_location(array):
    """Where a zarr.Array lives (store and path), so that resume can tell two arrays of one
    shape apart: ``store_path`` in zarr 3, ``store`` + ``path`` in zarr 2."""
    where = getattr(array, "store_path", None)
    if where is None:
        store = getattr(array, "store", None)
        where = f"{getattr(store, 'path', None) or type(store).__name__ + '@' + hex(id(store))}" \
                f"/{getattr(array, 'path', '')}"
    return str(where)
