"""Synthetic SBF-SEM platelet volumes with exact ground truth.

The phantom is the offline stand-in for the real platelet dataset (Guay et al.
2021): the same 7 classes, the same anisotropic voxel size and class fractions
of the same order, so that every workflow (training, tiled inference, metrics)
runs without downloading anything.

* :func:`phantom_labels` builds a label volume: irregular platelet-like cells
  with background gaps between them, and organelles strictly inside the cells.
* :func:`render_image` turns ANY 7-class label volume (a phantom or the real
  labels) into an SBF-SEM-like image: class-dependent intensity and texture,
  membranes, anisotropic blur, shot and read noise, slice drift and uneven
  illumination. Intensities of several classes overlap on purpose, so a
  per-voxel intensity rule does poorly and shape and context matter.
* :func:`platelet_phantom` bundles both into a :class:`~emseg.data.Volume`
  for the ``'train'``, ``'eval'`` or ``'test'`` split.

Class ids: 0 background, 1 cell, 2 mitochondrion, 3 alpha granule,
4 canalicular vessel, 5 dense granule (body), 6 dense granule core.
"""
import numpy as np
from scipy import ndimage as ndi

from emseg._validate import check_labels
from emseg.data._volume import Volume, zscore
from emseg.data.weights import error_weights
from emseg.data.registry import PLATELET

N_CLASSES = PLATELET["n_classes"]  # the platelet classes (emseg.data.datasets.platelet)
VOXEL_SIZE = PLATELET["voxel_size"]  # nm (z, y, x)

__all__ = ["platelet_phantom", "phantom_labels", "render_image"]

BACKGROUND, CELL, MITO, ALPHA, CANALICULAR, DENSE, CORE = range(N_CLASSES)

#: Default (z, y, x) shape of each split; small enough for CPU training.
SPLIT_SHAPES = {"train": (24, 256, 256), "eval": (12, 256, 256), "test": (24, 256, 256)}
_SPLIT_IDS = {"train": 0, "eval": 1, "test": 2}

# Organelle volume as a fraction of the cell volume (real data, section 2.3 of the
# reference sheet: alpha ~4 %, canalicular ~3 %, mito ~0.7 %, dense ~0.25 %,
# core ~0.07 % of all voxels, with cells ~50 % of all voxels).
_ORGANELLE_FRACTION = {ALPHA: 0.1, CANALICULAR: 0.057, MITO: 0.016, DENSE: 0.007}


# --------------------------------------------------------------------------- checks
def _check_shape(shape, *, name="shape"):
    try:
        shape = tuple(shape)
    except TypeError:
        raise ValueError(f"{name} must be 3 integers (z, y, x), got {shape!r}") from None
    if len(shape) != 3 or not all(isinstance(s, (int, np.integer)) and not isinstance(s, bool)
                                  for s in shape):
        raise ValueError(f"{name} must be 3 integers (z, y, x), got {shape!r}")
    if shape[0] < 1 or shape[1] < 32 or shape[2] < 32:
        raise ValueError(f"{name} must have z >= 1 and y, x >= 32 (cells are ~100 pixels "
                         f"wide), got {shape!r}; pass a larger shape")
    return tuple(int(s) for s in shape)


def _check_triple(value, *, name, allow_zero=False):
    try:
        arr = np.asarray(value, dtype=float)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be 3 numbers (z, y, x) in nm, got {value!r}") from None
    if arr.shape != (3,) or not np.all(np.isfinite(arr)) or \
            (np.any(arr < 0) if allow_zero else np.any(arr <= 0)):
        sign = ">= 0" if allow_zero else "> 0"
        raise ValueError(f"{name} must be 3 finite numbers {sign} (z, y, x) in nm, got {value!r}")
    return arr


def _check_nonneg(value, *, name):
    if isinstance(value, bool) or not np.isscalar(value) or not np.isfinite(value) or value < 0:
        raise ValueError(f"{name} must be a finite number >= 0, got {value!r}")
    return float(value)


