"""A 3D U-Net for isotropic and anisotropic EM volumes.

EM stacks are often anisotropic: serial-section TEM has sections of 40-50 nm and
pixels of 4-5 nm (an anisotropy of about 10), SBF-SEM about 4, FIB-SEM about 1.
``anisotropy`` is the ratio **z spacing / xy spacing** (larger than 1 when the
sections are thicker than the pixels; the ReIsoSeg README states it the other way
round, quirk Q2 of the reference sheet).

**The pooling plan** (:func:`pooling_plan`, shared with :class:`~emseg.models.reisoseg.ReIsoSeg`).
Start with ``r = anisotropy``. At each pooling step, if ``r >= 2`` the z spacing is
still at least twice the xy spacing: pool in-plane only, ``(1, 2, 2)``, which halves
``r``; otherwise pool ``(2, 2, 2)``, which keeps ``r``. So z is pooled only at the
levels where the features are isotropic to within a factor of 2, as nnU-Net does.
The convolutions of a level are ``(1, 3, 3)`` while that level's ``r >= 2`` and
``(3, 3, 3)`` after (:func:`conv_kernels`).

============  ===========================================================
anisotropy    pools of a depth-4 net (z, y, x)
============  ===========================================================
1 (FIB-SEM)   (2,2,2) (2,2,2) (2,2,2) (2,2,2)
2             (1,2,2) (2,2,2) (2,2,2) (2,2,2)
4 (SBF-SEM)   (1,2,2) (1,2,2) (2,2,2) (2,2,2)
8             (1,2,2) (1,2,2) (1,2,2) (2,2,2)
10 (ssTEM)    (1,2,2) (1,2,2) (1,2,2) (2,2,2)
============  ===========================================================

The net has 'same' padding (the output window is the input window), two
conv-norm-LeakyReLU(0.01) layers per level, max pooling, transposed convolutions
with kernel = stride = the mirrored pool, skip concatenation ``[skip, up]`` and a
1x1x1 head. Level ``k`` has ``min(width * 2**k, max_width)`` channels (nnU-Net caps
3D nets at 320). Window sizes must be divisible by the product of the pools along
each axis (16 in y and x for depth 4).
"""
import math

import numpy as np
import torch
from torch import nn

from emseg._validate import check_positive_int
from emseg.models._base import SegmentationNet, make_norm

__all__ = ["UNet3D", "pooling_plan", "conv_kernels", "level_anisotropy", "default_window",
           "NORMS", "INPLANE_RATIO"]

NORMS = ("instance", "batch", "group", "none")
INPLANE_RATIO = 2.0  # pool in-plane only while z spacing / xy spacing >= this
_TOL = 1e-6          # so that e.g. 2 * (1 - 1e-12) still counts as 2


def _check_anisotropy(anisotropy):
    ok = (not isinstance(anisotropy, bool) and isinstance(anisotropy, (int, float, np.integer,
                                                                       np.floating))
          and math.isfinite(anisotropy) and anisotropy > 0)
    if not ok:
        raise ValueError(f"anisotropy must be a positive number (z spacing / xy spacing, e.g. "
                         f"10 for 46 nm sections with 4.6 nm pixels), got {anisotropy!r}")
    return float(anisotropy)


def level_anisotropy(anisotropy, depth):
    """The z/xy spacing ratio at each of the ``depth + 1`` levels of the pooling plan.

    Parameters
    ----------
    anisotropy : float
        z spacing / xy spacing of the input.
    depth : int
        Number of poolings.

    Returns
    -------
    tuple of float

    Examples
    --------
    >>> level_anisotropy(10.0, 4)
    (10.0, 5.0, 2.5, 1.25, 1.25)
    """
    r = _check_anisotropy(anisotropy)
    depth = int(check_positive_int(depth, name="depth"))
    ratios = [r]
    for _ in range(depth):
        if r >= INPLANE_RATIO - _TOL:
            r /= 2
        ratios.append(r)
    return tuple(ratios)


