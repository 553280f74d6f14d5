"""Training windows: a jittered grid of output windows over one or more volumes.

As in the platelet recipe: the output-window corners lie on a grid with one random
corner per bin of width ``spacing`` per axis; the input window is centred on its
output window as the network's geometry says, with the volume reflected where the
input window reaches outside; every epoch is one shuffled pass over the windows.

All randomness is a pure function of ``(seed, epoch)`` and ``(seed, window index)``,
so a resumed training run sees exactly the windows an uninterrupted one would.
"""
import numpy as np

from emseg._padding import reflect_pad
from emseg.augment import augment_window

__all__ = ["WindowSampler"]


class WindowSampler:
    """Draw (augmented) training windows for a network geometry.

    Parameters
    ----------
    volumes : list of Volume
        Training volumes with ``image``, ``labels`` and optionally ``weights``.
    geometry : emseg.models.Geometry
        Input/output window shapes and offset, in (z, y, x).
    spacing : tuple of int, optional
        Bin width of the corner grid per axis (default: output // 3 in y/x and
        ``max(1, out_z // 2)`` in z; the original used (2, 100, 100) for 5x296x296).
    seed : int
        Data seed.
    augment : AugmentConfig or None
        Augmentation settings; ``None`` disables augmentation.
    """

    def __init__(self, volumes, geometry, *, spacing=None, seed=0, augment=None):
        self.geometry, self.seed, self.augment = geometry, int(seed), augment
        out, inp, off = geometry.output, geometry.input, geometry.offset
        if spacing is None:
            spacing = (max(1, out[0] // 2), max(1, out[1] // 3), max(1, out[2] // 3))
        self.spacing = tuple(int(s) for s in spacing)
        if len(self.spacing) != 3 or min(self.spacing) < 1:
            raise ValueError(f"spacing must be three positive integers (z, y, x), got {spacing}")
        self._padded, self._max_corner = [], []
        for vol in volumes:
            shape = vol.image.shape
            extra = [max(0, o - s) for o, s in zip(out, shape)]
            low = list(off)
            high = [i - o - f + e for i, o, f, e in zip(inp, out, off, extra)]
            arrays = (vol.image, vol.labels, vol.weights)
            self._padded.append(tuple(None if a is None else reflect_pad(a, list(zip(low, high)))
                                      for a in arrays))
            self._max_corner.append(tuple(max(0, s - o) for s, o in zip(shape, out)))
        self._grid = [self._bins(mc) for mc in self._max_corner]
        self.windows_per_epoch = sum(len(g) for g in self._grid)
        self._epoch_cache = (None, None)

    def _bins(self, max_corner):
        starts = [np.arange(0, m + 1, sp) for m, sp in zip(max_corner, self.spacing)]
        grid = np.stack(np.meshgrid(*starts, indexing="ij"), axis=-1).reshape(-1, 3)
        return grid

    def epoch(self, epoch):
        """The shuffled (volume index, output corner) list of one epoch."""
        if self._epoch_cache[0] == epoch:
            return self._epoch_cache[1]
        rng = np.random.default_rng([self.seed, 0, epoch])
        items = []
        for v, (grid, mc) in enumerate(zip(self._grid, self._max_corner)):
            width = np.minimum(np.array(self.spacing), np.array(mc) + 1 - grid)
            corners = grid + np.floor(rng.random(grid.shape) * width).astype(int)
            items.extend((v, tuple(int(c) for c in corner)) for corner in corners)
        order = rng.permutation(len(items))
        items = [items[i] for i in order]
        self._epoch_cache = (epoch, items)
        return items

    def window(self, index):
        """Training window number ``index`` (counting across epochs).

        Returns ``(image, labels, weights)`` where ``image`` has the input-window shape
        and ``labels``/``weights`` the output-window shape (``weights`` may be None).
        """
        epoch, pos = divmod(int(index), self.windows_per_epoch)
        v, corner = self.epoch(epoch)[pos]
        image, labels, weights = self._padded[v]
        sl = tuple(slice(c, c + i) for c, i in zip(corner, self.geometry.input))
        img, lab = image[sl].astype(np.float32), labels[sl]
        wgt = None if weights is None else weights[sl].astype(np.float32)
        if self.augment is not None:
            rng = np.random.default_rng([self.seed, 1, int(index)])
            img, lab, wgt = augment_window(img, lab, wgt, rng, config=self.augment)
        crop = tuple(slice(f, f + o) for f, o in zip(self.geometry.offset, self.geometry.output))
        lab = lab[crop]
        wgt = None if wgt is None else wgt[crop]
        return np.ascontiguousarray(img), np.ascontiguousarray(lab), \
            None if wgt is None else np.ascontiguousarray(wgt)
