"""Synthetic brain tissue with extracellular space (ECS): exact ground truth for ECS-Net.

A cryo-fixed-EM-like section (or small stack) of densely packed cell profiles
(neurites, boutons, glia) separated by thin, tortuous extracellular gaps, with
occasional wider "lakes" where several cells meet; the ground truth is the binary
ECS mask::

    vol = ecs_phantom((256, 256), seed=0, ecs_fraction=0.15, gap_width=40.0)
    vol.image.shape, vol.labels.shape       # (1, 256, 256): one section
    stack = ecs_phantom((8, 128, 128), seed=1)

Geometry (:func:`ecs_phantom_labels`), in physical units (nm):

* **Cells** are the cells of a power (Laguerre) diagram of seeds thrown as
  non-overlapping discs/balls of log-normally varied radii, so profile sizes vary
  by about 2x like neurites of different calibres. The coordinates are first
  displaced by a smooth random field, which makes the cell walls curved and the
  gaps tortuous. A 2D shape gives 2D cells; a (z, y, x) shape gives 3D cells
  sectioned every ``voxel_size[0]`` nm.
* **Thin gaps**: every wall between two cells is widened into a sheet of local
  width ``gap_width x exp(0.3 n)`` (``n`` a smooth unit Gaussian field), so the
  median sheet width is ``gap_width``.
* **Lakes**: where several cells meet (pixels close to two walls at once), a
  sparse random field opens wider spaces; ``lake_share`` of the ECS is in lakes.
* **Volume fraction and gap width**: the ECS voxels are the thinnest-ranked sheet
  voxels, ``(1 - lake_share) x ecs_fraction`` of the volume, then the lake voxels, so
  the ECS fraction equals ``ecs_fraction`` to within one voxel. The mean cell size
  follows from the fraction and the width (thinner gaps or more ECS: smaller cells):
  the scale-free pattern is zoomed until the sheets' median width is ``gap_width``.
  On 2D fields a few cells across, the median local width measured by
  :func:`emseg.ecs.quantify_ecs` is within about 20 % of ``gap_width`` (mostly a
  little below: pixelation and skeleton ends); with only one or two cells in view,
  or in thin stacks, it can be further off.

Image (:func:`render_ecs_image`), a TEM-like contrast of cryo-fixed, freeze-
substituted tissue: cytoplasm mid-grey with a fine granular texture and a
per-cell tone; ECS lighter with a faint fluffy matrix texture; dark cell
membranes on both sides of every gap (and between touching cells); organelles
inside cells, clear of every cell edge: clusters of synaptic vesicles
(~40 nm rings) in some profiles, mitochondria (dark, with cristae) in others.
Then a slight blur, an unsharp-mask fringe (like defocus phase contrast),
uneven illumination and per-section gain drift, Poisson shot noise and Gaussian
read noise. ECS and cytoplasm intensities overlap: the membranes and the shapes,
not the grey level, separate them.
"""
import numpy as np
from scipy import ndimage as ndi
from scipy.spatial import cKDTree

from emseg._validate import check_labels
from emseg.data._volume import Volume, zscore

__all__ = ["ecs_phantom", "ecs_phantom_labels", "render_ecs_image", "ECS_VOXEL_SIZE"]

ECS_VOXEL_SIZE = (50.0, 9.0, 9.0)   # (z, y, x) nm: 9 nm pixels as ECS-Net's data, 50 nm sections
_WIDTH_SPREAD = 0.3                 # log-normal spread of the local sheet width
_LAKE_SPREAD = 1.0                  # log-normal spread of the lake field: a few big lakes
_LAKE_REACH = 0.3                   # lakes lie within 0.3 cells of a junction
_CHUNK = 131072                     # pixels per k-d tree query
_MIN_ZOOM = 0.5                     # cell sizes from 0.5 to 2 x the first estimate


# --------------------------------------------------------------------------- checks

def _check_shape(shape):
    ok = isinstance(shape, (tuple, list)) and len(shape) in (2, 3) and all(
        isinstance(s, (int, np.integer)) and not isinstance(s, bool) for s in shape)
    if not ok or min(shape[-2:]) < 32 or shape[0] < 1:
        raise ValueError(f"shape must be (y, x) or (z, y, x) with y, x >= 32 and z >= 1, got {shape!r}")
    return tuple(int(s) for s in shape)


