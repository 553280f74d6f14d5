"""Synthetic light-microscopy neuron stacks with exact ground truth (image, mask, SWC tree).

The offline stand-in for fluorescence (fMOST/confocal-like) neuron images, so
that the tracing pipeline (probability map -> voxel scooping -> SWC) and its
metrics run without third-party morphologies:

* :func:`neuron_tree` grows a procedural neuron: a soma with 3-6 primary
  neurites that wander as persistent random walks, taper, branch (Y-shaped
  bifurcations, thinner daughters) and keep a clearance from each other.
* :func:`render_neuron` turns ANY SWC tree (a phantom or a real morphology,
  see :func:`emseg.tracing.read_swc`) into a 3D stack: tubes with the node
  radii, uneven brightness along the neurites, an anisotropic Gaussian PSF
  (wider in z), a hazy background, Poisson shot noise and Gaussian read noise.
  ``intensity`` scales the signal for "decreasing signal" experiments.
* :func:`neuron_phantom` bundles both; :func:`neuron_pool` makes a pool of them
  with varied signal and noise (candidates for DHPR selection and training).
* :func:`render_densest` renders the densest box of a large (real) tree.

Units: tree coordinates, radii, ``voxel_size`` and ``psf_sigma`` share one
physical unit (um by default); volume-side triples are (z, y, x), SWC
positions (x, y, z); voxel ``(k, j, i)`` is centred at ``(k, j, i) * voxel_size``
(see :mod:`emseg.data.swc`).
"""
from typing import NamedTuple

import numpy as np
from scipy import ndimage as ndi

from emseg.data.phantoms.platelet import smooth_noise
from emseg.data.swc import SwcTree, is_real, crop_tree, densest_box, resample_tree, swc_to_voxel

__all__ = ["NeuronStack", "neuron_tree", "render_neuron", "neuron_phantom", "neuron_pool",
           "render_densest"]

#: Expected photons per voxel inside a neurite at ``intensity=1`` (before the PSF).
PEAK_SIGNAL = 400.0


class NeuronStack(NamedTuple):
    """A rendered neuron stack: ``image, mask, tree = stack``.

    Attributes
    ----------
    image : numpy.ndarray
        uint16 (z, y, x) photon counts.
    mask : numpy.ndarray
        bool (z, y, x): the exact painted neurite volume the image was made from.
    tree : SwcTree
        Ground truth: the part of the tree inside the volume (radii as painted).
    """
    image: np.ndarray
    mask: np.ndarray
    tree: SwcTree


# --------------------------------------------------------------------------- checks
def _triple(value, name, *, allow_zero=False):
    try:
        arr = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be 3 numbers (z, y, x), got {value!r}") from None
    if arr.shape == ():
        arr = np.full(3, float(arr))
    if arr.shape != (3,) or not np.all(np.isfinite(arr)) or \
            (np.any(arr < 0) if allow_zero else np.any(arr <= 0)):
        sign = ">= 0" if allow_zero else "> 0"
        raise ValueError(f"{name} must be 3 finite numbers {sign} (z, y, x), got {value!r}")
    return arr


def _shape(shape):
    try:
        out = tuple(int(s) for s in shape)
    except (TypeError, ValueError):
        raise ValueError(f"shape must be 3 integers (z, y, x), got {shape!r}") from None
    if len(out) != 3 or any(s < 4 for s in out) or out != tuple(shape):
        raise ValueError(f"shape must be 3 integers >= 4 (z, y, x), got {shape!r}")
    return out


def _number(value, name, *, low=0.0, strict=False):
    if not is_real(value) or (value <= low if strict else value < low):
        raise ValueError(f"{name} must be a finite number {'>' if strict else '>='} {low}, "
                         f"got {value!r}")
    return float(value)


# --------------------------------------------------------------------------- tree growth
def _unit(v):
    return v / np.linalg.norm(v)


def _turn(direction, angle, rng):
    """Rotate ``direction`` by ``angle`` about a random perpendicular axis."""
    perp = _unit(np.cross(direction, rng.standard_normal(3)))
    return _unit(np.cos(angle) * direction + np.sin(angle) * perp)


