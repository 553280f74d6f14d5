"""The ECS figures: the measures of one mask (:func:`plot_ecs`), the shape-aware loss's
weight map (:func:`plot_weight_map`) and a prediction's errors against the truth
(:func:`plot_ecs_prediction`). Each writes its figure atomically when given a path."""
import numpy as np

from emseg._validate import check_mask
from emseg.ecs._common import as_sections
from emseg.ecs.quantify import gap_width_map, quantify_ecs

__all__ = ["plot_ecs", "plot_weight_map", "plot_ecs_prediction"]


def plot_ecs(mask, path=None, *, voxel_size, image=None, stats=None, z=None, title="ECS",
             overwrite=False):
    """One figure of the ECS measures: section with skeleton widths, fraction per
    section, gap-width and component-size histograms.

    Parameters
    ----------
    mask : array_like
        Binary ECS mask (y, x) or (z, y, x).
    path : str or Path, optional
        Save the figure there (PNG, atomically) and return the path; otherwise return
        the figure.
    voxel_size : tuple of float
        As for :func:`quantify_ecs`.
    image : array_like, optional
        The EM image (same shape) to show under the mask outline.
    stats : dict, optional
        :func:`quantify_ecs` of ``mask`` (computed when not given).
    z : int, optional
        Section to show (default: the middle one).
    overwrite : bool
        Replace an existing ``path``.
    """
    from matplotlib.ticker import MaxNLocator

    from emseg.plot import finish_figure, new_figure

    arr = check_mask(mask)
    if image is not None and np.shape(image) != arr.shape:
        raise ValueError(f"image shape {np.shape(image)} does not match the mask shape {arr.shape}")
    stats = quantify_ecs(arr, voxel_size=voxel_size) if stats is None else stats
    secs = as_sections(arr)
    k = len(secs) // 2 if z is None else int(z)
    if not 0 <= k < len(secs):
        raise ValueError(f"z must be in 0..{len(secs) - 1}, got {z}")
    vs = (stats["voxel_size"][1], stats["voxel_size"][2])
    widths = gap_width_map(secs[k], voxel_size=vs)
    fig, axes = new_figure(path, nrows=1, ncols=4, figsize=(14, 3.6),
                        gridspec_kw={"width_ratios": [1.5, 1, 1, 1]})
    ax = axes[0]
    if image is not None:
        ax.imshow(as_sections(np.asarray(image))[k], cmap="gray")
        ax.contour(secs[k], levels=[0.5], colors="c", linewidths=0.5)
    else:
        ax.imshow(secs[k], cmap="gray")
    sk = ax.imshow(np.ma.masked_invalid(widths), cmap="plasma", interpolation="nearest")
    fig.colorbar(sk, ax=ax, fraction=0.046, label="gap width (nm)")
    ax.set_title(f"section z={k}: ECS skeleton", fontsize=9)
    ax.set_axis_off()
    axes[1].plot(np.arange(len(secs)), stats["slice_fraction"], "o-")
    axes[1].axhline(stats["volume_fraction"], ls="--", c="gray", label="volume")
    axes[1].set(title="ECS fraction per section", xlabel="z", ylabel="area fraction")
    axes[1].xaxis.set_major_locator(MaxNLocator(integer=True))
    axes[1].legend(fontsize=8)
    w = stats["gap_width_nm"][np.isfinite(stats["gap_width_nm"])]
    if len(w):
        axes[2].hist(w, bins=40, color="C1")
        axes[2].axvline(np.median(w), c="k", ls="--", lw=1, label=f"median {np.median(w):.0f} nm")
        axes[2].legend(fontsize=8)
    axes[2].set(title="local gap width", xlabel="width (nm)", ylabel="skeleton pixels")
    areas = stats["component_areas_um2"]
    if len(areas):
        wide = areas.max() > 10 * areas.min()     # a log axis only over a decade or more
        bins = np.logspace(np.log10(areas.min()), np.log10(areas.max()) + 1e-9, 30) if wide else 30
        axes[3].hist(areas, bins=bins, color="C2")
        if wide:
            axes[3].set_xscale("log")
    axes[3].set(title="components per section", xlabel="area (µm²)", ylabel="count")
    return finish_figure(fig, path, title=title, overwrite=overwrite)


