"""The one container that data loaders return and training consumes."""
from dataclasses import dataclass, field, replace

import numpy as np

from emseg._validate import check_image

__all__ = ["Volume", "zscore"]


@dataclass
class Volume:
    """An image volume with optional labels and error weights, all (z, y, x).

    Attributes
    ----------
    image : numpy.ndarray
        float32 image, z-scored per volume (mean 0, std 1).
    labels : numpy.ndarray or None
        uint8 class ids, same shape as ``image``.
    weights : numpy.ndarray or None
        float32 per-voxel error weights (training split only), same shape.
    source : str
        ``'platelet'`` for the real data, ``'phantom'`` for synthetic data, or
        ``'user'`` for a user's own files.
    name : str
        A short name such as ``'train'``.
    voxel_size : tuple of float
        Voxel size in nm (z, y, x).
    """
    image: np.ndarray
    labels: np.ndarray = None
    weights: np.ndarray = None
    source: str = "user"
    name: str = ""
    voxel_size: tuple = field(default=(1.0, 1.0, 1.0))

    def __post_init__(self):
        shape = np.shape(self.image)
        for name in ("labels", "weights"):
            arr = getattr(self, name)
            if arr is not None and np.shape(arr) != shape:
                raise ValueError(f"Volume {name} shape {np.shape(arr)} does not match the image "
                                 f"shape {shape}")

    @property
    def synthetic(self):
        """True when the data are generated (a phantom), not measured."""
        return self.source == "phantom"

    @property
    def shape(self):
        return self.image.shape

    def crop(self, shape):
        """The first ``shape`` = (z, y, x) voxels (each at most the volume's size).

        A sub-volume for quick runs; the arrays are views, not copies. ``None`` in
        ``shape`` keeps that axis whole.

        Examples
        --------
        >>> import numpy as np
        >>> Volume(np.zeros((10, 64, 64), np.float32)).crop((4, None, 32)).shape
        (4, 64, 32)
        """
        if shape is None:
            return self
        shape = tuple(shape)
        if len(shape) != self.image.ndim or any(
                s is not None and (isinstance(s, bool) or int(s) < 1) for s in shape):
            raise ValueError(f"crop shape must be {self.image.ndim} positive sizes (or None), "
                             f"got {shape!r}")
        box = tuple(slice(None if s is None else int(s)) for s in shape)
        return replace(self, image=self.image[box],
                       labels=None if self.labels is None else self.labels[box],
                       weights=None if self.weights is None else self.weights[box])

    def __repr__(self):
        parts = [f"image={self.image.shape}"]
        if self.labels is not None:  # (a repr never fails, whatever the labels hold)
            present = len(np.unique(np.asarray(self.labels)))
            parts.append(f"labels: {present} classes present")
        if self.weights is not None:
            parts.append("weights")
        return f"Volume({self.name!r}, source={self.source!r}, {', '.join(parts)})"


def zscore(image):
    """Return ``image`` as float32 with zero mean and unit standard deviation.

    This is the per-volume normalisation of the original platelet pipeline: each
    volume (train, eval, test) is normalised with its own statistics.

    Parameters
    ----------
    image : array_like
        Any numeric array.

    Returns
    -------
    numpy.ndarray
        float32 array of the same shape.

    Examples
    --------
    >>> [round(float(v), 4) for v in zscore(np.array([1.0, 2.0, 3.0]))]
    [-1.2247, 0.0, 1.2247]
    """
    arr = check_image(image, ndim=tuple(range(1, 6)))
    mean = float(np.mean(arr, dtype=np.float64))  # float64 sums, no float64 copy of the volume
    std = float(np.std(arr, dtype=np.float64))
    if std == 0:
        raise ValueError("image is constant (standard deviation 0); it cannot be z-scored")
    out = arr.astype(np.float32)  # always a copy: the caller's array is not changed
    out -= np.float32(mean)
    out /= np.float32(std)
    return out
