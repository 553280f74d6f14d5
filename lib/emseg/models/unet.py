"""The 2D U-Net of Ronneberger et al. (2015), as in the platelet hub's example 3.

Original settings: 3x3 'valid' convolutions with ReLU (two per level), 2x2 max
pooling, 2x2 stride-2 transposed convolutions that halve the channels (no
activation), centre-cropped skip concatenation [skip, up], widths 64-128-256-512,
bottleneck 1024, a 1x1 conv to the classes. A 572x572 input gives a 388x388
output; at 7 classes the network has exactly 31,030,983 trainable parameters.

Difference from the original (Guay et al. 2021, ``genenet``): the original
applied a ReLU to the logits (quirk Q3 of the reference sheet), so negative
logits were impossible. ``UNet2D`` outputs plain logits unless ``faithful=True``.

``norm`` (not in the original) puts a normalisation layer between each convolution
and its ReLU (the convolution then has no bias) and uses He initialisation; the
default ``norm=None`` is the original network with its Glorot initialisation.
"""
import torch
from torch import nn

from emseg._validate import check_positive_int
from emseg.models._base import SegmentationNet, check_norm, crop_to, init_glorot, init_he, make_norm

__all__ = ["UNet2D"]


def _double_conv(cin, cout, padding, norm=None):
    """Two 3x3 convs with ReLU (and a norm layer before each ReLU, if any).

    Without ``norm`` the layers are the original's (conv, ReLU, conv, ReLU), so that
    state-dict keys stay those of converted weights.
    """
    layers = []
    for a, b in ((cin, cout), (cout, cout)):
        layers.append(nn.Conv2d(a, b, 3, padding=padding, bias=norm is None))
        if norm is not None:
            layers.append(make_norm(norm, b, 2))
        layers.append(nn.ReLU(inplace=True))
    return nn.Sequential(*layers)


class UNet2D(SegmentationNet):
    """2D U-Net.

    Parameters
    ----------
    n_classes : int
        Number of output classes (7 for the platelet data).
    in_channels : int
        Image channels (1 for EM).
    width : int
        Channels of the first level; level k has ``width * 2**k`` (original: 64).
    depth : int
        Number of poolings (original: 4, so the bottleneck has ``16 * width`` channels).
    padding : {'valid', 'same'}
        'valid' as the original (outputs shrink); 'same' keeps the window size, which must
        then be divisible by ``2**depth``.
    norm : {None, 'batch', 'group', 'instance'}
        Normalisation after every 3x3 convolution (None: the original, none).
    faithful : bool
        Apply the original's ReLU to the logits (only with ``norm=None``).

    Examples
    --------
    >>> net = UNet2D(7)
    >>> net.output_window((572, 572))
    ((388, 388), (92, 92))
    """

    window_ndim = 2

    def __init__(self, n_classes=7, *, in_channels=1, width=64, depth=4, padding="valid",
                 norm=None, faithful=False):
        super().__init__()
        if padding not in ("valid", "same"):
            raise ValueError(f"padding must be 'valid' or 'same', got {padding!r}")
        norm = check_norm(norm)
        if faithful and norm is not None:
            raise ValueError("faithful=True reproduces the original network, which has no "
                             "normalisation; use norm=None with faithful=True")
        for name, v in (("n_classes", n_classes), ("in_channels", in_channels),
                        ("width", width), ("depth", depth)):
            check_positive_int(v, name=name)
        n_classes, in_channels, width, depth = int(n_classes), int(in_channels), int(width), int(depth)
        self._spec_kwargs = dict(n_classes=n_classes, in_channels=in_channels, width=width,
                                 depth=depth, padding=padding, norm=norm, faithful=faithful)
        self.n_classes, self.in_channels = n_classes, in_channels
        self.width, self.depth, self.padding, self.faithful = width, depth, padding, faithful
        self.norm = norm
        pad = 0 if padding == "valid" else 1
        widths = [width * 2 ** k for k in range(depth + 1)]
        self.down = nn.ModuleList()
        cin = in_channels
        for w in widths:
            self.down.append(_double_conv(cin, w, pad, norm))
            cin = w
        self.up = nn.ModuleList()
        self.dec = nn.ModuleList()
        for w in reversed(widths[:-1]):
            self.up.append(nn.ConvTranspose2d(2 * w, w, 2, stride=2))
            self.dec.append(_double_conv(2 * w, w, pad, norm))
        self.head = nn.Conv2d(width, n_classes, 1)
        self.pool = nn.MaxPool2d(2)
        (init_glorot if norm is None else init_he)(self)
        self.default_window = (572, 572) if padding == "valid" else (256, 256)

    def output_window(self, input_shape):
        """Output shape and offset for an input window (y, x); see the class docstring."""
        out, off = [], []
        for s in input_shape:
            o = self._out_size(int(s))
            out.append(o)
            off.append((int(s) - o) // 2)
        return tuple(out), tuple(off)

    def _out_size(self, s):
        if self.padding == "same":
            if s % 2 ** self.depth or s < 2 ** self.depth:
                raise ValueError(f"a same-padded U-Net of depth {self.depth} needs window sizes "
                                 f"divisible by {2 ** self.depth}, got {s}")
            return s
        out = self._valid_out(s)
        if out is None:
            raise ValueError(f"window size {s} does not fit a valid U-Net of depth {self.depth}; "
                             f"sizes that do: {self.valid_sizes(near=s)}")
        return out

    def _valid_out(self, s):
        """Output size of a valid U-Net for input size ``s``, or None if ``s`` does not fit."""
        size = s
        for _ in range(self.depth):
            size -= 4
            if size < 2 or size % 2:
                return None
            size //= 2
        size -= 4
        if size < 1:
            return None
        for _ in range(self.depth):
            size = 2 * size - 4
        return size if size >= 1 else None

    def valid_sizes(self, near, count=4):
        """Input sizes closest to ``near`` that this (valid) U-Net accepts."""
        span = 2 ** (self.depth + 2)
        fits = [s for s in range(max(1, near - span), near + span + 1) if self._valid_out(s)]
        return sorted(sorted(fits, key=lambda v: abs(v - near))[:count])

    def forward(self, x):
        skips = []
        for k, block in enumerate(self.down):
            x = block(x)
            if k < self.depth:
                skips.append(x)
                x = self.pool(x)
        for up, dec, skip in zip(self.up, self.dec, reversed(skips)):
            x = up(x)
            x = dec(torch.cat([crop_to(skip, x.shape[2:]), x], dim=1))
        logits = self.head(x)
        return torch.relu(logits) if self.faithful else logits