def pooling_plan(anisotropy, depth):
    """Pool sizes (z, y, x) of each pooling step for an anisotropic volume.

    Pool ``(1, 2, 2)`` while the current z spacing is at least twice the xy spacing
    (``r >= 2``; each such pool halves ``r``), then ``(2, 2, 2)``. See the module
    docstring for a table.

    Parameters
    ----------
    anisotropy : float
        z spacing / xy spacing (1 for isotropic voxels).
    depth : int
        Number of poolings.

    Returns
    -------
    tuple of tuple of int
        ``depth`` pools, the first one applied first.

    Examples
    --------
    >>> pooling_plan(1, 3)
    ((2, 2, 2), (2, 2, 2), (2, 2, 2))
    >>> pooling_plan(4, 4)
    ((1, 2, 2), (1, 2, 2), (2, 2, 2), (2, 2, 2))
    >>> pooling_plan(1.9, 2)  # less than 2: treated as isotropic enough
    ((2, 2, 2), (2, 2, 2))
    """
    ratios = level_anisotropy(anisotropy, depth)
    return tuple((1, 2, 2) if r >= INPLANE_RATIO - _TOL else (2, 2, 2) for r in ratios[:-1])


def conv_kernels(anisotropy, depth):
    """Convolution kernel of each of the ``depth + 1`` levels: (1, 3, 3) while r >= 2, else 3x3x3.

    Examples
    --------
    >>> conv_kernels(4, 3)
    ((1, 3, 3), (1, 3, 3), (3, 3, 3), (3, 3, 3))
    """
    return tuple((1, 3, 3) if r >= INPLANE_RATIO - _TOL else (3, 3, 3)
                 for r in level_anisotropy(anisotropy, depth))


def check_pools(pools):
    """Return ``pools`` as a tuple of (z, y, x) int triples, each value 1 or 2."""
    try:
        out = tuple(tuple(int(v) for v in p) for p in pools)
    except (TypeError, ValueError):
        out = None
    if not out or any(len(p) != 3 or any(v not in (1, 2) for v in p) or p[1:] != (2, 2)
                      for p in out):
        raise ValueError(f"pools must be a list of (z, y, x) pool sizes (1, 2, 2) or (2, 2, 2), "
                         f"got {pools!r}")
    return out


