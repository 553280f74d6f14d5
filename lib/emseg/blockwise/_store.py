"""The output of a blockwise prediction: one zarr group that a rerun can resume.

Layout of ``OUT.zarr`` (zarr format 2 or 3, whichever the installed zarr writes)::

    probabilities   (C, z, y, x) float32 or uint8 (round(255 p))   } one of the two,
    labels          (z, y, x) uint8                                 } chunked like the blocks
    done            (grid z, grid y, grid x) uint8, one chunk per block: 1 = block finished
    attrs["emseg_blockwise"]  the settings, the input's identity and its normalisation

A block's marker is written only after all of its output chunks, so a run that is
killed loses the blocks in flight and nothing else: on a rerun a block without a
marker is predicted again (its chunks overwritten), a block with one is skipped.
(The data chunks themselves are written atomically by zarr's local store; the marker
makes any store safe, since a half-written block never has one.) 2D inputs give
(C, y, x) / (y, x) arrays.
"""
import json
import secrets
import threading
from pathlib import Path

import numpy as np

__all__ = ["PredictionStore"]

_ATTR = "emseg_blockwise"
_FORMAT = 1


class PredictionStore:
    """The output zarr group of one blockwise prediction (picklable; opens lazily)."""

    def __init__(self, url, *, name, squeeze_z, storage_options=None):
        self.url, self.name, self.squeeze_z = str(url), name, bool(squeeze_z)
        self.storage_options = storage_options
        self._token = secrets.token_hex(8)  # one per run: worker caches key on it
        self._arrays = None
        self._lock = threading.Lock()

    def __getstate__(self):
        state = dict(self.__dict__)
        state["_arrays"], state["_lock"] = None, None
        return state

    def __setstate__(self, state):
        self.__dict__.update(state)
        self._lock = threading.Lock()

    # ------------------------------------------------------------------ client side

    @classmethod
    def existing(cls, url, *, storage_options=None):
        """The settings stored in ``url`` (a dict), ``None`` if nothing is there.

        Raises ``ValueError`` when something is there that is not an emseg prediction, so
        that nothing a user made is overwritten."""
        group = _open_group(url, "r", storage_options)
        if group is None:
            if _exists(url, storage_options):
                raise ValueError(f"{url} exists and is not a zarr group; choose another output "
                                 "(nothing there is overwritten)")
            return None
        info = dict(group.attrs).get(_ATTR)
        if not isinstance(info, dict) or info.get("format") != _FORMAT:
            raise ValueError(f"{url} exists and is not an emseg blockwise prediction; choose another "
                             "output or delete it yourself (it is never overwritten)")
        return info

    @classmethod
    def create(cls, url, *, info, shape, chunks, grid, n_classes, output, dtype, squeeze_z,
               storage_options=None):
        """Start a new output (replacing an earlier emseg prediction at ``url``) and return it."""
        import zarr  # noqa: F401  (import errors surface here, before any work)

        group = _open_group(url, "w", storage_options)
        group.attrs[_ATTR] = _jsonable({**info, "format": _FORMAT, "array": output})
        store = cls(url, name=output, squeeze_z=squeeze_z, storage_options=storage_options)
        store._create_arrays(group, shape=shape, chunks=chunks, grid=grid, n_classes=n_classes,
                             dtype=dtype)
        return store

    @classmethod
    def resume(cls, url, *, info, shape, chunks, grid, n_classes, output, dtype, squeeze_z,
               storage_options=None):
        """Reopen an output whose settings match; (re)creates arrays a killed start left out."""
        group = _open_group(url, "r+", storage_options)
        store = cls(url, name=output, squeeze_z=squeeze_z, storage_options=storage_options)
        keys = set(group.array_keys())
        if output not in keys or "done" not in keys:
            store._create_arrays(group, shape=shape, chunks=chunks, grid=grid, n_classes=n_classes,
                                 dtype=dtype)
        return store

    def _create_arrays(self, group, *, shape, chunks, grid, n_classes, dtype):
        spatial, spatial_chunks = tuple(shape), tuple(chunks)
        if self.squeeze_z:
            spatial, spatial_chunks = spatial[1:], spatial_chunks[1:]
        if self.name == "probabilities":
            spatial, spatial_chunks = (n_classes,) + spatial, (n_classes,) + spatial_chunks
        _create_array(group, self.name, shape=spatial, chunks=spatial_chunks, dtype=dtype)
        _create_array(group, "done", shape=tuple(grid), chunks=(1,) * len(grid), dtype="uint8")

    def done_mask(self, grid):
        """Boolean array over the block grid: which blocks are finished."""
        done = self._open()["done"]
        try:
            return np.asarray(done[...]) == 1
        except Exception:  # an unreadable marker (a store without atomic writes): check one by one
            mask = np.zeros(grid, bool)
            for index in np.ndindex(*grid):
                try:
                    mask[index] = done[index] == 1
                except Exception:
                    mask[index] = False
            return mask

    # ------------------------------------------------------------------ worker side

    def write_block(self, block, data):
        """Write a block's interior, then its done marker."""
        arrays = self._open()
        box = block.interior[1:] if self.squeeze_z else block.interior
        if self.squeeze_z:
            data = data[..., 0, :, :]
        if self.name == "probabilities":
            box = (slice(None),) + tuple(box)
        arrays[self.name][tuple(box)] = data
        arrays["done"][tuple(block.index)] = 1

    def _open(self):
        if self._arrays is None:
            with self._lock:
                if self._arrays is None:
                    from emseg.blockwise._cache import shared
                    self._arrays = shared(("store", self._token), self._open_arrays)
        return self._arrays

    def _open_arrays(self):
        group = _open_group(self.url, "r+", self.storage_options)
        return {"done": group["done"], self.name: group[self.name]}


def _open_group(url, mode, storage_options):
    import zarr

    kwargs = {"storage_options": storage_options} if storage_options else {}
    if mode == "r":
        try:
            node = zarr.open_group(str(url), mode="r", **kwargs)
        except Exception:  # not there / not a group (zarr 2 and 3 raise different errors)
            return None
        return node
    return zarr.open_group(str(url), mode=mode, **kwargs)


def _create_array(group, name, *, shape, chunks, dtype):
    """Create (or replace) an array in a group: zarr 3's create_array, zarr 2's create_dataset."""
    kwargs = dict(shape=tuple(int(s) for s in shape), chunks=tuple(int(c) for c in chunks),
                  dtype=dtype, fill_value=0, overwrite=True)
    if hasattr(group, "create_array"):
        return group.create_array(name, **kwargs)
    return group.create_dataset(name, **kwargs)


def _jsonable(value):
    return json.loads(json.dumps(value, default=lambda v: v.item() if hasattr(v, "item") else str(v)))


def _exists(url, storage_options):
    """Whether anything (a file, a folder, an object prefix) is at ``url``."""
    if "://" not in str(url):
        return Path(url).exists()
    import fsspec

    fs, path = fsspec.core.url_to_fs(str(url), **(storage_options or {}))
    return fs.exists(path)
