"""Training windows: a jittered grid of output windows over one or more volumes.

As in the platelet recipe: the output-window corners lie on a grid with one random
corner per bin of width ``spacing`` per axis; the input window is centred on its
output window as the network's geometry says, with the volume reflected where the
input window reaches outside; every epoch is one shuffled pass over the windows.

With ``oversample`` > 0 (nnU-Net's foreground oversampling; nnU-Net uses 0.33),
that fraction of the windows is instead centred on a voxel of a foreground class
(any class but 0): a volume is drawn (in proportion to its number of grid windows,
among the volumes with foreground), then one of the foreground classes present in
it with equal chances, then one of its voxels. Rare classes are then seen in
training as often as common ones. Up to :data:`FOREGROUND_SAMPLES` voxels per class
and volume are kept as candidates.

All randomness is a pure function of ``(seed, epoch)`` and ``(seed, window index)``,
so a resumed training run sees exactly the windows an uninterrupted one would.
"""
import numpy as np

from emseg._padding import reflect_pad
from emseg.augment import augment_window

__all__ = ["WindowSampler", "FOREGROUND_SAMPLES"]

FOREGROUND_SAMPLES = 10000  # candidate centre voxels kept per class and volume


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
    oversample : float
        Fraction in [0, 1] of windows centred on a foreground voxel (see the module
        docstring); 0 samples the jittered grid only.
    """

    def __init__(self, volumes, geometry, *, spacing=None, seed=0, augment=None, oversample=0.0):
        self.geometry, self.seed, self.augment = geometry, int(seed), augment
        if not 0.0 <= float(oversample) <= 1.0:
            raise ValueError(f"oversample must be a fraction in [0, 1], got {oversample!r}")
        self.oversample = float(oversample)
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
        self._foreground = [self._candidates(v, vol.labels) if self.oversample else {}
                            for v, vol in enumerate(volumes)]
        self._shapes = [vol.labels.shape for vol in volumes]
        sizes = np.array([len(g) if fg else 0 for g, fg in zip(self._grid, self._foreground)],
                         float)
        self._volume_p = sizes / sizes.sum() if sizes.sum() else None

    def _candidates(self, v, labels):
        """``{class: flat indices}`` of up to FOREGROUND_SAMPLES voxels of each foreground class."""
        rng = np.random.default_rng([self.seed, 3, v])
        out = {}
        flat = labels.reshape(-1)
        for c in np.unique(flat):
            if c == 0:
                continue
            where = np.flatnonzero(flat == c)
            if where.size > FOREGROUND_SAMPLES:
                where = np.sort(rng.choice(where, FOREGROUND_SAMPLES, replace=False))
            out[int(c)] = where
        return out

    def _foreground_window(self, rng):
        """(volume index, output corner) of a window centred on a foreground voxel."""
        v = int(rng.choice(len(self._foreground), p=self._volume_p))
        classes = sorted(self._foreground[v])
        where = self._foreground[v][classes[int(rng.integers(len(classes)))]]
        centre = np.unravel_index(where[int(rng.integers(where.size))], self._shapes[v])
        corner = tuple(int(min(max(0, c - o // 2), m)) for c, o, m in
                       zip(centre, self.geometry.output, self._max_corner[v]))
        return v, corner

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
        pick = np.random.default_rng([self.seed, 2, int(index)]) if self._volume_p is not None \
            else None
        if pick is not None and pick.random() < self.oversample:
            v, corner = self._foreground_window(pick)
        else:
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