def _check_voxel_size(voxel_size):
    vs = np.asarray(voxel_size, dtype=float) if voxel_size is not None else None
    if vs is None or vs.shape != (3,) or not np.all(np.isfinite(vs)) or np.any(vs <= 0):
        raise ValueError(f"voxel_size must be three positive sizes (z, y, x) in nm, got {voxel_size!r}")
    return vs


def _check_fraction(value, name, lo, hi, *, include_lo=False):
    ok = not isinstance(value, bool) and np.isscalar(value) and np.isfinite(value) and \
        (lo <= value if include_lo else lo < value) and value <= hi
    if not ok:
        raise ValueError(f"{name} must be a number in {'[' if include_lo else '('}{lo}, {hi}], "
                         f"got {value!r}")
    return float(value)


def _check_seed(seed):
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed must be an integer >= 0, got {seed!r}")
    return int(seed)


# --------------------------------------------------------------------------- geometry

def ecs_phantom_labels(shape, *, seed=0, voxel_size=ECS_VOXEL_SIZE, ecs_fraction=0.15,
                       gap_width=40.0, lake_share=0.2, return_cells=False):
    """Binary ECS ground truth of a synthetic tissue section or stack.

    Parameters
    ----------
    shape : tuple of int
        (y, x) for one section or (z, y, x) for a stack; y, x >= 32.
    seed : int
        Seed; the same arguments give identical arrays.
    voxel_size : tuple of float
        (z, y, x) in nm (z only matters for stacks). Default 50 x 9 x 9 nm.
    ecs_fraction : float
        ECS volume fraction, in (0, 0.5] (cryo-fixed brain: ~0.15-0.2; chemically
        fixed: a few %). Honoured to within one voxel.
    gap_width : float
        Median width (nm) of the thin gaps (brain: ~20-60 nm); at least one pixel.
        In sections of a stack, obliquely cut sheets look wider than this.
    lake_share : float
        Share of the ECS in lakes, in [0, 0.9].
    return_cells : bool
        Also return the cell id of every voxel (int32, 1..n; ECS voxels keep the id
        of the cell whose wall they widen), which the renderer uses.

    Returns
    -------
    numpy.ndarray or tuple
        uint8 mask of ``shape`` (1 = ECS), and the cell ids if asked.

    Examples
    --------
    >>> m = ecs_phantom_labels((64, 64), seed=0, ecs_fraction=0.2)
    >>> m.shape, m.dtype.name, round(float(m.mean()), 3)
    ((64, 64), 'uint8', 0.2)
    """
    shape = _check_shape(shape)
    vs = _check_voxel_size(voxel_size)
    seed = _check_seed(seed)
    fraction = _check_fraction(ecs_fraction, "ecs_fraction", 0.0, 0.5)
    lake_share = _check_fraction(lake_share, "lake_share", 0.0, 0.9, include_lo=True)
    if isinstance(gap_width, bool) or not np.isscalar(gap_width) or not np.isfinite(gap_width) \
            or gap_width < min(vs[1:]):
        raise ValueError(f"gap_width must be a number of nm >= one pixel ({min(vs[1:])} nm), "
                         f"got {gap_width!r}")
    spatial = shape if len(shape) == 3 else (1,) + shape
    nd = len(shape)
    pts = _coords(spatial, vs)[:, 3 - nd:]
    sheet_fraction = (1.0 - lake_share) * fraction
    # first estimate of the mean cell size: boundary density ~ c / size (c ~ 1.9 in 2D,
    # 2.9 in 3D for random tessellations). The pattern is scale-free (cell size 1), so
    # zooming it changes only its boundary density in view. Up to three zoom corrections
    # bring the median width of the walls in view to ``gap_width`` (few cells in view
    # make this converge less well; the best zoom tried is kept).
    first = (1.9 if nd == 2 else 2.9) * gap_width / sheet_fraction
    extent = pts.max(axis=0) + vs[3 - nd:]
    pattern = _Pattern(extent / (first * _MIN_ZOOM), nd, seed)
    size, best = first, None
    for attempt in range(4):
        geo = pattern.evaluate(pts / size)
        error = _width_error(geo, gap_width / size, sheet_fraction)
        if best is None or abs(np.log(error)) < abs(np.log(best[0])):
            best = (error, size, geo)
        if abs(error - 1.0) < 0.05:
            break
        size = float(np.clip(size / error, _MIN_ZOOM * first, 2.0 * first))
    _, size, geo = best
    mask = _select_ecs(geo, gap_width / size, fraction, sheet_fraction)
    mask = mask.reshape(shape).astype(np.uint8)
    return (mask, geo["cells"].reshape(shape)) if return_cells else mask


