"""Working resolution: bin volumes by integer factors, and resample predictions back.

A network can be trained and run at a coarser grid than the data's (``TrainConfig.scale``):
VNC's 4.6 nm pixels binned 2x give 9.2 nm pixels, so a 128-pixel window sees
1.2 um, more than one mitochondrion. Images and weights are binned by block means,
labels by the most frequent class of each block (ties go to the higher class id, so
thin and rare structures survive), and predicted probabilities are interpolated
(linearly, voxel centres aligned) back to the input grid.

Scales are integer factors per axis (z, y, x); ``None`` or 1 is the native grid.
"""
import dataclasses

import numpy as np
import torch
import torch.nn.functional as F

__all__ = ["check_scale", "is_native", "downscale", "downscale_volume", "upscale_probabilities"]


def check_scale(scale, *, ndim=3):
    """``scale`` as a (z, y, x) tuple of positive integers.

    Parameters
    ----------
    scale : None, int or sequence of int
        None: (1, 1, 1); an int k: (1, k, k), in-plane binning; (y, x): (1, y, x);
        (z, y, x) as is.
    ndim : {2, 3}
        The network's window dimensions: a 2D network sees one section at a time, so
        its z factor must be 1.

    Returns
    -------
    tuple of int

    Raises
    ------
    ValueError
        For anything else, naming the value.

    Examples
    --------
    >>> check_scale(2), check_scale((1, 2, 2)), check_scale(None)
    ((1, 2, 2), (1, 2, 2), (1, 1, 1))
    """
    if scale is None:
        return (1, 1, 1)
    values = [scale] if np.isscalar(scale) else list(scale)
    ok = all(isinstance(v, (int, np.integer)) and not isinstance(v, bool) and v >= 1 for v in values)
    if not ok or len(values) not in (1, 2, 3):
        raise ValueError(f"scale must be a positive integer (in-plane binning) or one per axis, "
                         f"(y, x) or (z, y, x), e.g. 2 or [1, 2, 2]; got {scale!r}")
    values = [int(v) for v in values]
    out = tuple([1] * (3 - len(values)) + values) if len(values) > 1 else (1, values[0], values[0])
    if ndim == 2 and out[0] != 1:
        raise ValueError(f"a 2D network sees one section at a time: its scale cannot bin z "
                         f"(got {scale!r}); use (1, y, x)")
    return out


def is_native(scale):
    """True when ``scale`` (anything :func:`check_scale` takes) is the native grid."""
    return check_scale(scale) == (1, 1, 1)


def downscale(array, scale, *, kind="mean"):
    """Bin a (z, y, x) array by integer factors.

    Parameters
    ----------
    array : numpy.ndarray
        (z, y, x) image, weights or labels.
    scale : tuple of int
        Factors (z, y, x) (see :func:`check_scale`).
    kind : {'mean', 'mode'}
        Block means (images, weights; float32), or the most frequent value of each
        block (labels; dtype kept; ties go to the larger value).

    Returns
    -------
    numpy.ndarray
        Shape ``ceil(shape / scale)``: a partial block at the far edge is filled by
        repeating the edge voxels.

    Examples
    --------
    >>> downscale(np.arange(8.0).reshape(1, 2, 4), (1, 2, 2))
    array([[[2.5, 4.5]]], dtype=float32)
    >>> downscale(np.array([[[0, 1], [1, 0]]]), (1, 2, 2), kind="mode")
    array([[[1]]])
    """
    scale = check_scale(scale)
    array = np.asarray(array)
    if array.ndim != 3:
        raise ValueError(f"downscale takes (z, y, x) arrays, got shape {array.shape}")
    if kind not in ("mean", "mode"):
        raise ValueError(f"kind must be 'mean' or 'mode', got {kind!r}")
    if scale == (1, 1, 1):
        return array.astype(np.float32) if kind == "mean" else array
    pad = [(0, -s % f) for s, f in zip(array.shape, scale)]
    if any(p[1] for p in pad):
        array = np.pad(array, pad, mode="edge")
    small = tuple(s // f for s, f in zip(array.shape, scale))
    blocks = array.reshape(small[0], scale[0], small[1], scale[1], small[2], scale[2])
    if kind == "mean":
        return blocks.mean(axis=(1, 3, 5), dtype=np.float64).astype(np.float32)
    out = np.zeros(small, array.dtype)
    best = np.full(small, -1, np.int64)
    for value in np.unique(array):  # ascending: a tie goes to the larger value
        count = (blocks == value).sum(axis=(1, 3, 5))
        take = count >= best
        out[take], best[take] = value, count[take]
    return out


def upscale_probabilities(probs, shape, scale):
    """Resample (C, z', y', x') probabilities of a binned grid back to ``shape`` (z, y, x).

    Linear interpolation (trilinear; along an axis with factor 1 nothing changes) with
    the voxel centres of each block aligned (``align_corners=False``), then cropped to
    ``shape`` (undoing :func:`downscale`'s edge padding). Probabilities still sum to 1.

    Parameters
    ----------
    probs : torch.Tensor
        (C, z', y', x') float probabilities on the binned grid.
    shape : tuple of int
        The input grid (z, y, x).
    scale : tuple of int
        The factors used by :func:`downscale`.

    Returns
    -------
    torch.Tensor
        (C, z, y, x), on the device of ``probs``.
    """
    scale = check_scale(scale)
    if scale == (1, 1, 1):
        return probs
    up = F.interpolate(probs[None].float(), scale_factor=tuple(float(f) for f in scale),
                       mode="trilinear", align_corners=False)[0]
    return up[(slice(None),) + tuple(slice(0, s) for s in shape)].contiguous()


def downscale_volume(volume, scale):
    """A :class:`emseg.data.Volume` binned by ``scale`` (labels by mode, weights by mean)."""
    if is_native(scale):
        return volume
    changes = {"image": downscale(volume.image, scale)}
    if volume.labels is not None:
        changes["labels"] = downscale(volume.labels, scale, kind="mode")
    if volume.weights is not None:
        changes["weights"] = downscale(volume.weights, scale)
    if getattr(volume, "voxel_size", None) is not None:
        changes["voxel_size"] = tuple(float(v) * f for v, f in zip(volume.voxel_size, scale))
    return dataclasses.replace(volume, **changes)

