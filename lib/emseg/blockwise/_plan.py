"""The block grid: which region (block + halo) each task predicts and which part it keeps.

Why the result equals the in-memory prediction
----------------------------------------------
:func:`emseg.infer.predict` places output windows every ``step`` voxels from the start
of what it is given, the last one flush with the end, and blends them. A block's
region starts at a multiple of ``step`` (block sizes and halos are multiples of it),
so the windows that cover the block's interior are exactly the windows of the whole-
volume grid that cover it: same inputs (the halo holds each window's whole input
window), same blending weights, same weight sums. Cropping the interior therefore
gives the in-memory result up to float round-off (the network sees the same windows in
different batches). At the volume's borders the region is clipped to the volume, so
the reflection padding and the flush last window are the whole volume's too.

Working resolution
------------------
A network with a working scale ``f`` (``model.working_scale`` or ``scale=``, binning
factors (z, y, x)) predicts a region binned by ``f`` and resamples the probabilities
back (:mod:`emseg.resample`). The same reasoning then holds on the binned grid, in
binned voxels, provided that the region bins exactly like the whole volume does:

* block starts, block sizes and halos are multiples of ``step x f`` input voxels, so a
  region starts on the binning grid and at a multiple of the binned window step, and
  it ends on the binning grid or at the volume's end (where :func:`~emseg.resample.downscale`
  repeats the same edge voxels as for the whole volume: the last block reaches the end);
* the binned halo holds one binned voxel more than above, because the trilinear
  upsampling (voxel centres aligned) of a block's first and last input voxels reads the
  binned voxel just outside the block; and the interpolation weights depend only on the
  position inside a bin, which is the same in the region and in the whole volume.

For an ensemble the requirements of all members hold at once (least common multiples
of their steps, the largest of their halos).
"""
import itertools
import math
import numbers
from dataclasses import dataclass

__all__ = ["BlockPlan", "axis_requirements"]

DEFAULT_BLOCK = (32, 512, 512)