def _coords(spatial, vs):
    """Physical (z, y, x) coordinates (nm) of all voxel centres, (N, 3)."""
    axes = [np.arange(n) * v for n, v in zip(spatial, vs)]
    return np.stack(np.meshgrid(*axes, indexing="ij"), axis=-1).reshape(-1, 3)


class _SmoothField:
    """A unit-variance smooth Gaussian random field over [0, extent] (correlation ~ corr)."""

    def __init__(self, extent, corr, rng):
        self.h = corr / 2.0
        shape = tuple(int(np.ceil(e / self.h)) + 9 for e in extent)
        coarse = ndi.gaussian_filter(rng.standard_normal(shape), 2.0, mode="wrap")
        self.coarse = coarse / (coarse.std() + 1e-12)

    def __call__(self, points):
        return ndi.map_coordinates(self.coarse, (points / self.h + 4).T, order=1, mode="nearest")


class _Pattern:
    """Scale-free tissue geometry (mean cell size 1) over [0, extent] in cell units:
    seeds and radii of a power diagram, a warp of the coordinates, and the smooth
    fields that modulate the sheet width and open lakes."""

    def __init__(self, extent, nd, seed):
        rng = np.random.default_rng([seed, 1])
        self.seeds, self.radii = _throw_seeds(extent, nd, rng)
        self.tree = cKDTree(self.seeds)
        # two scales of warp: bent walls (0.6 cells) with wiggles (0.2 cells)
        self.warp = [(_SmoothField(extent, 0.6, rng), _SmoothField(extent, 0.2, rng))
                     for _ in range(nd)]
        self.width = _SmoothField(extent, 1.0, rng)
        self.lake = _SmoothField(extent, 0.4, rng)

    def evaluate(self, u):
        """Cell id and distances (cell units) to the nearest and second-nearest wall, plus
        the width and lake modulations, at points ``u`` (N, nd) in cell units."""
        warped = u + np.stack([0.15 * big(u) + 0.025 * small(u) for big, small in self.warp], axis=1)
        k = min(10, len(self.seeds))
        cells = np.empty(len(u), np.int32)
        b1, b2 = np.empty(len(u)), np.empty(len(u))
        for lo in range(0, len(u), _CHUNK):
            p = warped[lo:lo + _CHUNK]
            rows = np.arange(len(p))
            dist, idx = self.tree.query(p, k=k)
            power = dist ** 2 - self.radii[idx] ** 2
            best = np.argmin(power, axis=1)
            i = idx[rows, best]
            sep = np.linalg.norm(self.seeds[idx] - self.seeds[i][:, None], axis=2)
            with np.errstate(divide="ignore", invalid="ignore"):
                wall = (power - power[rows, best][:, None]) / (2 * sep)  # to each bisector
            wall[idx == i[:, None]] = np.inf
            wall.sort(axis=1)
            cells[lo:lo + len(p)] = i + 1
            b1[lo:lo + len(p)], b2[lo:lo + len(p)] = wall[:, 0], wall[:, 1]
        return {"cells": cells, "b1": b1, "b2": b2,
                "width": np.exp(_WIDTH_SPREAD * self.width(u)),
                "lake": np.exp(_LAKE_SPREAD * self.lake(u))}


def _throw_seeds(extent, nd, rng):
    """Seeds of non-overlapping discs/balls (radii log-normal around 1/2) over the extent
    plus a margin of one cell, by dart throwing."""
    lo, hi = -1.0, np.asarray(extent) + 1.0
    expected = float(np.prod(hi - lo)) / (0.8 if nd == 2 else 0.6)
    n_try = int(min(200000, max(50, 10 * expected)))
    cand = rng.uniform(lo, hi, size=(n_try, nd))
    r = 0.5 * np.exp(0.3 * rng.standard_normal(n_try))
    seeds, radii = np.empty((n_try, nd)), np.empty(n_try)
    n = 0
    for c, rc in zip(cand, r):
        if n == 0 or np.all(np.sum((seeds[:n] - c) ** 2, axis=1) > (0.8 * (radii[:n] + rc)) ** 2):
            seeds[n], radii[n] = c, rc
            n += 1
    return seeds[:n], radii[:n]