def plot_weight_map(image, mask, path=None, *, weights=None, classes=None,
                    title="Shape-aware weights", overwrite=False):
    """ECS-Net's shape-aware weight map of one section: image, mask, pixel classes, weights.

    Parameters
    ----------
    image, mask : array_like
        One (y, x) section and its binary ECS mask.
    path : str or Path, optional
        Save the figure (PNG) and return the path; otherwise return the figure.
    weights, classes : array_like, optional
        :func:`emseg.losses.shape_weight_map` of ``mask`` (``return_classes=True``);
        computed when not given.
    overwrite : bool
        Replace an existing ``path``.
    """
    from matplotlib.colors import ListedColormap

    from emseg.data.weights import SHAPE_CLASSES, shape_weight_map
    from emseg.plot import finish_figure, new_figure

    m = check_mask(mask, ndim=(2,))
    if np.shape(image) != m.shape:
        raise ValueError(f"image shape {np.shape(image)} does not match the mask shape {m.shape}")
    if weights is None or classes is None:
        weights, classes = shape_weight_map(m, return_classes=True)
    fig, axes = new_figure(path, nrows=1, ncols=4, figsize=(15, 4))
    axes[0].imshow(image, cmap="gray")
    axes[0].set_title("image", fontsize=9)
    axes[1].imshow(m, cmap="gray")
    axes[1].set_title("ECS mask (white)", fontsize=9)
    cmap = ListedColormap(["#202020", "#ff7f0e", "#1f77b4", "#2ca02c"])
    im = axes[2].imshow(classes, cmap=cmap, vmin=-0.5, vmax=3.5, interpolation="nearest")
    cb = fig.colorbar(im, ax=axes[2], fraction=0.046, ticks=range(4))
    cb.ax.set_yticklabels(SHAPE_CLASSES, fontsize=8)
    axes[2].set_title("pixel classes", fontsize=9)
    im = axes[3].imshow(weights, cmap="magma", interpolation="nearest")
    fig.colorbar(im, ax=axes[3], fraction=0.046, label="S (training weight 1 + S)")
    axes[3].set_title("shape weight S", fontsize=9)
    for ax in axes:
        ax.set_axis_off()
    return finish_figure(fig, path, title=title, overwrite=overwrite)


# the error map of plot_ecs_prediction: true positives, false positives, false negatives
_ERROR_COLOURS = (((1.0, 1.0, 1.0), "ECS found (true positive)"),
                  ((1.0, 0.3, 0.3), "false ECS (false positive)"),
                  ((0.3, 0.6, 1.0), "missed ECS (false negative)"))


def plot_ecs_prediction(image, true, probability, path=None, *, z=None, threshold=0.5,
                        crop=None, title="ECS prediction", overwrite=False):
    """Image, ground truth, ECS probability and the errors of the thresholded prediction.

    Parameters
    ----------
    image, true, probability : array_like
        (y, x) or (z, y, x): the image, the binary ECS mask, the ECS probability.
    path : str or Path, optional
        Save the figure (PNG) and return the path; otherwise return the figure.
    z : int, optional
        Section to show (default: the middle one).
    threshold : float
        Probability above which a pixel is ECS.
    crop : tuple of int, optional
        Show only the first (y, x) pixels (details of a large section).
    overwrite : bool
        Replace an existing ``path``.
    """
    from emseg.plot import finish_figure, new_figure

    t = as_sections(check_mask(true, name="true"))
    p = as_sections(np.asarray(probability, dtype=np.float32))
    img = as_sections(np.asarray(image))
    if p.shape != t.shape or img.shape != t.shape:
        raise ValueError(f"image {img.shape}, true {t.shape} and probability {p.shape} must have "
                         f"the same shape")
    k = len(t) // 2 if z is None else int(z)
    if not 0 <= k < len(t):
        raise ValueError(f"z must be in 0..{len(t) - 1}, got {z}")
    box = (slice(None), slice(None)) if crop is None else (slice(0, int(crop[0])), slice(0, int(crop[1])))
    ti, pi, ii = t[k][box], p[k][box], img[k][box]
    pred = pi > threshold
    errors = np.zeros(ti.shape + (3,), np.float32)  # true negatives stay black
    for where, (rgb, _) in zip((ti & pred, ~ti & pred, ti & ~pred), _ERROR_COLOURS):
        errors[where] = rgb
    fig, axes = new_figure(path, nrows=1, ncols=4, figsize=(15, 4))
    axes[0].imshow(ii, cmap="gray")
    axes[0].set_title(f"image (z={k})", fontsize=9)
    axes[1].imshow(ti, cmap="gray")
    axes[1].set_title("ground truth ECS", fontsize=9)
    im = axes[2].imshow(pi, cmap="viridis", vmin=0, vmax=1)
    fig.colorbar(im, ax=axes[2], fraction=0.046, label="ECS probability")
    axes[2].set_title("probability", fontsize=9)
    axes[3].imshow(errors, interpolation="nearest")
    axes[3].set_title(f"errors at p > {threshold}", fontsize=9)
    for ax in axes:
        ax.set_axis_off()
    from matplotlib.patches import Patch
    fig.legend(handles=[Patch(facecolor=rgb, edgecolor="#666666", label=n)
                        for rgb, n in (*_ERROR_COLOURS, ((0, 0, 0), "background, correct"))],
               loc="outside lower center", ncol=4, fontsize=8, frameon=False)
    return finish_figure(fig, path, title=title, overwrite=overwrite)
