"""Reflection padding shared by the training sampler and the tiler, so both see the
same borders."""
import numpy as np

__all__ = ["reflect_pad"]


def reflect_pad(volume, pad):
    """Pad ``volume`` by ``pad`` = ((low, high), ...) per axis, mirroring at the borders.

    Axes of one voxel cannot be mirrored and repeat their value instead; pads larger
    than the axis mirror repeatedly (numpy's 'reflect').

    Examples
    --------
    >>> reflect_pad(np.arange(4), [(2, 2)]).tolist()
    [2, 1, 0, 1, 2, 3, 2, 1]
    >>> reflect_pad(np.array([[5]]), [(1, 0), (0, 1)]).tolist()
    [[5, 5], [5, 5]]
    """
    pad = [tuple(int(v) for v in p) for p in pad]
    reflect = [p if n > 1 else (0, 0) for n, p in zip(volume.shape, pad)]
    edge = [(0, 0) if n > 1 else p for n, p in zip(volume.shape, pad)]
    if any(map(any, reflect)):
        volume = np.pad(volume, reflect, mode="reflect")
    if any(map(any, edge)):
        volume = np.pad(volume, edge, mode="edge")
    return np.ascontiguousarray(volume)
