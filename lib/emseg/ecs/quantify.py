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

from emseg.atomic import atomic_path, check_output
from emseg._validate import check_mask
from emseg.ecs._common import as_sections, voxel_size_zyx

__all__ = ["area_fraction", "gap_width_map", "skeleton_length", "component_stats",
           "quantify_ecs", "write_ecs_csv", "CSV_COLUMNS"]

CSV_COLUMNS = ("z", "ecs_fraction", "ecs_area_um2", "section_area_um2", "skeleton_length_um",
               "length_density_per_um", "gap_width_mean_nm", "gap_width_median_nm",
               "n_components")


def area_fraction(mask):
    """ECS area fraction of each section, (z,) float64 ((1,) for a 2D mask).

    Examples
    --------
    >>> area_fraction(np.array([[0, 1], [1, 1]], bool))
    array([0.75])
    """
    m = as_sections(check_mask(mask))
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
    _, py, px = voxel_size_zyx(voxel_size, arr.ndim)
    out = np.full(as_sections(arr).shape, np.nan, np.float32)
    for z, fg in enumerate(as_sections(arr)):
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
    _, py, px = voxel_size_zyx(voxel_size, arr.ndim)
    return np.array([_path_length(_skeleton(fg), py, px) for fg in as_sections(arr)]) / 1000.0


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
    vz, py, px = voxel_size_zyx(voxel_size, arr.ndim)
    counts, areas, where, share = [], [], [], []
    for z, fg in enumerate(as_sections(arr)):
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
    vz, py, px = voxel_size_zyx(voxel_size, arr.ndim)
    secs = as_sections(arr)
    widths = gap_width_map(arr, voxel_size=(py, px) if arr.ndim == 2 else (vz, py, px))
    widths = as_sections(widths)
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