def _width_error(geo, gap_width, sheet_fraction):
    """Median width of the walls' sheets over ``gap_width``, once the sheets are scaled to
    make ``sheet_fraction`` (the width field is read on the walls themselves)."""
    ratio = 2 * geo["b1"] / (gap_width * geo["width"])
    k = max(1, int(round(sheet_fraction * len(ratio))))
    scale = float(np.partition(ratio, k - 1)[k - 1])
    on_walls = geo["b1"] < np.quantile(geo["b1"], 0.02)
    return scale * float(np.median(geo["width"][on_walls]))


def _select_ecs(geo, gap_width, fraction, sheet_fraction):
    """Exactly round(fraction N) ECS voxels: the thinnest-ranked sheet voxels, then lakes
    (voxels near two walls, within _LAKE_REACH cells of a junction, ranked by distance
    to the second wall over the lake field); if junctions are too few, wider sheets."""
    n = len(geo["b1"])
    n_ecs = int(round(fraction * n))
    n_sheet = min(n_ecs, int(round(sheet_fraction * n)))
    ratio = 2 * geo["b1"] / (gap_width * geo["width"])
    order = np.argsort(ratio, kind="stable")
    mask = np.zeros(n, bool)
    mask[order[:n_sheet]] = True
    n_lake = n_ecs - n_sheet
    if n_lake > 0:
        near = np.flatnonzero(~mask & (geo["b2"] < _LAKE_REACH))
        score = geo["b2"][near] / geo["lake"][near]
        take = near[np.argsort(score, kind="stable")[:n_lake]]
        mask[take] = True
        missing = n_ecs - int(mask.sum())
        if missing:
            rest = order[n_sheet:]
            mask[rest[~mask[rest]][:missing]] = True
    return mask


# --------------------------------------------------------------------------- rendering

def render_ecs_image(mask, cells, *, seed=0, voxel_size=ECS_VOXEL_SIZE, dose=60.0, read_noise=0.02,
                     blur_nm=6.0, fringe=0.4, gradient=0.15, drift=0.04):
    """Render a TEM-like image of a tissue phantom (see the module docstring).

    Parameters
    ----------
    mask : array_like
        Binary ECS mask, (y, x) or (z, y, x).
    cells : array_like
        Cell ids of the same shape (from ``ecs_phantom_labels(..., return_cells=True)``).
    seed : int
        Seed of the textures, organelles and noise.
    voxel_size : tuple of float
        (z, y, x) nm.
    dose : float
        Electrons per pixel at intensity 1 (Poisson shot noise; lower is noisier).
    read_noise : float
        Standard deviation of additive Gaussian noise.
    blur_nm : float
        In-plane Gaussian blur (nm).
    fringe : float
        Strength of the unsharp-mask edge fringe (defocus-like); 0 turns it off.
    gradient : float
        Peak-to-peak relative illumination gradient across a section.
    drift : float
        Relative gain drift between sections.

    Returns
    -------
    numpy.ndarray
        float32 image of the mask's shape, roughly in [0, 1] (not normalised).
    """
    m = check_labels(mask, name="mask", n_classes=2, ndim=(2, 3)).astype(bool)
    c = check_labels(cells, name="cells", shape=m.shape, ndim=(2, 3))
    vs = _check_voxel_size(voxel_size)
    seed = _check_seed(seed)
    for name, v in (("dose", dose), ("read_noise", read_noise), ("blur_nm", blur_nm),
                    ("fringe", fringe), ("gradient", gradient), ("drift", drift)):
        if isinstance(v, bool) or not np.isscalar(v) or not np.isfinite(v) or v < 0 \
                or (name == "dose" and v == 0):
            bound = "> 0" if name == "dose" else ">= 0"
            raise ValueError(f"{name} must be a finite number {bound}, got {v!r}")
    was_2d = m.ndim == 2
    m, c = (m[None], c[None]) if was_2d else (m, c)
    rng = np.random.default_rng([seed, 2])

    # distance (nm) of each cell voxel to its cell's edge (ECS or another cell), in plane
    edge = m.copy()
    for axis in (1, 2):
        edge |= np.diff(c, axis=axis, prepend=np.take(c, [0], axis=axis)) != 0
        edge |= np.diff(c, axis=axis, append=np.take(c, [-1], axis=axis)) != 0
    edge |= m
    depth = np.stack([ndi.distance_transform_edt(~e, sampling=vs[1:]) if (~e).any()
                      else np.zeros(e.shape) for e in edge])
    # cytoplasm: per-cell tone + granular texture; ECS: lighter, faint fluffy matrix
    n_cells = int(c.max()) + 1
    tone = 0.45 + 0.06 * rng.standard_normal(n_cells)
    img = tone[c].astype(np.float32)
    img += 0.05 * _grid_noise(m.shape, vs, 12.0, rng)
    ecm = 0.58 + 0.03 * _grid_noise(m.shape, vs, 30.0, rng)
    img[m] = ecm[m]
    # organelles (inside cells, clear of every edge), then membranes
    _draw_organelles(img, c, depth, vs, rng)
    cell_px = ~m
    # membrane: a dark line on the cell side, profile by distance to the edge (pixel edge)
    membrane = np.exp(-(np.maximum(depth - 0.5 * min(vs[1:]), 0) / 7.0) ** 2) * cell_px
    img -= 0.3 * membrane.astype(np.float32)
    # optics and acquisition
    sigma = np.array([0.0, blur_nm / vs[1], blur_nm / vs[2]])
    if blur_nm > 0:
        img = ndi.gaussian_filter(img, sigma, mode="nearest")
    if fringe > 0:
        img = img + fringe * (img - ndi.gaussian_filter(img, (0, 20.0 / vs[1], 20.0 / vs[2]),
                                                          mode="nearest"))
    yy = np.linspace(-0.5, 0.5, m.shape[1])[:, None]
    xx = np.linspace(-0.5, 0.5, m.shape[2])[None, :]
    theta = rng.uniform(0, 2 * np.pi)
    illum = 1.0 + gradient * (np.cos(theta) * yy + np.sin(theta) * xx)
    gain = 1.0 + drift * rng.standard_normal(m.shape[0])
    img = img * illum[None] * gain[:, None, None]
    img = rng.poisson(np.clip(img, 0, None) * dose) / dose
    if read_noise > 0:
        img = img + rng.normal(0.0, read_noise, m.shape)
    img = img.astype(np.float32)
    return img[0] if was_2d else img


