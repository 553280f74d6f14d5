"""Quantify the extracellular space (ECS) in a binary segmentation.

What ECS-Net's segmentation is for: how much ECS there is, how wide its gaps are,
how long its network is and how it is connected::

    stats = quantify_ecs(mask, voxel_size=(50.0, 9.0, 9.0))   # (z, y, x) nm
    stats["volume_fraction"], np.median(stats["gap_width_nm"])
    write_ecs_csv("ecs.csv", stats)
    plot_ecs(mask, "ecs.png", voxel_size=(50.0, 9.0, 9.0), image=image)

Measures are taken per 2D section (y, x), as ECS-Net segments sections; a (y, x)
mask is one section. Units: nm for widths, um for lengths, um^2 and um^3 for areas
and volumes, from ``voxel_size`` (nm, (z, y, x) or (y, x) for 2D masks).

* **Area / volume fraction**: ECS pixels / all pixels, per section and overall.
* **Local gap width**: at each pixel of the ECS skeleton (``skimage`` thinning),
  twice the distance to the nearest non-ECS pixel edge. The distance is measured
  on the mask up-sampled 2x (nearest), so that pixel edges are sample points: a
  straight band exactly ``w`` pixels wide measures ``w`` pixels, for odd and even
  ``w``. Sections cut a sheet obliquely, so in-plane widths overestimate the 3D
  sheet width by ``1 / cos(tilt)``. Skeleton pixels inside wide lakes measure the
  lake's width: the distribution is of local widths along the ECS network.
* **Skeleton length**: the sum of the distances between 8-connected skeleton
  pixel centres (a diagonal step counts only where no axial path joins the two
  pixels); length density = length / section area.
* **Connected components**: 8-connected in a section, 26-connected (all
  neighbours, z included) in a volume.
"""
import csv
import io
from pathlib import Path

import numpy as np
from scipy import ndimage as ndi

from emseg._atomic import atomic_path, check_output
from emseg._validate import check_mask

__all__ = ["check_mask", "area_fraction", "gap_width_map", "skeleton_length",
           "component_stats", "quantify_ecs", "write_ecs_csv", "plot_ecs", "plot_weight_map",
           "plot_ecs_prediction", "write_results", "CSV_COLUMNS"]

CSV_COLUMNS = ("z", "ecs_fraction", "ecs_area_um2", "section_area_um2", "skeleton_length_um",
               "length_density_per_um", "gap_width_mean_nm", "gap_width_median_nm",
               "n_components")


# --------------------------------------------------------------------------- checks

def _voxel_size(voxel_size, ndim):
    """(vz, vy, vx) in nm; vz is None for a (y, x) voxel size of a 2D mask."""
    vs = np.atleast_1d(np.asarray(voxel_size, dtype=float)) if voxel_size is not None else None
    if vs is None or vs.ndim != 1 or len(vs) not in (2, 3) or not np.all(np.isfinite(vs)) \
            or np.any(vs <= 0):
        raise ValueError(f"voxel_size must be positive sizes in nm, (z, y, x) or (y, x) for a 2D "
                         f"mask, got {voxel_size!r}")
    if len(vs) == 2:
        if ndim == 3:
            raise ValueError(f"a (z, y, x) mask needs a (z, y, x) voxel_size, got {voxel_size!r}")
        return None, float(vs[0]), float(vs[1])
    return float(vs[0]), float(vs[1]), float(vs[2])


def _sections(mask):
    return mask[None] if mask.ndim == 2 else mask


# --------------------------------------------------------------------------- measures

def area_fraction(mask):
    """ECS area fraction of each section, (z,) float64 ((1,) for a 2D mask).

    Examples
    --------
    >>> area_fraction(np.array([[0, 1], [1, 1]], bool))
    array([0.75])
    """
    m = _sections(check_mask(mask))
    return m.reshape(len(m), -1).mean(axis=1)


def gap_width_map(mask, *, voxel_size):
    """Local gap width (nm) at the ECS skeleton pixels, NaN elsewhere.

    Parameters
    ----------
    mask : array_like
        Binary ECS mask (y, x) or (z, y, x); measured section by section.
    voxel_size : tuple of float
        (z, y, x) or, for a 2D mask, (y, x) in nm.

    Returns
    -------
    numpy.ndarray
        float32 of the mask's shape: the width at each skeleton pixel, NaN off the
        skeleton. The widths are ``gap_width_map(...)[skeleton]`` or ``w[~np.isnan(w)]``.

    Examples
    --------
    >>> m = np.zeros((20, 20), bool); m[:, 8:12] = True     # a 4-px band
    >>> w = gap_width_map(m, voxel_size=(9.0, 9.0))
    >>> float(np.nanmedian(w))
    36.0
    """
    arr = check_mask(mask)
    _, py, px = _voxel_size(voxel_size, arr.ndim)
    out = np.full(_sections(arr).shape, np.nan, np.float32)
    for z, fg in enumerate(_sections(arr)):
        skel = _skeleton(fg)
        if skel.any():
            out[z][skel] = _width_at(fg, py, px)[skel]
    return out[0] if arr.ndim == 2 else out