# --------------------------------------------------------------------------- helpers
def _upsample_linear(coarse, step, shape):
    """Linear interpolation of ``coarse`` (node ``i`` at voxel ``i * step``) onto ``shape``."""
    out = coarse
    for axis, (n, st) in enumerate(zip(shape, step)):
        pos = np.arange(n, dtype=np.float32) / np.float32(st)
        i0 = np.minimum(pos.astype(int), out.shape[axis] - 2) if out.shape[axis] > 1 \
            else np.zeros(n, int)
        w = (pos - i0).reshape([-1 if k == axis else 1 for k in range(out.ndim)])
        lo = np.take(out, i0, axis=axis)
        hi = np.take(out, np.minimum(i0 + 1, out.shape[axis] - 1), axis=axis)
        out = lo + w * (hi - lo)
    return out.astype(np.float32, copy=False)


def smooth_noise(shape, voxel_size, scale_nm, rng):
    """Smooth Gaussian random field with unit std and correlation length ~``scale_nm``.

    White noise on a coarse grid (one node per ``scale_nm``), lightly smoothed and
    linearly interpolated up to ``shape``: cheap even for large volumes.
    """
    step = np.maximum(scale_nm / np.asarray(voxel_size, float), 1.0)
    coarse_shape = tuple(int(np.ceil((s - 1) / st)) + 2 for s, st in zip(shape, step))
    coarse = ndi.gaussian_filter(rng.standard_normal(coarse_shape, dtype=np.float32), 0.8,
                                 mode="wrap")
    field = _upsample_linear(coarse, step, shape)
    return (field - field.mean()) / (field.std() + 1e-12)


def _random_rotation(rng):
    """A uniformly random 3D rotation matrix."""
    q, r = np.linalg.qr(rng.standard_normal((3, 3)))
    q = q * np.sign(np.diag(r))
    if np.linalg.det(q) < 0:
        q[:, 0] = -q[:, 0]
    return q


def _ellipsoid(center, axes, rot, shape, voxel_size, pad_nm=0.0):
    """Normalised radius of an ellipsoid on the voxels of its bounding box.

    Returns ``(slices, rho)`` where ``rho < 1`` inside the ellipsoid (centre and
    semi-axes in nm; voxel ``i`` sits at ``i * voxel_size``), or ``(None, None)``
    when the bounding box misses the volume.
    """
    reach = float(np.max(axes)) + pad_nm
    lo = np.maximum(np.floor((center - reach) / voxel_size).astype(int), 0)
    hi = np.minimum(np.ceil((center + reach) / voxel_size).astype(int) + 1, shape)
    if np.any(hi <= lo):
        return None, None
    sl = tuple(slice(a, b) for a, b in zip(lo, hi))
    return sl, _rho_on_box(center, axes, rot, sl, voxel_size)


def _rho_on_box(center, axes, rot, sl, voxel_size):
    """Normalised ellipsoid radius evaluated on the voxel box ``sl``."""
    d = [(np.arange(s.start, s.stop) * v - c).astype(np.float32)
         for s, v, c in zip(sl, voxel_size, center)]
    d = [d[0][:, None, None], d[1][None, :, None], d[2][None, None, :]]
    rho2 = 0.0
    for k in range(3):  # coordinates along the ellipsoid's own axes
        u = rot[0, k] * d[0] + rot[1, k] * d[1] + rot[2, k] * d[2]
        rho2 = rho2 + (u / axes[k]) ** 2
    return np.sqrt(rho2)