def axis_requirements(geometries, overlap, *, scales=None):
    """Per axis (z, y, x): the step every block start, block size and halo must be a
    multiple of, and the smallest halo, for networks of the given window geometries.

    Parameters
    ----------
    geometries : list of emseg.models.Geometry
        Window geometry (input, output, offset) of each network, in voxels of its
        working resolution.
    overlap : tuple of float
        Overlap per axis (z, y, x) as :func:`emseg.infer.predict` uses it.
    scales : list of tuple of int, optional
        Working scale (z, y, x binning factors) of each network; default: all native
        (1, 1, 1).

    Returns
    -------
    (tuple of int, tuple of int)
        ``steps`` and ``min_halo``, in voxels of the input (native) grid: a network's
        window step (output window x (1 - overlap)) times its binning factor, the least
        common multiple over the networks; and the smallest multiple of ``steps`` that
        holds every network's halo (see the module notes).

    Examples
    --------
    >>> from emseg.models import Geometry
    >>> geom = Geometry((1, 32, 32), (1, 32, 32), (0, 0, 0))
    >>> axis_requirements([geom], (0.25,) * 3)
    ((1, 24, 24), (0, 48, 48))
    >>> axis_requirements([geom], (0.25,) * 3, scales=[(1, 2, 2)])
    ((1, 48, 48), (0, 96, 96))
    """
    scales = _check_scales(scales, len(geometries))
    steps, halos = [1, 1, 1], [0, 0, 0]
    for geom, scale in zip(geometries, scales):
        for a, (inp, out, off, ov, f) in enumerate(zip(geom.input, geom.output, geom.offset,
                                                        overlap, scale)):
            step = max(1, int(out * (1 - ov)))
            need = max(0, out + off - 1, inp - off - 1)
            if step > 1:
                need = max(need, out)  # the region's flush last window must miss the interior
            if f > 1:
                need += 1  # the upsampling of the block's edge voxels reads one binned voxel beyond
            unit = step * f  # in input voxels: starts on the binning grid and the binned window grid
            steps[a] = steps[a] * unit // math.gcd(steps[a], unit)
            halos[a] = max(halos[a], f * need)
    min_halo = tuple(-(-h // s) * s for h, s in zip(halos, steps))
    return tuple(steps), min_halo


def _check_scales(scales, n):
    """``scales`` as n (z, y, x) tuples of positive integers (None: all native)."""
    if scales is None:
        return ((1, 1, 1),) * n
    from emseg.resample import check_scale

    scales = tuple(check_scale(s) for s in scales)
    if len(scales) != n:
        raise ValueError(f"give one scale per network: {n} networks, {len(scales)} scales")
    return scales


@dataclass(frozen=True)
class Block:
    """One task: ``index`` in the block grid, ``interior`` (the voxels it writes), ``region``
    (the voxels it reads: interior + halo, clipped to the volume) and ``crop`` (the
    interior inside the region)."""
    index: tuple
    interior: tuple
    region: tuple
    crop: tuple


@dataclass(frozen=True)
class BlockPlan:
    """A checked block grid over a (z, y, x) volume (see :meth:`make`).

    ``steps`` are what block sizes and halos are multiples of, and ``scales`` the
    networks' working scales the plan was made for, one (z, y, x) tuple per network.
    """
    shape: tuple
    block: tuple
    halo: tuple
    chunks: tuple
    steps: tuple
    scales: tuple = ((1, 1, 1),)

    @classmethod
    def make(cls, shape, geometries, overlap, *, scales=None, block_size=None, halo=None,
             chunks=None):
        """Check block size, halo and output chunks against the networks and the volume.

        Parameters
        ----------
        shape : tuple of int
            The (z, y, x) volume shape.
        geometries : list of Geometry
            The networks' window geometries (in voxels of their working resolution).
        overlap : tuple of float
            Overlap per axis (z, y, x).
        scales : list of tuple of int, optional
            Each network's working scale (z, y, x binning factors); default: native.
        block_size : tuple of int, optional
            Interior of each block (z, y, x), in voxels of the volume. Default: about
            (32, 512, 512), rounded up to the step. An axis longer than the volume becomes
            one block. A given size must be a multiple of the step: the window step
            (output window x (1 - overlap)) times the working scale's factor.
        halo : int or tuple of int, optional
            Voxels of the volume read around each block. Default: the smallest that makes
            the result equal the in-memory prediction. A given halo must be at least that
            and a multiple of the step.
        chunks : tuple of int, optional
            Output zarr chunks (z, y, x); the block must be a multiple of them. Default:
            the block.

        Raises
        ------
        ValueError
            Saying which value is inconsistent and what would work.
        """
        shape = tuple(int(s) for s in shape)
        scales = _check_scales(scales, len(geometries))
        steps, min_halo = axis_requirements(geometries, overlap, scales=scales)
        axes = "zyx"
        block = _triple(block_size, "block_size") if block_size is not None else tuple(
            -(-d // s) * s for d, s in zip(DEFAULT_BLOCK, steps))
        block = tuple(min(b, n) for b, n in zip(block, shape))  # one block along short axes
        for a in range(3):
            if block[a] < shape[a] and block[a] % steps[a]:
                lo = max(steps[a], block[a] // steps[a] * steps[a])
                raise ValueError(
                    f"block_size along {axes[a]} is {block[a]}, not a multiple of the window step "
                    f"{steps[a]} ({_step_words(scales, a)}); use {lo} or {lo + steps[a]} "
                    "so that the blocks join without seams")
        if halo is None:
            halo = min_halo
        else:
            halo = _triple(halo, "halo", allow_zero=True)
            for a in range(3):
                if block[a] >= shape[a]:
                    continue  # one block along this axis: no halo needed
                if halo[a] < min_halo[a] or halo[a] % steps[a]:
                    scaled = any(s[a] > 1 for s in scales)
                    reach = ", plus one binned voxel for the upsampling to the input grid" \
                        if scaled else ""
                    step = f" ({_step_words(scales, a)})" if scaled else ""
                    raise ValueError(
                        f"halo along {axes[a]} is {halo[a]}; it must be at least {min_halo[a]} "
                        f"(the network's input window reaches that far{reach}) and a multiple of "
                        f"the window step {steps[a]}{step}: use "
                        f"{max(min_halo[a], -(-halo[a] // steps[a]) * steps[a])}")
        halo = tuple(0 if b >= n else h for b, h, n in zip(block, halo, shape))
        if chunks is None:
            chunks = block
        else:
            chunks = tuple(min(c, b) for c, b in zip(_triple(chunks, "chunks"), block))
            bad = [a for a in range(3) if block[a] % chunks[a] and block[a] < shape[a]]
            if bad:
                a = bad[0]
                multiples = [c * s // math.gcd(c, s) for c, s in zip(chunks, steps)]
                fit = tuple(b if b >= n else -(-b // m) * m
                            for b, m, n in zip(block, multiples, shape))
                raise ValueError(
                    f"block_size {block} is not a multiple of the output chunks {chunks} along "
                    f"{axes[a]}: two blocks would write the same chunk. Make the block a multiple "
                    f"of both the chunks and the window step {steps} (e.g. block {fit}) "
                    "or leave chunks out (chunks = block)")
        return cls(shape, block, halo, chunks, steps, scales)

    @property
    def grid(self):
        """Number of blocks along z, y, x."""
        return tuple(-(-n // b) for n, b in zip(self.shape, self.block))

    def __len__(self):
        return math.prod(self.grid)

    def blocks(self):
        """All :class:`Block` s, in z, y, x order."""
        for index in itertools.product(*(range(g) for g in self.grid)):
            yield self.block_at(index)

    def block_at(self, index):
        interior, region, crop = [], [], []
        for i, n, b, h in zip(index, self.shape, self.block, self.halo):
            start, stop = i * b, min(n, (i + 1) * b)
            lo, hi = max(0, start - h), min(n, stop + h)
            interior.append(slice(start, stop))
            region.append(slice(lo, hi))
            crop.append(slice(start - lo, stop - lo))
        return Block(tuple(index), tuple(interior), tuple(region), tuple(crop))

    def region_voxels(self):
        """Largest number of voxels one task reads (a guide to its memory)."""
        return math.prod(min(n, b + 2 * h) for n, b, h in zip(self.shape, self.block, self.halo))


def _step_words(scales, a):
    """What the step along axis ``a`` is made of, for error messages."""
    factors = sorted({s[a] for s in scales})
    if factors == [1]:
        return "output window x (1 - overlap)"
    axis = "zyx"[a]
    if len(factors) == 1:
        return (f"output window x (1 - overlap) at the working resolution, times its binning "
                f"factor {factors[0]} along {axis}, so that blocks start on the binning grid")
    return (f"output window x (1 - overlap) at each network's working resolution, times its "
            f"binning factor ({', '.join(map(str, factors))}) along {axis}: the least common "
            "multiple over the networks")


def _triple(value, name, allow_zero=False):
    if isinstance(value, numbers.Integral) and not isinstance(value, bool):
        value = (value,) * 3
    values = tuple(value) if hasattr(value, "__len__") and not isinstance(value, str) else ()
    low = 0 if allow_zero else 1
    if len(values) != 3 or not all(isinstance(v, numbers.Integral) and not isinstance(v, bool)
                                   and v >= low for v in values):
        raise ValueError(f"{name} must be {'a non-negative' if allow_zero else 'a positive'} integer "
                         f"or three of them (z, y, x), got {value!r}")
    return tuple(int(v) for v in values)