def _skeleton(fg):
    from skimage.morphology import skeletonize
    return skeletonize(fg) if fg.any() else np.zeros_like(fg)


def _width_at(fg, py, px):
    """2 x the distance to the nearest pixel EDGE of the background, at every pixel.

    On the 2x up-sampled mask, pixel edges lie between sample points; the largest
    distance over a pixel's 2 x 2 sub-pixels is its distance to the background edge
    (exact for straight bands)."""
    up = np.repeat(np.repeat(fg, 2, axis=0), 2, axis=1)
    if up.all():  # no background in the section: the width is not defined
        return np.full(fg.shape, np.inf)
    dist = ndi.distance_transform_edt(up, sampling=(py / 2, px / 2))
    return 2 * dist.reshape(fg.shape[0], 2, fg.shape[1], 2).max(axis=(1, 3))


def skeleton_length(mask, *, voxel_size):
    """Length (um) of the ECS skeleton in each section, (z,) float64.

    The sum of the centre-to-centre distances of 8-connected skeleton pixels; a
    diagonal step is not counted where two axial steps already join its pixels.

    Examples
    --------
    >>> m = np.zeros((5, 12), bool); m[2, 1:11] = True      # a 10-px line
    >>> skeleton_length(m, voxel_size=(5.0, 5.0))           # 9 steps of 5 nm
    array([0.045])
    """
    arr = check_mask(mask)
    _, py, px = _voxel_size(voxel_size, arr.ndim)
    return np.array([_path_length(_skeleton(fg), py, px) for fg in _sections(arr)]) / 1000.0


def _path_length(s, py, px):
    """Length (nm) of a thin 8-connected pixel set."""
    horizontal = np.count_nonzero(s[:, :-1] & s[:, 1:])
    vertical = np.count_nonzero(s[:-1, :] & s[1:, :])
    a, b, c, d = s[:-1, :-1], s[:-1, 1:], s[1:, :-1], s[1:, 1:]   # 2 x 2 block corners
    diagonal = np.count_nonzero(a & d & ~(b | c)) + np.count_nonzero(b & c & ~(a | d))
    return horizontal * px + vertical * py + diagonal * float(np.hypot(py, px))


def component_stats(mask, *, voxel_size):
    """Connected components of the ECS: per section (8-connected) and, for a volume,
    in 3D (26-connected).

    Returns
    -------
    dict
        ``n_components`` (z,) int per section; ``component_areas_um2``: the areas of all
        section components (all sections, ordered by section, then label);
        ``component_slice``: the section of each; ``largest_component_share`` (z,):
        the largest component's share of the section's ECS (NaN without ECS). For
        a (z, y, x) mask also ``n_components_3d``, ``component_volumes_um3`` and
        ``largest_component_share_3d``; for a 2D mask these are None.

    Examples
    --------
    >>> m = np.zeros((6, 6), bool); m[0, 0] = m[1, 1] = m[4, 4] = True
    >>> component_stats(m, voxel_size=(1000.0, 1000.0))["n_components"]
    array([2])
    """
    arr = check_mask(mask)
    vz, py, px = _voxel_size(voxel_size, arr.ndim)
    counts, areas, where, share = [], [], [], []
    for z, fg in enumerate(_sections(arr)):
        lab, n = ndi.label(fg, structure=np.ones((3, 3), bool))
        sizes = np.bincount(lab.ravel(), minlength=n + 1)[1:]
        counts.append(n)
        areas.append(sizes * py * px / 1e6)
        where.append(np.full(n, z))
        share.append(sizes.max() / sizes.sum() if n else np.nan)
    out = {"n_components": np.array(counts, dtype=np.int64),
           "component_areas_um2": np.concatenate(areas).astype(float),
           "component_slice": np.concatenate(where).astype(np.int64),
           "largest_component_share": np.array(share, dtype=float),
           "n_components_3d": None, "component_volumes_um3": None,
           "largest_component_share_3d": None}
    if arr.ndim == 3:
        lab, n = ndi.label(arr, structure=np.ones((3, 3, 3), bool))
        sizes = np.bincount(lab.ravel(), minlength=n + 1)[1:]
        out.update(n_components_3d=int(n), component_volumes_um3=sizes * vz * py * px / 1e9,
                   largest_component_share_3d=float(sizes.max() / sizes.sum()) if n else float("nan"))
    return out