def _grid_noise(shape, vs, corr, rng):
    """Unit-variance Gaussian noise smoothed in plane by ``corr`` nm (independent sections)."""
    f = ndi.gaussian_filter(rng.standard_normal(shape).astype(np.float32),
                            (0, corr / vs[1], corr / vs[2]))
    return f / (f.std() + 1e-12)


def _draw_organelles(img, cells, depth, vs, rng):
    """Vesicle clusters in ~25 % of the cells, a mitochondrion in ~20 %: drawn section by
    section as discs/ellipses (3D objects would need z-consistent placement; sections
    of a stack are 50 nm apart, about one vesicle diameter, so each section gets its own)."""
    py, px = vs[1], vs[2]
    for z in range(img.shape[0]):
        ids = np.unique(cells[z])
        kinds = rng.random(len(ids))
        for cid, kind in zip(ids, kinds):
            if kind > 0.45:
                continue
            inside = (cells[z] == cid) & (depth[z] > 0)
            if kind < 0.25:
                _vesicles(img[z], inside, depth[z], py, px, rng)
            else:
                _mitochondrion(img[z], inside, depth[z], py, px, rng)


def _vesicles(sec, inside, depth, py, px, rng):
    """A cluster of ~40 nm vesicles: dark ring, slightly light lumen."""
    r_nm = 20.0
    ok = np.flatnonzero(inside & (depth > r_nm + 15.0))
    if len(ok) == 0:
        return
    centre = np.array(np.unravel_index(rng.choice(ok), sec.shape), float)
    spread = rng.uniform(60.0, 140.0)
    for _ in range(rng.integers(6, 25)):
        p = centre + rng.normal(0.0, spread, 2) / (py, px)
        iy, ix = int(round(p[0])), int(round(p[1]))
        if not (0 <= iy < sec.shape[0] and 0 <= ix < sec.shape[1]) or not inside[iy, ix] \
                or depth[iy, ix] <= r_nm + 15.0:
            continue
        ry, rx = int(np.ceil(2 * r_nm / py)), int(np.ceil(2 * r_nm / px))
        y0, y1, x0, x1 = max(iy - ry, 0), min(iy + ry + 1, sec.shape[0]), max(ix - rx, 0), \
            min(ix + rx + 1, sec.shape[1])
        dy, dx = np.mgrid[y0:y1, x0:x1]
        rho = np.hypot((dy - p[0]) * py, (dx - p[1]) * px)
        ring = np.exp(-((rho - r_nm) / 5.0) ** 2)
        sec[y0:y1, x0:x1] += (0.05 * (rho < r_nm) - 0.2 * ring).astype(np.float32)