def default_window(pools, *, size=128):
    """A default (z, y, x) window for a pooling plan: ``size`` in-plane, z ~ physically cubic.

    z is about ``size / (z/xy anisotropy the plan resolves)`` voxels, rounded to a
    multiple of the product of the z pools (at least twice that product).

    Examples
    --------
    >>> default_window(pooling_plan(4, 4))
    (32, 128, 128)
    >>> default_window(pooling_plan(1, 4))
    (128, 128, 128)
    """
    pools = check_pools(pools)
    zmul = math.prod(p[0] for p in pools)
    ymul = math.prod(p[1] for p in pools)
    ani = math.prod(p[1] // p[0] for p in pools)  # in-plane-only pools resolve a factor 2 each
    xy = ymul * max(1, math.ceil(size / ymul))
    z = zmul * max(2, round(xy / ani / zmul))
    return (z, xy, xy)


def check_window(input_shape, pools, *, name, min_bottleneck=2):
    """Raise ValueError unless a (z, y, x) window fits ``pools``; return it as a tuple."""
    shape = tuple(int(s) for s in input_shape)
    if len(shape) != 3:
        raise ValueError(f"{name} takes (z, y, x) windows, got {tuple(input_shape)}")
    mult = tuple(math.prod(p[a] for p in pools) for a in range(3))
    for s, m, axis in zip(shape, mult, "zyx"):
        if s < m or s % m:
            fit = [v for v in (m * (s // m), m * (s // m + 1)) if v > 0]
            raise ValueError(f"{name} with pools {list(pools)} needs window sizes divisible by "
                             f"{mult} (z, y, x); {axis}={s} is not (sizes that fit: {fit})")
    bottom = math.prod(s // m for s, m in zip(shape, mult))
    if bottom < min_bottleneck:
        raise ValueError(f"{name}: window {shape} leaves a single voxel at the bottleneck, which "
                         f"instance normalisation cannot normalise; use a larger window")
    return shape


def _conv_block(cin, cout, kernel, norm):
    """Two conv -> norm -> LeakyReLU(0.01) layers with 'same' padding."""
    layers = []
    for a, b in ((cin, cout), (cout, cout)):
        layers += [nn.Conv3d(a, b, kernel, padding=tuple(k // 2 for k in kernel),
                             bias=norm in ("none", None)),
                   make_norm(norm, b, 3), nn.LeakyReLU(0.01, inplace=True)]
    return nn.Sequential(*layers)


class UNet3D(SegmentationNet):
    """3D U-Net with an anisotropy-aware pooling plan (see the module docstring).

    Parameters
    ----------
    n_classes : int
        Output classes.
    in_channels : int
        Image channels.
    width : int
        Channels of the first level (level k has ``width * 2**k``, at most ``max_width``).
    depth : int
        Number of poolings.
    anisotropy : float
        z spacing / xy spacing of the data (1: isotropic; ~10 for ssTEM).
    norm : {'instance', 'batch', 'group', 'none'}
        Normalisation after each convolution (instance: as nnU-Net; group: GroupNorm
        with ``gcd(8, channels)`` groups; none: convolutions get a bias instead).
    max_width : int
        Channel cap per level.

    Examples
    --------
    >>> net = UNet3D(2, width=4, depth=3, anisotropy=4)
    >>> net.pools
    ((1, 2, 2), (1, 2, 2), (2, 2, 2))
    >>> net.output_window((8, 32, 32))
    ((8, 32, 32), (0, 0, 0))
    >>> net(torch.zeros(1, 1, 8, 32, 32)).shape
    torch.Size([1, 2, 8, 32, 32])
    """

    window_ndim = 3

    def __init__(self, n_classes=2, *, in_channels=1, width=32, depth=4, anisotropy=1.0,
                 norm="instance", max_width=320):
        super().__init__()
        for name, v in (("n_classes", n_classes), ("in_channels", in_channels), ("width", width),
                        ("depth", depth), ("max_width", max_width)):
            check_positive_int(v, name=name)
        if norm not in NORMS and norm is not None:
            raise ValueError(f"norm must be one of {NORMS}, got {norm!r}")
        norm = "none" if norm is None else norm
        anisotropy = _check_anisotropy(anisotropy)
        n_classes, in_channels, width = int(n_classes), int(in_channels), int(width)
        depth, max_width = int(depth), int(max_width)
        self._spec_kwargs = dict(n_classes=n_classes, in_channels=in_channels, width=width,
                                 depth=depth, anisotropy=anisotropy, norm=norm,
                                 max_width=max_width)
        self.n_classes, self.in_channels = n_classes, in_channels
        self.width, self.depth, self.anisotropy, self.norm = width, depth, anisotropy, norm
        self.pools = pooling_plan(anisotropy, depth)
        self.kernels = conv_kernels(anisotropy, depth)
        widths = [min(width * 2 ** k, max_width) for k in range(depth + 1)]
        self.down = nn.ModuleList()
        cin = in_channels
        for w, k in zip(widths, self.kernels):
            self.down.append(_conv_block(cin, w, k, norm))
            cin = w
        self.pool_layers = nn.ModuleList(nn.MaxPool3d(p, stride=p) for p in self.pools)
        self.up = nn.ModuleList()
        self.dec = nn.ModuleList()
        for k in reversed(range(depth)):
            self.up.append(nn.ConvTranspose3d(widths[k + 1], widths[k], self.pools[k],
                                              stride=self.pools[k]))
            self.dec.append(_conv_block(2 * widths[k], widths[k], self.kernels[k], norm))
        self.head = nn.Conv3d(widths[0], n_classes, 1)
        for m in self.modules():  # He init for LeakyReLU, as nnU-Net
            if isinstance(m, (nn.Conv3d, nn.ConvTranspose3d)):
                nn.init.kaiming_normal_(m.weight, a=0.01)
                if m.bias is not None:
                    nn.init.zeros_(m.bias)
        self.default_window = default_window(self.pools)

    def output_window(self, input_shape):
        """Same-padded: the output window is the input window (z, y, x), offset (0, 0, 0).

        Raises ValueError when a size is not divisible by the product of the pools
        along its axis, naming sizes that fit.
        """
        shape = check_window(input_shape, self.pools, name="UNet3D",
                             min_bottleneck=2 if self.norm == "instance" else 1)
        return shape, (0, 0, 0)

    def forward(self, x):
        skips = []
        for k, block in enumerate(self.down):
            x = block(x)
            if k < self.depth:
                skips.append(x)
                x = self.pool_layers[k](x)
        for up, dec, skip in zip(self.up, self.dec, reversed(skips)):
            x = dec(torch.cat([skip, up(x)], dim=1))
        return self.head(x)
