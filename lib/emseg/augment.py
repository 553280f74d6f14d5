"""Training augmentation for EM windows: elastic warp, 90-degree turns, flips, brightness, contrast.

Follows the platelet recipe (Guay et al. 2021) with its bugs fixed:

* flips are actually applied (the original called ``np.flip`` and discarded the
  result, quirk Q1);
* the elastic warp samples the image and weights with linear interpolation (the
  original used nearest neighbour for the image too, quirk Q10); labels stay
  nearest-neighbour. As in the original, one 2D displacement field is shared by
  all z slices: the data are anisotropic and sections are cut in z;
* the warp is drawn per window instead of once per epoch for the whole volume,
  which costs less and gives more variety.

Every function takes a ``numpy.random.Generator``; with the same generator state
the output is identical.
"""
from dataclasses import dataclass

import numpy as np
from scipy import ndimage

__all__ = ["AugmentConfig", "augment_window", "elastic_field"]


@dataclass(frozen=True)
class AugmentConfig:
    """Augmentation settings (defaults: the original platelet recipe). Frozen: make variants
    with ``dataclasses.replace``, so presets that share one cannot change each other's."""
    elastic: bool = True          # warp image/labels/weights with a smooth random field
    elastic_grid: int = 40        # pixels per coarse control point
    elastic_sigma: float = 0.6    # Gaussian smoothing of the coarse noise (control points)
    elastic_alpha: float = 20.0   # displacement scale in pixels
    flips: bool = True            # random flip along each axis with p = 0.5
    rotate: bool = False          # random 0/90/180/270-degree in-plane turn (square windows)
    brightness: float = 0.12      # shift by U(-b, b) x the window's data range
    contrast: float = 0.2         # scale by U(1 - c, 1 + c) about the mean


def elastic_field(shape_yx, rng, *, grid=40, sigma=0.6, alpha=20.0):
    """A smooth random 2D displacement field (dy, dx), each of ``shape_yx``, in pixels."""
    coarse = tuple(max(2, int(np.ceil(s / grid))) for s in shape_yx)
    fields = []
    for _ in range(2):
        noise = rng.uniform(-1.0, 1.0, size=coarse)
        noise = ndimage.gaussian_filter(noise, sigma, mode="reflect") * alpha
        zoom = [s / c for s, c in zip(shape_yx, coarse)]
        up = ndimage.zoom(noise, zoom, order=1, mode="nearest", grid_mode=True)
        fields.append(up[: shape_yx[0], : shape_yx[1]])
    return fields[0], fields[1]


def _warp(arr, coords, order):
    out = np.empty_like(arr)
    for z in range(arr.shape[0]):
        ndimage.map_coordinates(arr[z], coords, output=out[z], order=order, mode="reflect")
    return out


def augment_window(image, labels, weights, rng, *, config=None):
    """Augment one training window (all arrays (z, y, x), same shape).

    Parameters
    ----------
    image : numpy.ndarray
        float32 image window.
    labels : numpy.ndarray
        Integer labels window.
    weights : numpy.ndarray or None
        Error-weight window.
    rng : numpy.random.Generator
        Source of randomness.
    config : AugmentConfig, optional
        Settings (default: the original recipe).

    Returns
    -------
    tuple
        ``(image, labels, weights)``, new arrays.
    """
    cfg = config or AugmentConfig()
    if cfg.elastic:
        dy, dx = elastic_field(image.shape[1:], rng, grid=cfg.elastic_grid,
                               sigma=cfg.elastic_sigma, alpha=cfg.elastic_alpha)
        yy, xx = np.meshgrid(np.arange(image.shape[1]), np.arange(image.shape[2]), indexing="ij")
        coords = np.stack([yy + dy, xx + dx])
        image = _warp(image, coords, order=1)
        labels = _warp(labels, coords, order=0)
        if weights is not None:
            weights = _warp(weights, coords, order=1)
    if cfg.rotate and image.shape[1] == image.shape[2]:
        turns = int(rng.integers(4))
        if turns:
            image, labels = np.rot90(image, turns, (1, 2)), np.rot90(labels, turns, (1, 2))
            if weights is not None:
                weights = np.rot90(weights, turns, (1, 2))
    if cfg.flips:
        axes = tuple(a for a in range(3) if rng.random() < 0.5)
        if axes:
            image, labels = np.flip(image, axes), np.flip(labels, axes)
            if weights is not None:
                weights = np.flip(weights, axes)
    if cfg.brightness or cfg.contrast:
        lo, hi = float(image.min()), float(image.max())
        shift = rng.uniform(-cfg.brightness, cfg.brightness) * (hi - lo)
        scale = rng.uniform(1 - cfg.contrast, 1 + cfg.contrast)
        mean = float(image.mean())
        image = ((image - mean) * scale + mean + shift).astype(np.float32)
    return (np.ascontiguousarray(image), np.ascontiguousarray(labels),
            None if weights is None else np.ascontiguousarray(weights))