class _Grid:
    """Coarse spatial hash of placed nodes, to keep neurites apart."""

    def __init__(self, cell):
        self.cell, self.cells = cell, {}

    def add(self, pos, owner):
        self.cells.setdefault(tuple((pos // self.cell).astype(int)), []).append((pos, owner))

    def clash(self, pos, owner, clearance):
        key = (pos // self.cell).astype(int)
        for dz in (-1, 0, 1):
            for dy in (-1, 0, 1):
                for dx in (-1, 0, 1):
                    for other, who in self.cells.get((key[0] + dz, key[1] + dy, key[2] + dx), ()):
                        if who != owner and np.linalg.norm(other - pos) < clearance:
                            return True
        return False


def neuron_tree(*, extent=(48.0, 64.0, 64.0), seed=0, n_neurites=None, soma_radius=4.0,
                neurite_radius=1.3, min_radius=0.6, branch_length=12.0, max_order=4):
    """Grow a procedural neuron tree inside a box.

    Parameters
    ----------
    extent : 3 floats
        Box size (z, y, x) in physical units (um); the tree stays inside
        ``[margin, extent - margin]`` with a margin of ``2 * min_radius + 1``.
    seed : int
        Seed of ``numpy.random.default_rng``; the same seed gives the same tree.
    n_neurites : int, optional
        Number of primary neurites (default: random, 3 to 6).
    soma_radius : float
        Radius of the soma (the root node, SWC type 1).
    neurite_radius : float
        Radius of the primary neurites where they leave the soma.
    min_radius : float
        Smallest radius: neurites taper towards it and never go below.
    branch_length : float
        Mean path length between branch points.
    max_order : int
        Maximum branch order (primary neurites have order 0).

    Returns
    -------
    SwcTree
        Node 1 is the soma (type 1, parent -1); neurite nodes (type 3) are
        about 1 unit apart. Coordinates are physical, in SWC (x, y, z) order.

    Notes
    -----
    Primary directions are spread over the sphere (at least 40 degrees apart
    where possible), flattened in z in proportion to the box. Each tip walks
    with persistence (direction noise 0.25 rad per unit), tapers by 1 % per
    unit, bounces off the box faces, and turns away or stops when it would
    come closer than ``2 * (r + neurite_radius) + 1.5`` to another section. At each
    branch point it splits into two daughters 20-45 degrees either side, each
    0.7-0.85 times as thick; path-length budgets shrink with the order.

    Examples
    --------
    >>> t = neuron_tree(seed=1)
    >>> int(t.type[0]), int(t.parent[0]), bool(t.n_children.max() >= 3), len(t) > 100
    (1, -1, True, True)
    """
    ext = _triple(extent, "extent")
    _number(soma_radius, "soma_radius", strict=True)
    _number(neurite_radius, "neurite_radius", strict=True)
    _number(min_radius, "min_radius", strict=True)
    _number(branch_length, "branch_length", strict=True)
    margin = 2 * min_radius + 1.0
    if np.any(ext < 2 * (soma_radius + margin) + 4):
        raise ValueError(f"extent {tuple(ext)} is too small for a soma of radius {soma_radius}; "
                         f"each side needs >= {2 * (soma_radius + margin) + 4:.1f}")
    if n_neurites is not None and (isinstance(n_neurites, bool) or int(n_neurites) != n_neurites
                                   or not 1 <= n_neurites <= 12):
        raise ValueError(f"n_neurites must be an integer in 1..12, got {n_neurites!r}")
    rng = np.random.default_rng(seed)
    lo, hi = np.full(3, margin), ext - margin
    soma = ext / 2 + rng.uniform(-0.12, 0.12, 3) * (ext - 2 * (soma_radius + margin))
    flat = np.array([ext[0] / ext.max(), 1.0, 1.0])          # flatter in a thin box
    pos, rad, par, typ = [soma], [soma_radius], [-1], [1]
    grid = _Grid(cell=4.0)
    n = int(n_neurites) if n_neurites is not None else int(rng.integers(3, 7))
    dirs = []
    for _ in range(n):
        for _try in range(50):
            d = _unit(rng.standard_normal(3) * flat)
            if all(np.dot(d, e) < np.cos(np.radians(40)) for e in dirs):
                break
        dirs.append(d)
    budget0 = 0.9 * float(np.linalg.norm(ext))
    tips = []
    for k, d in enumerate(dirs):
        start = soma + d * soma_radius * 0.9
        pos.append(start)
        rad.append(neurite_radius * rng.uniform(0.85, 1.1))
        par.append(0)
        typ.append(3)
        tips.append(dict(node=len(pos) - 1, dir=d, order=0, owner=k,
                         budget=budget0 * rng.uniform(0.6, 1.0),
                         to_branch=rng.exponential(branch_length) + 3.0))
    next_owner = n
    while tips:
        tip = tips.pop(0)
        node, d, walked = tip["node"], tip["dir"], 0.0
        while walked < tip["budget"]:
            r = max(min_radius, rad[node] * 0.99)
            step = None
            for attempt in range(6):
                noise = 0.25 if attempt == 0 else 0.9
                cand_dir = _unit(d + rng.normal(0.0, noise, 3) * flat)
                cand = pos[node] + cand_dir
                out = (cand < lo) | (cand > hi)
                if np.any(out):                              # bounce off the faces
                    cand_dir[out] = -cand_dir[out]
                    cand = pos[node] + cand_dir
                    if np.any((cand < lo) | (cand > hi)):
                        continue
                clearance = 2 * (r + neurite_radius) + 1.5
                if walked > clearance and grid.clash(cand, tip["owner"], clearance):
                    continue
                step = cand_dir
                break
            if step is None:
                break
            d = step
            pos.append(pos[node] + d)
            rad.append(r)
            par.append(node)
            typ.append(3)
            node = len(pos) - 1
            walked += 1.0
            if walked > 3.0:
                grid.add(pos[node], tip["owner"])
            tip["to_branch"] -= 1.0
            left = tip["budget"] - walked
            if tip["to_branch"] <= 0 and tip["order"] < max_order and left > 6.0:
                first = _turn(d, np.radians(rng.uniform(20, 45)), rng)
                second = _unit(2 * np.dot(d, first) * d - first)   # mirror image about d
                second = _turn(second, np.radians(rng.uniform(0, 10)), rng)
                for child in (first, second):
                    pos.append(pos[node] + child)
                    rad.append(max(min_radius, r * rng.uniform(0.7, 0.85)))
                    par.append(node)
                    typ.append(3)
                    tips.append(dict(node=len(pos) - 1, dir=child, order=tip["order"] + 1,
                                     owner=next_owner, budget=left * rng.uniform(0.5, 0.9),
                                     to_branch=rng.exponential(branch_length) + 3.0))
                    next_owner += 1
                break
    zyx = np.asarray(pos)
    return SwcTree.from_arrays(zyx[:, ::-1], np.asarray(par), radius=np.asarray(rad),
                               type=np.asarray(typ))


# --------------------------------------------------------------------------- rendering
_WIDE = 24  # voxels: balls of a larger radius are painted in boxes clipped to the volume


def _paint(shape, vox, radius, vs):
    """Boolean mask of voxel centres within ``radius`` (physical) of the points ``vox``.

    Points are dense (a quarter voxel apart). Balls wider than ``_WIDE`` voxels (a soma
    of an Allen-style SWC file can have a 100 um radius) are painted one by one in
    their box clipped to the volume, from points at least a sixteenth of the radius
    apart (the union differs from that of every point by less than radius / 2000 at
    its boundary), so the cost is bounded by the volume, not by the radius cubed.
    """
    mask = np.zeros(shape, bool)
    wide = np.max(radius[:, None] / vs[None, :], axis=1) > _WIDE
    if wide.any():
        _paint_wide(mask, vox[wide], radius[wide], vs)
        vox, radius = vox[~wide], radius[~wide]
    if not len(vox):
        return mask
    reach = np.ceil(radius[:, None] / vs[None, :] + 0.5).astype(np.int64)
    groups, inverse = np.unique(reach, axis=0, return_inverse=True)
    inverse = inverse.reshape(-1)
    centre = np.round(vox).astype(np.int64)
    for g, (rz, ry, rx) in enumerate(groups):
        offs = np.stack(np.meshgrid(np.arange(-rz, rz + 1), np.arange(-ry, ry + 1),
                                    np.arange(-rx, rx + 1), indexing="ij"), -1).reshape(-1, 3)
        members = np.flatnonzero(inverse == g)
        chunk = max(1, (1 << 21) // len(offs))
        for s in range(0, len(members), chunk):
            m = members[s:s + chunk]
            cand = centre[m][:, None, :] + offs[None]                       # (k, n_off, 3)
            dist2 = (((cand - vox[m][:, None, :]) * vs) ** 2).sum(-1)
            hit = (dist2 <= radius[m][:, None] ** 2) & \
                np.all((cand >= 0) & (cand < np.asarray(shape)), axis=-1)
            idx = cand[hit]
            mask[idx[:, 0], idx[:, 1], idx[:, 2]] = True
    return mask


def _paint_wide(mask, vox, radius, vs):
    """Paint wide balls into ``mask``, each in its box clipped to the volume (see _paint)."""
    shape = np.asarray(mask.shape)
    last = None
    for i in range(len(vox)):
        end = i + 1 == len(vox)
        if last is not None and not end:
            step = np.linalg.norm((vox[i] - vox[last]) * vs) + abs(radius[i] - radius[last])
            if step < radius[last] / 16:
                continue
        last = i
        reach = radius[i] / vs
        lo = np.maximum(np.floor(vox[i] - reach).astype(np.int64), 0)
        hi = np.minimum(np.ceil(vox[i] + reach).astype(np.int64) + 1, shape)
        if np.any(hi <= lo):
            continue  # the ball misses the volume
        zz, yy, xx = np.ogrid[lo[0]:hi[0], lo[1]:hi[1], lo[2]:hi[2]]
        d2 = (((zz - vox[i, 0]) * vs[0]) ** 2 + ((yy - vox[i, 1]) * vs[1]) ** 2
              + ((xx - vox[i, 2]) * vs[2]) ** 2)
        mask[lo[0]:hi[0], lo[1]:hi[1], lo[2]:hi[2]] |= d2 <= radius[i] ** 2


def render_neuron(tree, *, shape, voxel_size=(1.0, 0.5, 0.5), offset=(0.0, 0.0, 0.0), seed=0,
                  intensity=1.0, background=100.0, psf_sigma=(1.5, 0.4, 0.4), read_noise=4.0,
                  unevenness=0.35, min_radius=0.0):
    """Render an SWC tree as a fluorescence-like 3D stack, with its exact mask.

    Parameters
    ----------
    tree : SwcTree
        The neuron, physical SWC coordinates (x, y, z) in the unit of ``voxel_size``.
    shape : 3 ints
        Volume shape (z, y, x), each >= 4.
    voxel_size : 3 floats
        Voxel size (z, y, x). Default (1.0, 0.5, 0.5) um: light-sheet/confocal-like.
    offset : 3 floats
        Physical position (z, y, x) of the centre of voxel (0, 0, 0), to place
        the volume anywhere on a large tree.
    seed : int
        Seed of the brightness field and the noise.
    intensity : float
        Signal scale (>= 0): 1 gives ``PEAK_SIGNAL`` (400) photons per voxel in
        a neurite, before the PSF; lower it for "decreasing signal" experiments.
    background : float
        Mean background photons per voxel (> 0), with a slow haze (10 % standard
        deviation, ~25-unit correlation length).
    psf_sigma : 3 floats
        Standard deviation (z, y, x) of the Gaussian PSF in physical units;
        the default is (1.5, 0.8, 0.8) voxels at the default voxel size.
    read_noise : float
        Standard deviation of the additive Gaussian detector noise (photons).
    unevenness : float
        Log-standard deviation of the brightness along the neurites (0 = even);
        a smooth field with a ~6-unit correlation length.
    min_radius : float
        Radius floor applied before painting (e.g. 0.6 um so that thin real
        neurites stay visible at 0.5 um voxels); the returned tree has the
        floored radii.

    Returns
    -------
    NeuronStack
        ``image`` uint16 counts, ``mask`` bool, ``tree`` = the part of the
        tree inside the volume (:func:`emseg.tracing.crop_tree`).

    Notes
    -----
    The mask is, exactly: the voxels whose centre lies within the (linearly
    interpolated) radius of a point of the tree, with points every
    ``min(voxel_size) / 4`` along each edge. The expected image is
    ``blur(mask * brightness * 400 * intensity) + background * haze``,
    sampled with Poisson noise plus Gaussian read noise, rounded and clipped
    to uint16.

    Examples
    --------
    >>> t = SwcTree.from_nodes([[1, 1, 4, 8, 8, 2, -1], [2, 3, 12, 8, 8, 1, 1]])
    >>> img, mask, gt = render_neuron(t, shape=(16, 16, 32), voxel_size=(1.0, 1.0, 1.0))
    >>> img.dtype.name, mask.dtype.name, int(mask.sum()) > 50, len(gt)
    ('uint16', 'bool', True, 2)
    """
    if not isinstance(tree, SwcTree):
        raise TypeError(f"tree must be an SwcTree (see emseg.tracing.read_swc), "
                        f"got {type(tree).__name__}")
    if len(tree) == 0:
        raise ValueError("tree has no nodes; there is nothing to render")
    shape = _shape(shape)
    vs = _triple(voxel_size, "voxel_size")
    off = np.asarray(offset, dtype=np.float64)
    if off.shape != (3,) or not np.all(np.isfinite(off)):
        raise ValueError(f"offset must be 3 finite numbers (z, y, x), got {offset!r}")
    psf = _triple(psf_sigma, "psf_sigma", allow_zero=True)
    intensity = _number(intensity, "intensity")
    background = _number(background, "background", strict=True)
    read_noise = _number(read_noise, "read_noise")
    unevenness = _number(unevenness, "unevenness")
    min_radius = _number(min_radius, "min_radius")
    rng = np.random.default_rng(seed)

    tree = SwcTree(id=tree.id, type=tree.type, x=tree.x, y=tree.y, z=tree.z,
                   radius=np.maximum(tree.radius, min_radius), parent=tree.parent)
    widest = float(np.max(tree.radius)) if len(tree.radius) else 0.0
    if widest / float(np.min(vs)) > 2 * _WIDE:
        import warnings
        warnings.warn(f"the tree has a radius of {widest:g} ({widest / float(np.min(vs)):.0f} "
                      f"voxels of {tuple(float(v) for v in vs)}): check the SWC's units (some "
                      f"files give the soma a very large radius); it is painted "
                      f"as a ball of that size", stacklevel=2)
    dense = resample_tree(tree, spacing=float(vs.min()) / 4)
    vox = swc_to_voxel(dense.xyz, voxel_size=vs, offset=off)
    reach = dense.radius[:, None] / vs + 1
    near = np.all((vox > -reach) & (vox < np.asarray(shape) - 1 + reach), axis=1)
    mask = _paint(shape, vox[near], dense.radius[near], vs)
    if not mask.any():
        raise ValueError(f"no part of the tree falls inside the volume (shape {shape}, "
                         f"voxel_size {tuple(vs)}, offset {tuple(off)}); check the units "
                         f"and the offset")

    bright = np.exp(unevenness * smooth_noise(shape, vs, 6.0, rng) - unevenness ** 2 / 2)
    signal = np.where(mask, bright * np.float32(PEAK_SIGNAL * intensity), np.float32(0))
    signal = ndi.gaussian_filter(signal.astype(np.float32), psf / vs, mode="constant")
    haze = background * (1.0 + 0.1 * smooth_noise(shape, vs, 25.0, rng))
    counts = rng.poisson(np.clip(signal + haze, 0, None)).astype(np.float32)
    if read_noise > 0:
        counts += rng.normal(0.0, read_noise, shape).astype(np.float32)
    image = np.clip(np.round(counts), 0, 65535).astype(np.uint16)
    return NeuronStack(image, mask, crop_tree(tree, shape=shape, voxel_size=vs, offset=off))


def neuron_phantom(*, shape=(48, 128, 128), voxel_size=(1.0, 0.5, 0.5), seed=0, intensity=1.0,
                   n_neurites=None, background=100.0, read_noise=4.0):
    """A procedural neuron rendered as a light-microscopy stack, with exact ground truth.

    Parameters
    ----------
    shape : 3 ints
        Volume shape (z, y, x); the neuron fills the box ``shape * voxel_size``.
    voxel_size : 3 floats
        Voxel size (z, y, x) in um.
    seed : int
        One seed for the tree and the rendering: the same seed gives identical arrays.
    intensity : float
        Signal scale (see :func:`render_neuron`).
    n_neurites : int, optional
        Number of primary neurites (default random, 3 to 6).
    background, read_noise : float
        Mean background photons and detector noise (see :func:`render_neuron`).

    Returns
    -------
    NeuronStack
        ``image`` (uint16), ``mask`` (bool) and the ground-truth ``tree``. The
        tree depends on ``seed`` (and ``shape``, ``voxel_size``, ``n_neurites``)
        only, so stacks that differ in ``intensity``, ``background`` or
        ``read_noise`` show the same neuron with the same noise seed.

    Examples
    --------
    >>> image, mask, tree = neuron_phantom(shape=(24, 64, 64), seed=2)
    >>> image.shape, bool(mask.any()), int(tree.type[0])
    ((24, 64, 64), True, 1)
    """
    shape = _shape(shape)
    vs = _triple(voxel_size, "voxel_size")
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed must be an integer >= 0, got {seed!r}")
    tree_seed, render_seed = np.random.SeedSequence(int(seed)).generate_state(2)
    extent = (np.asarray(shape) - 1) * vs
    soma = float(np.clip(extent.min() / 6, 1.5, 4.0))
    tree = neuron_tree(extent=extent, seed=int(tree_seed), n_neurites=n_neurites,
                       soma_radius=soma, neurite_radius=min(1.3, soma / 2),
                       min_radius=max(0.6, float(vs.max()) * 0.5))
    return render_neuron(tree, shape=shape, voxel_size=vs, seed=int(render_seed),
                         intensity=intensity, background=background, read_noise=read_noise)


def neuron_pool(n, *, shape=(48, 128, 128), voxel_size=(1.0, 0.5, 0.5), seed=0,
                intensity=(0.08, 1.0), background=(60.0, 160.0), read_noise=(2.0, 8.0)):
    """``n`` phantom stacks with varied signal and noise: a candidate pool for training.

    Stack ``i`` is ``neuron_phantom(seed=seed * 100_003 + i, ...)`` with an intensity
    drawn log-uniformly from ``intensity`` and a background and read noise drawn
    uniformly from their ranges (one ``default_rng(seed)`` draws them all).

    Parameters
    ----------
    n : int
        Number of stacks.
    shape, voxel_size : 3 numbers
        As :func:`neuron_phantom`.
    seed : int
        Seed of the whole pool.
    intensity, background, read_noise : (low, high)
        Ranges of the rendering settings.

    Returns
    -------
    stacks : list of NeuronStack
    settings : list of dict
        ``seed``, ``intensity``, ``background``, ``read_noise`` of each stack.

    Examples
    --------
    >>> stacks, settings = neuron_pool(2, shape=(16, 32, 32), seed=1)
    >>> len(stacks), sorted(settings[0])
    (2, ['background', 'intensity', 'read_noise', 'seed'])
    """
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
        raise ValueError(f"n must be a positive integer, got {n!r}")
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed must be an integer >= 0, got {seed!r}")
    ranges = {}
    for name, rng_ in (("intensity", intensity), ("background", background),
                       ("read_noise", read_noise)):
        try:
            lo, hi = (float(v) for v in rng_)
        except (TypeError, ValueError):
            raise ValueError(f"{name} must be a (low, high) pair, got {rng_!r}") from None
        if not (np.isfinite(lo) and np.isfinite(hi) and 0 <= lo <= hi) or (
                name != "read_noise" and lo <= 0):
            raise ValueError(f"{name} must be a (low, high) pair with 0 < low <= high, "
                             f"got {rng_!r}")
        ranges[name] = (lo, hi)
    rng = np.random.default_rng(int(seed))
    stacks, settings = [], []
    for i in range(int(n)):
        lo, hi = ranges["intensity"]
        s = {"seed": int(seed) * 100_003 + i,
             "intensity": float(np.exp(rng.uniform(np.log(lo), np.log(hi)))),
             "background": float(rng.uniform(*ranges["background"])),
             "read_noise": float(rng.uniform(*ranges["read_noise"]))}
        stacks.append(neuron_phantom(shape=shape, voxel_size=voxel_size, **s))
        settings.append(s)
    return stacks, settings


def render_densest(tree, *, shape=(48, 128, 128), voxel_size=(1.0, 0.5, 0.5), min_radius=0.6,
                   **options):
    """Render the densest ``shape`` box of a large tree (e.g. a real morphology).

    Parameters
    ----------
    tree : SwcTree
        The neuron in the unit of ``voxel_size`` (um: convert real files with
        :meth:`SwcTree.scaled`, e.g. ``scaled(0.008)`` for 8 nm units).
    shape, voxel_size : 3 numbers
        The stack.
    min_radius : float
        Radius floor (0.6 um keeps thin neurites visible at 0.5 um voxels).
    **options
        Other :func:`render_neuron` options (``intensity``, ``seed``, ...).

    Returns
    -------
    stack : NeuronStack
        Its ``tree`` is in the input tree's coordinates.
    offset : tuple of float
        Physical (z, y, x) position of voxel (0, 0, 0) (:func:`emseg.tracing.densest_box`).
    """
    if not isinstance(tree, SwcTree):
        raise TypeError(f"tree must be an SwcTree (see emseg.tracing.read_swc), "
                        f"got {type(tree).__name__}")
    offset = tuple(float(v) for v in densest_box(tree, shape=shape, voxel_size=voxel_size))
    stack = render_neuron(tree, shape=shape, voxel_size=voxel_size, offset=offset,
                          min_radius=min_radius, **options)
    return stack, offset