# --------------------------------------------------------------------------- cells
def _cells(shape, vs, rng):
    """Boolean mask of irregular discoid cells with background gaps between them."""
    extent = np.asarray(shape) * vs
    # Each cell contributes a signed pseudo-distance s (nm, < 0 inside). The cells'
    # smooth fields are computed on a grid 4x coarser in y/x and interpolated.
    step = np.array([1, 4, 4])
    shape_c = tuple(int(np.ceil((n - 1) / st)) + 2 for n, st in zip(shape, step))
    best = np.full(shape_c, 1e5, np.float32)      # smallest s over cells
    second = np.full(shape_c, 1e5, np.float32)    # second smallest
    # Stratified random centres (one per box of a 3D grid) over a box larger than
    # the volume, so cells are cut by its faces as in a block-face series.
    grid = np.array([950.0, 1150.0, 1150.0])
    margin = np.array([700.0, 1100.0, 1100.0])
    n_grid = np.ceil((extent + 2 * margin) / grid).astype(int)
    cells = np.stack(np.meshgrid(*[np.arange(n) for n in n_grid], indexing="ij"), -1)
    centres = (cells.reshape(-1, 3) + rng.random((cells.size // 3, 3))) * grid - margin
    for c in centres:
        long_axis = rng.uniform(750.0, 1250.0)
        axes = np.array([long_axis, long_axis * rng.uniform(0.6, 1.0),
                         long_axis * rng.uniform(0.35, 0.55)])     # discoid platelet
        sl, rho = _ellipsoid(c, axes, _random_rotation(rng), shape_c, vs * step, pad_nm=300.0)
        if sl is None:
            continue
        s = (rho - 1.0) * np.float32(np.cbrt(np.prod(axes)))
        b, s2 = best[sl], second[sl]
        second[sl] = np.where(s < b, b, np.minimum(s2, s))
        best[sl] = np.minimum(b, s)
    best = _upsample_linear(best, step, shape)
    second = _upsample_linear(second, step, shape)
    roughness = 130.0 * smooth_noise(shape, vs, 450.0, rng) \
        + 40.0 * smooth_noise(shape, vs, 150.0, rng)           # bumps of the outlines, nm
    gap = 90.0 + 0.3 * roughness                                  # wider gaps where bumpy
    return (best + roughness < 0) & (second - best > gap)


# --------------------------------------------------------------------------- organelles
def _place_blobs(labels, depth, vs, rng, *, cls, n, axes_fn, min_depth, core=False):
    """Place ``n`` non-overlapping ellipsoids of class ``cls`` strictly inside cells."""
    shape = labels.shape
    cand = np.flatnonzero((depth > min_depth + 120.0) & (labels == CELL))
    if cand.size == 0 or n <= 0:
        return
    tries = rng.choice(cand, size=min(cand.size, 40 * n), replace=cand.size < 40 * n)
    placed = 0
    for idx in tries:
        if placed >= n:
            break
        center_vox = np.array(np.unravel_index(idx, shape))
        axes = axes_fn()
        if depth[tuple(center_vox)] < axes.max() + min_depth:
            continue
        center = center_vox * vs + rng.uniform(-0.5, 0.5, 3) * vs
        rot = _random_rotation(rng)
        sl, rho = _ellipsoid(center, axes, rot, shape, vs, pad_nm=2 * vs.max())
        body = (rho < 1.0) & (depth[sl] > min_depth)
        # keep one free voxel around every organelle
        if np.any(ndi.binary_dilation(body, iterations=1) & (labels[sl] != CELL)):
            continue
        labels[sl][body] = cls
        if core:  # an eccentric dense core, at least ~2 voxels inside the body
            scale = rng.uniform(0.5, 0.66)
            room = (1.0 - scale) * axes.min() - 2.2 * vs.max()
            shift = rng.normal(size=3)
            shift *= max(room, 0.0) * rng.uniform(0.0, 1.0) / np.linalg.norm(shift)
            rho_core = _rho_on_box(center + rot @ shift, axes * scale, rot, sl, vs)
            inner = ndi.binary_erosion(body, np.ones((3, 3, 3), bool), border_value=1)
            labels[sl][(rho_core < 1.0) & inner] = CORE
        placed += 1


def _canaliculi(labels, depth, vs, rng, *, total_nm3, min_depth):
    """Paint tortuous tubes (open canalicular system) into the cytoplasm."""
    shape = labels.shape
    step = 10.0
    mean_r = 80.0
    total_len = total_nm3 / (np.pi * mean_r ** 2)
    start_cand = np.flatnonzero((depth > 250.0) & (labels == CELL))
    if start_cand.size == 0 or total_len <= 0:
        return
    pts, radii = [], []
    length = 0.0
    for _ in range(400):                       # loop over tubes, not voxels
        if length >= total_len:
            break
        if pts and rng.random() < 0.35:        # branch off an existing tube
            prev = pts[rng.integers(len(pts))]
            start = prev[rng.integers(len(prev))]
        else:
            start = np.array(np.unravel_index(rng.choice(start_cand), shape)) * vs
        n = int(rng.uniform(500.0, 1400.0) / step)
        d0 = rng.standard_normal(3)
        d0[0] *= 0.6                            # a little flatter than isotropic
        d0 /= np.linalg.norm(d0)
        tangent = d0 + np.cumsum(rng.normal(0.0, 0.09, (n, 3)), axis=0)
        tangent /= np.linalg.norm(tangent, axis=1, keepdims=True)
        path = start + np.cumsum(tangent * step, axis=0)
        r0 = rng.uniform(50.0, 110.0)
        bulge = np.convolve(rng.standard_normal(n + 30), np.hanning(31), "valid")[:n]
        r = r0 * np.clip(1.0 + 0.18 * bulge, 0.6, 2.2)
        vox = np.round(path / vs).astype(int)
        inside = np.all((vox >= 0) & (vox < shape), axis=1)
        vox_c = np.clip(vox, 0, np.array(shape) - 1)
        ok = inside & (depth[tuple(vox_c.T)] > r + min_depth) & \
            (labels[tuple(vox_c.T)] == CELL)
        keep = np.cumprod(ok).astype(bool)      # stop at the first exit from the cytoplasm
        if keep.sum() < 5:
            continue
        pts.append(path[keep])
        radii.append(r[keep])
        length += keep.sum() * step
    if not pts:
        return
    pts = np.concatenate(pts)
    radii = np.concatenate(radii)
    seeds = np.zeros(shape, bool)
    seed_r = np.zeros(shape, np.float32)
    vox = tuple(np.round(pts / vs).astype(int).T)
    seeds[vox] = True
    seed_r[vox] = radii
    dist, nearest = ndi.distance_transform_edt(~seeds, sampling=vs, return_indices=True)
    tube = dist < seed_r[tuple(nearest)]
    labels[tube & (labels == CELL) & (depth > min_depth)] = CANALICULAR


def phantom_labels(shape, *, seed=0, voxel_size=VOXEL_SIZE):
    """Generate a synthetic 7-class platelet label volume.

    Parameters
    ----------
    shape : tuple of int
        Volume shape (z, y, x); z >= 1, y and x >= 32.
    seed : int, optional
        Seed of ``numpy.random.default_rng``; the same seed gives the same volume.
    voxel_size : tuple of float, optional
        Voxel size (z, y, x) in nm. The default (40, 10, 10) is that of the real
        data; object sizes are set in nm, so a coarser z spacing makes every
        object span fewer slices than pixels.

    Returns
    -------
    numpy.ndarray
        uint8 labels (z, y, x): 0 background, 1 cell, 2 mitochondrion, 3 alpha
        granule, 4 canalicular vessel, 5 dense granule, 6 dense granule core.

    Notes
    -----
    The picture is a pellet of resting platelets cut by a block-face series:

    * **Cells** are discoid ellipsoids (semi-axes ~0.8-1.3 um in the disc,
      ~0.4 of that across it), randomly oriented, centred on a jittered hexagonal
      grid in 3D (so cells are cut by the faces of the volume), with bumpy
      outlines from a smooth random field. Where two cells would meet, a
      background gap (>= ~50 nm) separates them, as the extracellular space does
      in a pellet.
    * **Organelles** lie strictly inside the cells: every organelle voxel is more
      than one voxel diagonal (~42 nm) away from the background. Alpha granules
      (the most common organelle) are round/ovoid, ~200-400 nm across;
      mitochondria are smaller and elongated; dense granules (~250-350 nm) each
      carry an eccentric dense core that never touches the cytoplasm; the open
      canalicular system is a set of tortuous, branching tubes (~100-250 nm
      across, with bulges) that wander through the cytoplasm.

    With the defaults, class fractions are close to the real data's (background
    ~30-47 %, cell ~45-58 %, alpha ~3.5-5 %, canalicular ~2.5-4.5 %,
    mitochondria ~0.5-1 %, dense granule ~0.1-0.7 %, core ~0.03-0.2 %); they
    vary with the seed because a (24, 256, 256) volume holds only a handful of
    cells. Generating that volume takes about a second on one CPU core.

    Examples
    --------
    >>> lab = phantom_labels((8, 64, 64), seed=1)
    >>> lab.shape, lab.dtype.name, int(lab.max()) <= 6
    ((8, 64, 64), 'uint8', True)
    """
    shape = _check_shape(shape)
    vs = _check_triple(voxel_size, name="voxel_size")
    rng = np.random.default_rng(seed)
    labels = _cells(shape, vs, rng).astype(np.uint8)
    if not labels.any():
        return labels
    # distance (nm) of each cell voxel to the nearest background voxel
    depth = ndi.distance_transform_edt(labels, sampling=vs).astype(np.float32)
    min_depth = float(np.linalg.norm(vs)) + 1.0      # > one voxel diagonal
    cell_nm3 = float(np.count_nonzero(labels)) * float(np.prod(vs))

    def n_objects(cls, axes_mean):
        expected = _ORGANELLE_FRACTION[cls] * cell_nm3 / (4.0 / 3.0 * np.pi * np.prod(axes_mean))
        return int(np.floor(expected + rng.random()))          # stochastic rounding

    def alpha_axes():
        a = rng.uniform(130.0, 200.0)
        return np.array([a, a * rng.uniform(0.75, 1.0), a * rng.uniform(0.7, 0.95)])

    def mito_axes():
        return np.array([rng.uniform(170.0, 290.0), rng.uniform(85.0, 120.0),
                         rng.uniform(80.0, 110.0)])

    def dense_axes():
        a = rng.uniform(120.0, 170.0)
        return np.array([a, a * rng.uniform(0.85, 1.0), a * rng.uniform(0.8, 1.0)])

    n_dense = max(1, n_objects(DENSE, [145.0, 135.0, 130.0]))
    n_mito = max(1, n_objects(MITO, [230.0, 102.0, 95.0]))
    n_alpha = max(1, n_objects(ALPHA, [165.0, 145.0, 135.0]))
    _place_blobs(labels, depth, vs, rng, cls=DENSE, n=n_dense, axes_fn=dense_axes,
                 min_depth=min_depth, core=True)
    _place_blobs(labels, depth, vs, rng, cls=MITO, n=n_mito, axes_fn=mito_axes,
                 min_depth=min_depth)
    _place_blobs(labels, depth, vs, rng, cls=ALPHA, n=n_alpha, axes_fn=alpha_axes,
                 min_depth=min_depth)
    _canaliculi(labels, depth, vs, rng, total_nm3=_ORGANELLE_FRACTION[CANALICULAR] * cell_nm3,
                min_depth=min_depth)
    return labels


# --------------------------------------------------------------------------- rendering
# Mean intensity of each class before texture, membranes, blur and noise, in a
# TEM-like contrast (resin bright, heavy-metal-stained structures dark).
_MEAN = np.array([0.74,    # 0 background: embedding resin
                  0.81,    # 1 cytoplasm: glycogen dots darken it to about resin
                  0.47,    # 2 mitochondrion: dark matrix, cristae stripes
                  0.52,    # 3 alpha granule: mid grey, mottled
                  0.78,    # 4 canalicular vessel: lumen open to the outside = resin (a
                  #          little brighter, so that after blurring in its dark lining
                  #          its mean matches the background's)
                  0.47,    # 5 dense granule body: like a mitochondrion
                  0.16],   # 6 dense core: very dark
                 dtype=np.float32)


def _membranes(labels):
    """Membrane darkness in [0, 1] on the boundary voxels that carry a membrane.

    In-plane boundary voxels get 1 (0.5 one voxel further in), voxels whose
    boundary is only across z get 0.5 (an oblique membrane smeared over a section).
    """
    lab = labels
    bounded = np.isin(lab, [MITO, ALPHA, DENSE])        # organelles with their own membrane
    plasma = lab == CELL                                 # plasma / OCS membrane, cell side
    out = np.zeros(lab.shape, np.float32)
    for axis, dist, strength in ((1, 1, 1.0), (2, 1, 1.0), (1, 2, 0.5), (2, 2, 0.5),
                                 (0, 1, 0.5)):
        if lab.shape[axis] <= dist:
            continue
        for shift in (dist, -dist):
            nb = np.roll(lab, shift, axis=axis)
            edge = [slice(None)] * 3
            edge[axis] = slice(0, dist) if shift > 0 else slice(-dist, None)
            nb[tuple(edge)] = lab[tuple(edge)]           # no wrap-around
            hit = (bounded & (nb != lab) & (nb != CORE)) | \
                (plasma & ((nb == BACKGROUND) | (nb == CANALICULAR)))
            np.maximum(out, strength * hit, out=out)
    return out


def render_image(labels, *, seed=0, voxel_size=VOXEL_SIZE, blur_nm=(30.0, 12.0, 12.0),
                 dose=150.0, read_noise=0.02, drift=0.04, gradient=0.15):
    """Render an SBF-SEM-like image of a 7-class platelet label volume.

    Parameters
    ----------
    labels : array_like
        Integer labels (z, y, x) with values 0..6 (a phantom or real labels).
    seed : int, optional
        Seed of ``numpy.random.default_rng`` for texture, noise and drift.
    voxel_size : tuple of float, optional
        Voxel size (z, y, x) in nm; sets the physical scale of blur and texture.
    blur_nm : tuple of float, optional
        Standard deviation (z, y, x) of the Gaussian point-spread function in nm.
        The default is wider in z (30 nm: the section thickness and the depth the
        backscattered electrons come from) than in y/x (12 nm: beam spot).
    dose : float, optional
        Expected electrons per voxel at intensity 1; shot noise is Poisson at this
        dose, so a lower dose gives a noisier image. Must be > 0.
    read_noise : float, optional
        Standard deviation of additive Gaussian detector noise.
    drift : float, optional
        Size of the slice-to-slice gain and offset drift (relative units).
    gradient : float, optional
        Peak-to-peak relative size of the slow illumination gradient across y/x.

    Returns
    -------
    numpy.ndarray
        float32 image (z, y, x), roughly in [0, 1] (not normalised).

    Raises
    ------
    ValueError
        If ``labels`` is not 3D with integer values 0..6, or an option is out of range.

    Notes
    -----
    The contrast imitates inverted backscatter images of heavy-metal-stained
    platelets: bright resin, dark membranes and organelles. Each class has a
    mean intensity and a texture:

    * background and **canalicular vessels** are resin: smooth and bright (the
      open canalicular system is open to the extracellular space), so a vessel
      differs from the background only by the membrane that lines it and by
      lying inside a cell (its lumen is set 5 % brighter, so that after blurring
      in the dark lining its mean matches the background's on the phantom's
      thin tubes; wider real vessels come out a little brighter);
    * **cytoplasm** is nearly as bright as resin but granular (glycogen particles
      and fine texture): it differs from background mainly by texture;
    * **mitochondria** are dark and mottled with cristae-like stripes; **dense
      granule bodies** have the same mean intensity, smooth; **alpha granules**
      are a little brighter and mottled; **dense cores** are very dark;
    * membranes: a dark voxel line on the cell side of the plasma membrane and of
      the vessels' walls, and inside the rim of mitochondria, alpha and dense
      granules.

    The clean image is then blurred by an anisotropic Gaussian PSF, multiplied
    by a slow illumination gradient and a per-slice gain (with a per-slice offset),
    and corrupted by Poisson shot noise and Gaussian read noise. Class intensity
    distributions therefore overlap strongly: a per-voxel intensity classifier
    does poorly, while texture, membranes and context separate the classes.

    Examples
    --------
    >>> img = render_image(phantom_labels((4, 64, 64)), seed=0)
    >>> img.shape, img.dtype.name
    ((4, 64, 64), 'float32')
    """
    lab = check_labels(labels, n_classes=N_CLASSES, ndim=(3,))
    vs = _check_triple(voxel_size, name="voxel_size")
    blur = _check_triple(blur_nm, name="blur_nm", allow_zero=True)
    if isinstance(dose, bool) or not np.isscalar(dose) or not np.isfinite(dose) or dose <= 0:
        raise ValueError(f"dose must be a finite number > 0 (electrons per voxel), got {dose!r}")
    read_noise = _check_nonneg(read_noise, name="read_noise")
    drift = _check_nonneg(drift, name="drift")
    gradient = _check_nonneg(gradient, name="gradient")
    lab = lab.astype(np.uint8, copy=False)
    rng = np.random.default_rng(seed)
    shape = lab.shape

    img = _MEAN[lab]
    # --- class textures (each field has unit std)
    smooth = smooth_noise(shape, vs, 300.0, rng)                       # resin, slow
    fine = ndi.gaussian_filter(rng.standard_normal(shape, dtype=np.float32),
                               np.array([25.0, 25.0, 25.0]) / vs)      # granular, ~50 nm
    fine /= fine.std() + 1e-12
    disk = (np.hypot(*np.mgrid[-2:3, -2:3]) < 2.5)[None]                # ~40 nm particles
    dots = ndi.binary_dilation(rng.random(shape, dtype=np.float32) < 0.008, disk)
    mottle = smooth_noise(shape, vs, 60.0, rng)
    cristae = np.cos(2 * np.pi * smooth_noise(shape, vs, 160.0, rng) / 0.9)
    tex = np.zeros(shape, np.float32)
    for cls, field in ((BACKGROUND, 0.02 * smooth), (CANALICULAR, 0.02 * smooth),
                       (CELL, 0.06 * fine - 0.35 * dots),
                       (MITO, 0.09 * cristae + 0.03 * mottle),
                       (ALPHA, 0.06 * mottle + 0.02 * fine),
                       (DENSE, 0.02 * fine), (CORE, 0.02 * fine)):
        m = lab == cls
        tex[m] = field[m]
    img += tex
    img -= 0.4 * _membranes(lab)
    # --- optics and acquisition
    sigma = blur / vs
    if np.any(sigma > 0):
        img = ndi.gaussian_filter(img, sigma, mode="nearest")
    yy = np.linspace(-0.5, 0.5, shape[1], dtype=np.float32)[:, None]
    xx = np.linspace(-0.5, 0.5, shape[2], dtype=np.float32)[None, :]
    theta = rng.uniform(0, 2 * np.pi)
    illum = 1.0 + gradient * (np.cos(theta) * yy + np.sin(theta) * xx)
    walk = np.cumsum(rng.standard_normal(shape[0]))
    walk = (walk - walk.mean()) / (walk.std() + 1.0)
    gain = 1.0 + drift * (walk + 0.5 * rng.standard_normal(shape[0]))
    offset = 0.5 * drift * rng.standard_normal(shape[0])
    img = img * illum[None] * gain[:, None, None].astype(np.float32) \
        + offset[:, None, None].astype(np.float32)
    img = rng.poisson(np.clip(img, 0, None) * dose).astype(np.float32) / np.float32(dose)
    if read_noise > 0:
        img += rng.normal(0.0, read_noise, shape).astype(np.float32)
    return img.astype(np.float32, copy=False)


def _split_seeds(split, seed):
    """Two independent seeds (labels, rendering) for ``split`` and ``seed``."""
    state = np.random.SeedSequence([int(seed), _SPLIT_IDS[split]]).generate_state(2)
    return int(state[0]), int(state[1])


def platelet_phantom(split="train", *, seed=0, shape=None):
    """A synthetic platelet volume (image, labels, weights) for one split.

    Parameters
    ----------
    split : {'train', 'eval', 'test'}
        Which split to imitate. Each split has its own default shape and its own
        random stream, so the splits show different cells, like the real data.
    seed : int, optional
        Base seed; the same ``split`` and ``seed`` give identical arrays.
    shape : tuple of int, optional
        (z, y, x) shape, z >= 1 and y, x >= 32. Defaults: train (24, 256, 256),
        eval (12, 256, 256), test (24, 256, 256).

    Returns
    -------
    Volume
        ``image`` float32 z-scored, ``labels`` uint8 (0..6), ``weights`` from
        :func:`~emseg.data.error_weights` for ``'train'`` (``None`` otherwise),
        ``source='phantom'``, ``name=split``, ``voxel_size=(40.0, 10.0, 10.0)``.

    Notes
    -----
    Labels come from :func:`phantom_labels` and the image from
    :func:`render_image` with their defaults; see those for the physical model.
    The phantom is an offline stand-in with exact ground truth: numbers measured
    on it (IoU, speed) say nothing about performance on real platelets. The best
    per-voxel intensity classifier (:func:`emseg.baselines.threshold_baseline`)
    reaches a mean IoU of only ~0.2-0.25 over the 7 classes on it.

    Examples
    --------
    >>> vol = platelet_phantom("eval", shape=(4, 64, 64))
    >>> vol.synthetic, vol.labels.shape, vol.weights is None
    (True, (4, 64, 64), True)
    """
    if not isinstance(split, str) or split not in SPLIT_SHAPES:
        raise ValueError(f"split must be one of {sorted(SPLIT_SHAPES)}, got {split!r}")
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed must be an integer >= 0, got {seed!r}")
    shape = SPLIT_SHAPES[split] if shape is None else _check_shape(shape)
    label_seed, render_seed = _split_seeds(split, seed)
    labels = phantom_labels(shape, seed=label_seed, voxel_size=VOXEL_SIZE)
    image = zscore(render_image(labels, seed=render_seed, voxel_size=VOXEL_SIZE))
    weights = error_weights(labels) if split == "train" else None
    return Volume(image=image, labels=labels, weights=weights, source="phantom", name=split,
                  voxel_size=VOXEL_SIZE)