def quantify_ecs(mask, *, voxel_size):
    """Every ECS measure of a binary mask, as plain numbers and numpy arrays.

    Parameters
    ----------
    mask : array_like
        Binary ECS mask, (y, x) (one section) or (z, y, x).
    voxel_size : tuple of float
        Voxel size in nm, (z, y, x); (y, x) is accepted for a 2D mask.

    Returns
    -------
    dict
        * ``volume_fraction``: ECS voxels / all voxels (float);
        * ``slice_fraction``, ``ecs_area_um2``, ``skeleton_length_um``,
          ``length_density_per_um`` (skeleton length / section area),
          ``gap_width_mean_nm``, ``gap_width_median_nm``: per section, (z,);
        * ``section_area_um2`` (float), ``length_density_per_um_all`` (total length /
          total area);
        * ``gap_width_nm``: the local widths at all skeleton pixels, and
          ``gap_width_slice``: their sections; summaries ``gap_width_mean_nm_all``,
          ``gap_width_median_nm_all``, ``gap_width_p10_nm``, ``gap_width_p90_nm``
          (NaN without ECS);
        * the keys of :func:`component_stats`;
        * ``shape`` and ``voxel_size`` (nm, z is None for a (y, x) voxel size).

    Examples
    --------
    >>> m = np.zeros((2, 30, 30), bool); m[:, :, 10:13] = True     # 3-px sheets
    >>> s = quantify_ecs(m, voxel_size=(50.0, 10.0, 10.0))
    >>> s["volume_fraction"], float(s["gap_width_median_nm_all"]), s["n_components_3d"]
    (0.1, 30.0, 1)
    """
    arr = check_mask(mask)
    vz, py, px = _voxel_size(voxel_size, arr.ndim)
    secs = _sections(arr)
    widths = gap_width_map(arr, voxel_size=(py, px) if arr.ndim == 2 else (vz, py, px))
    widths = _sections(widths)
    fraction = secs.reshape(len(secs), -1).mean(axis=1)
    section_area = secs[0].size * py * px / 1e6
    length = np.array([_path_length(_skeleton(fg), py, px) for fg in secs]) / 1000.0
    samples = [w[~np.isnan(w)] for w in widths]
    all_w = np.concatenate(samples).astype(float)
    finite = all_w[np.isfinite(all_w)]

    def stat(f, values):
        values = values[np.isfinite(values)]
        return float(f(values)) if len(values) else float("nan")

    out = {
        "shape": tuple(arr.shape), "voxel_size": (vz, py, px),
        "volume_fraction": float(arr.mean()),
        "slice_fraction": fraction,
        "section_area_um2": float(section_area),
        "ecs_area_um2": fraction * section_area,
        "skeleton_length_um": length,
        "length_density_per_um": length / section_area,
        "length_density_per_um_all": float(length.sum() / (section_area * len(secs))),
        "gap_width_nm": all_w,
        "gap_width_slice": np.concatenate([np.full(len(s), z) for z, s in enumerate(samples)]
                                          ).astype(np.int64),
        "gap_width_mean_nm": np.array([stat(np.mean, s) for s in samples]),
        "gap_width_median_nm": np.array([stat(np.median, s) for s in samples]),
        "gap_width_mean_nm_all": stat(np.mean, finite),
        "gap_width_median_nm_all": stat(np.median, finite),
        "gap_width_p10_nm": float(np.percentile(finite, 10)) if len(finite) else float("nan"),
        "gap_width_p90_nm": float(np.percentile(finite, 90)) if len(finite) else float("nan"),
    }
    out.update(component_stats(arr, voxel_size=(py, px) if arr.ndim == 2 else (vz, py, px)))
    return out


# --------------------------------------------------------------------------- output