def _mitochondrion(sec, inside, depth, py, px, rng):
    """An elongated dark profile with cristae stripes and a dark outer membrane."""
    a, b = rng.uniform(120.0, 260.0), rng.uniform(60.0, 110.0)    # semi-axes, nm
    ok = np.flatnonzero(inside & (depth > a + 25.0))
    if len(ok) == 0:
        ok = np.flatnonzero(inside & (depth > b + 25.0))
        a = b
        if len(ok) == 0:
            return
    iy, ix = np.unravel_index(rng.choice(ok), sec.shape)
    theta = rng.uniform(0, np.pi)
    ry, rx = int(np.ceil(a / py)) + 2, int(np.ceil(a / px)) + 2
    y0, y1, x0, x1 = max(iy - ry, 0), min(iy + ry + 1, sec.shape[0]), max(ix - rx, 0), \
        min(ix + rx + 1, sec.shape[1])
    dy, dx = np.mgrid[y0:y1, x0:x1]
    u = (dy - iy) * py * np.cos(theta) + (dx - ix) * px * np.sin(theta)
    v = -(dy - iy) * py * np.sin(theta) + (dx - ix) * px * np.cos(theta)
    rho = np.sqrt((u / a) ** 2 + (v / b) ** 2)
    to_rim = (rho - 1) * np.hypot(u, v) / np.maximum(rho, 1e-9)   # nm, along the ray
    body = rho < 1
    cristae = 0.5 + 0.5 * np.cos(2 * np.pi * u / 45.0)
    shade = body * (-0.12 - 0.08 * cristae) - 0.15 * np.exp(-(to_rim / 6.0) ** 2)
    sec[y0:y1, x0:x1] += shade.astype(np.float32)


# --------------------------------------------------------------------------- volume

def ecs_phantom(shape=(256, 256), *, seed=0, voxel_size=ECS_VOXEL_SIZE, ecs_fraction=0.15,
                gap_width=40.0, lake_share=0.2, dose=60.0, shape_weights=False):
    """A synthetic EM section or stack with its exact ECS mask.

    Parameters
    ----------
    shape : tuple of int
        (y, x) for one section, (z, y, x) for a stack; y, x >= 32.
    seed : int
        The same arguments give identical arrays.
    voxel_size, ecs_fraction, gap_width, lake_share
        See :func:`ecs_phantom_labels`.
    dose : float
        Electrons per pixel (see :func:`render_ecs_image`).
    shape_weights : bool
        Also compute ECS-Net's shape-aware weight map
        (:func:`emseg.data.weights.shape_weight_map`) as the volume's ``weights``.

    Returns
    -------
    Volume
        (z, y, x) arrays (z = 1 for a (y, x) shape): ``image`` float32 z-scored,
        ``labels`` uint8 (1 = ECS), ``weights`` float32 or None,
        ``source='phantom'``, ``name='ecs'``, ``voxel_size``.

    Examples
    --------
    >>> vol = ecs_phantom((64, 64), seed=3)
    >>> vol.image.shape, vol.labels.dtype.name, vol.synthetic
    ((1, 64, 64), 'uint8', True)
    """
    shape = _check_shape(shape)
    seed = _check_seed(seed)
    mask, cells = ecs_phantom_labels(shape, seed=seed, voxel_size=voxel_size,
                                     ecs_fraction=ecs_fraction, gap_width=gap_width,
                                     lake_share=lake_share, return_cells=True)
    image = render_ecs_image(mask, cells, seed=seed, voxel_size=voxel_size, dose=dose)
    if len(shape) == 2:
        mask, image = mask[None], image[None]
    weights = None
    if shape_weights:
        from emseg.data.weights import shape_weight_map
        weights = shape_weight_map(mask)
    return Volume(image=zscore(image), labels=mask, weights=weights, source="phantom", name="ecs",
                  voxel_size=tuple(float(v) for v in _check_voxel_size(voxel_size)))