def write_ecs_csv(path, stats, *, overwrite=False):
    """Write the per-section measures of :func:`quantify_ecs` as CSV, atomically.

    One row per section (``z`` = 0, 1, ...) and a last row ``z = all`` for the whole
    mask (its ``n_components`` counts 3D components for a volume); columns
    :data:`CSV_COLUMNS`; empty cells where a value is undefined (no ECS). Returns the path.
    An existing file is replaced only with ``overwrite=True``.
    """
    per_section = {"ecs_fraction": "slice_fraction", "ecs_area_um2": "ecs_area_um2",
                   "skeleton_length_um": "skeleton_length_um",
                   "length_density_per_um": "length_density_per_um",
                   "gap_width_mean_nm": "gap_width_mean_nm",
                   "gap_width_median_nm": "gap_width_median_nm"}
    needed = list(per_section.values()) + ["n_components", "section_area_um2", "volume_fraction"]
    missing = [k for k in needed if k not in stats]
    if missing:
        raise ValueError(f"stats lacks {missing}; pass the dict returned by quantify_ecs")
    check_output(path, overwrite=overwrite)

    def fmt(v):
        return "" if v is None or np.isnan(v) else f"{float(v):.6g}"

    n = len(stats["slice_fraction"])
    rows = []
    for z in range(n):
        row = {"z": z, "section_area_um2": fmt(stats["section_area_um2"]),
               "n_components": int(stats["n_components"][z])}
        row.update({col: fmt(stats[key][z]) for col, key in per_section.items()})
        rows.append(row)
    n3 = stats.get("n_components_3d")
    rows.append({"z": "all", "ecs_fraction": fmt(stats["volume_fraction"]),
                 "ecs_area_um2": fmt(np.sum(stats["ecs_area_um2"])),
                 "section_area_um2": fmt(stats["section_area_um2"] * n),
                 "skeleton_length_um": fmt(np.sum(stats["skeleton_length_um"])),
                 "length_density_per_um": fmt(stats["length_density_per_um_all"]),
                 "gap_width_mean_nm": fmt(stats["gap_width_mean_nm_all"]),
                 "gap_width_median_nm": fmt(stats["gap_width_median_nm_all"]),
                 "n_components": int(n3) if n3 is not None else int(np.sum(stats["n_components"]))})
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=CSV_COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    with atomic_path(path) as tmp:
        tmp.write_text(buf.getvalue())
    return Path(path)


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
    secs = _sections(arr)
    k = len(secs) // 2 if z is None else int(z)
    if not 0 <= k < len(secs):
        raise ValueError(f"z must be in 0..{len(secs) - 1}, got {z}")
    vs = (stats["voxel_size"][1], stats["voxel_size"][2])
    widths = gap_width_map(secs[k], voxel_size=vs)
    fig, axes = new_figure(path, nrows=1, ncols=4, figsize=(14, 3.6),
                        gridspec_kw={"width_ratios": [1.5, 1, 1, 1]})
    ax = axes[0]
    if image is not None:
        ax.imshow(_sections(np.asarray(image))[k], cmap="gray")
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

    t = _sections(check_mask(true, name="true"))
    p = _sections(np.asarray(probability, dtype=np.float32))
    img = _sections(np.asarray(image))
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


def write_results(folder, probability, *, threshold=0.5, name="ecs", overwrite=False):
    """Save an ECS probability map and its thresholded labels as TIFFs (atomic writes).

    The counterpart of the original's ``result/`` folder: ``<name>_probability.tif``
    (float32, 0..1; the original wrote 8-bit PNGs of 255 x p per tile) and
    ``<name>_labels.tif`` (uint8, 1 = ECS where ``p > threshold``, else 0).

    Parameters
    ----------
    folder : str or Path
        Output folder (created if missing).
    probability : array_like
        ECS probability, (y, x) or (z, y, x), values in [0, 1]; or the (2, z, y, x)
        output of ``emseg.infer.predict`` with an ECSNet (class 1 is used). For a 2D
        prediction, pass ``predict(...)[1]``.
    threshold : float
        Probability above which a pixel is ECS (original: 0.5).
    name : str
        File name prefix.
    overwrite : bool
        Replace an existing file (by default an existing file is refused:
        nothing you made is replaced unless you ask).

    Returns
    -------
    dict
        ``{"probability": Path, "labels": Path}``.
    """
    from emseg.data.io import write_volume

    p = np.asarray(probability)
    if p.ndim == 4:
        if p.shape[0] != 2:
            raise ValueError(f"a 4D probability must be predict's (2, z, y, x) output, got {p.shape}")
        p = p[1]
    if p.ndim not in (2, 3) or p.size == 0 or not np.issubdtype(p.dtype, np.floating):
        raise ValueError(f"probability must be a float (y, x) or (z, y, x) ECS probability map, "
                         f"got dtype {p.dtype} and shape {p.shape}")
    if not np.all(np.isfinite(p)) or p.min() < 0 or p.max() > 1:
        raise ValueError("probability values must lie in [0, 1] (apply a sigmoid/softmax first)")
    if not 0 < threshold < 1:
        raise ValueError(f"threshold must be in (0, 1), got {threshold!r}")
    if not isinstance(name, str) or not name or "/" in name or "\\" in name:
        raise ValueError(f"name must be a plain file-name prefix, got {name!r}")
    folder = Path(folder)
    paths = {"probability": folder / f"{name}_probability.tif", "labels": folder / f"{name}_labels.tif"}
    for path in paths.values():  # refuse before writing either file
        check_output(path, overwrite=overwrite)
    write_volume(paths["probability"], p.astype(np.float32, copy=False), overwrite=overwrite)
    write_volume(paths["labels"], (p > threshold).astype(np.uint8), overwrite=overwrite)
    return paths
