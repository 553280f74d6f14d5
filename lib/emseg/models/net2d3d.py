"""The 2D-3D+3x3x3 network of Guay et al. (2021), "Dense cellular segmentation for
EM using 2D-3D neural network ensembles", Sci. Rep. 11:2561.

A 2D-style U-Net on anisotropic 5-slice windows (1x3x3 convolutions, 1x2x2 pooling,
3x3x3 convolutions at the start of the blocks at scales 0 and 1) followed by a 3D
spatial-pyramid head on [2D features, 2D logits]. The network predicts twice:
auxiliary 2D logits and the final 3D logits. With the original settings
(``width=64``, ``pyramid_width=64``, 7 classes) a 1x5x300x300 window gives 5x296x296
outputs and the network has exactly 10,283,406 trainable parameters
(2D net 7,881,856; pyramid 2,400,640; each predictor 455).

Layers (n = ``width``; every conv has 'same' padding and a ReLU)::

    E0  c(1 -> n/2, 3x3x3)  c(n/2 -> n)  c(n -> n)                    scale 0
    E1  pool  c(n -> n, 3x3x3)  c(n -> 2n)  c(2n -> 2n)                scale 1
    E2  pool  c(2n -> 4n)  c(4n -> 4n)                                 scale 2
    B   pool  c(4n -> 8n)  c(8n -> 8n)                                 scale 3
    D2  up(8n -> 4n)  c(cat[E2, up] 8n -> 4n)  c(4n -> 4n)
    D1  up(4n -> n)   c(cat[E1, up] 3n -> n, 3x3x3)  c(n -> 2n)  c(2n -> 2n)
    D0  up(2n -> n/2) c(cat[E0, up] 3n/2 -> n/2, 3x3x3)  c(n/2 -> n)  c(n -> n)  = F
    predictor_2d: 1x1x1 conv n -> classes = L2
    pyramid (p = pyramid_width) on cat[F, L2]:
      path 0: c(n+C -> p, 3x3x3), 2 x c(p -> p, 3x3x3)
      path 1: pool, c(n+C -> 2p, 3x3x3), 4 x c(2p -> 2p, 3x3x3), c(2p -> p, 1x1x1),
              up(p -> p, 2x2x2)
      path 0 + path 1 -> predictor_3d: 1x1x1 conv p -> classes = L3

Unmarked convs are 1x3x3; ``up`` is a transposed conv with kernel = stride = 1x2x2,
bias, no activation; pooling is 1x2x2 max pooling (floor).

``faithful=True`` reproduces the original TensorFlow graph exactly, so that the
published trained weights can be loaded:

* ReLU on both logits (quirk Q3), and the ReLU'd 2D logits feed the pyramid;
* skips are centre-cropped (start ``(size - target) // 2``), which for 300 -> 296
  crops at 0, 1, 2 while the up-sampled path is aligned at 0: a 1-2 pixel misalignment;
* the pyramid's 2x2x2 up-convolution doubles z (5 -> 10) and is centre-cropped back
  (z[2:7] for 5 slices), so path 1 lands about one slice off (quirk Q5).

The default (``faithful=False``) fixes these, with the same layers and parameter count:

* plain logits (no ReLU) for both predictors; the pyramid sees the plain 2D logits;
* skips are cropped from the start, which is where floor pooling and the
  up-convolutions align them, so every concatenation joins the same voxels;
  the output window then starts at the input window's first voxel;
* the pyramid's up-sampled z pairs (2k, 2k+1), which both come from slice k,
  are averaged, so path 1 stays aligned with path 0 in z.

``norm`` (not in the original) puts a normalisation layer between every convolution
and its ReLU, in the 2D net and the pyramid (not in the 1x1x1 predictors), and uses
He initialisation; ``norm=None`` is the original layer list with Glorot initialisation.
"""
import torch
from torch import nn
import torch.nn.functional as F

from emseg._validate import check_positive_int
from emseg.models._base import SegmentationNet, check_norm, crop_to, init_glorot, init_he, make_norm

__all__ = ["Net2D3D"]


def _conv(cin, cout, k, norm=None):
    """Conv3d with 'same' padding, a normalisation layer (if any) and a ReLU; ``k`` is (kz, ky, kx).

    Without ``norm`` the layers are the original's (conv, ReLU), so that state-dict keys
    stay those of converted weights.
    """
    conv = nn.Conv3d(cin, cout, k, padding=tuple(s // 2 for s in k), bias=norm is None)
    if norm is None:
        return nn.Sequential(conv, nn.ReLU(inplace=True))
    return nn.Sequential(conv, make_norm(norm, cout, 3), nn.ReLU(inplace=True))


K3 = (3, 3, 3)
K2 = (1, 3, 3)


class Net2D3D(SegmentationNet):
    """2D-3D+3x3x3 network (see the module docstring for the layers).

    Parameters
    ----------
    n_classes : int
        Output classes (7 for the platelet data).
    in_channels : int
        Image channels.
    width : int
        Width n of the 2D net (original 64; must be even).
    pyramid_width : int
        Width p of the 3D pyramid (original 64, independent of ``width``).
    norm : {None, 'batch', 'group', 'instance'}
        Normalisation after every convolution but the predictors (None: the original).
    faithful : bool
        Reproduce the original graph's data flow exactly (for converted weights; only
        with ``norm=None``).

    Notes
    -----
    ``forward`` returns ``(logits_3d, logits_2d)``, both (N, C, Z, Y', X'); the
    3D logits are the network's prediction, the 2D ones feed the auxiliary loss.
    """

    window_ndim = 3
    default_window = (5, 300, 300)

    def __init__(self, n_classes=7, *, in_channels=1, width=64, pyramid_width=64, norm=None,
                 faithful=False):
        super().__init__()
        norm = check_norm(norm)
        if faithful and norm is not None:
            raise ValueError("faithful=True reproduces the original graph, which has no "
                             "normalisation; use norm=None with faithful=True")
        for name, v in (("n_classes", n_classes), ("in_channels", in_channels),
                        ("width", width), ("pyramid_width", pyramid_width)):
            check_positive_int(v, name=name)
        n_classes, in_channels = int(n_classes), int(in_channels)
        width, pyramid_width = int(width), int(pyramid_width)
        if width % 2:
            raise ValueError(f"width must be even (the first conv has width/2 channels), got {width}")
        self._spec_kwargs = dict(n_classes=n_classes, in_channels=in_channels, width=width,
                                 pyramid_width=pyramid_width, norm=norm, faithful=faithful)
        self.n_classes, self.in_channels = n_classes, in_channels
        self.width, self.pyramid_width, self.faithful = width, pyramid_width, faithful
        self.norm = norm
        n, h, p = width, width // 2, pyramid_width
        self.enc0 = nn.Sequential(_conv(in_channels, h, K3, norm), _conv(h, n, K2, norm),
                                  _conv(n, n, K2, norm))
        self.enc1 = nn.Sequential(_conv(n, n, K3, norm), _conv(n, 2 * n, K2, norm),
                                  _conv(2 * n, 2 * n, K2, norm))
        self.enc2 = nn.Sequential(_conv(2 * n, 4 * n, K2, norm), _conv(4 * n, 4 * n, K2, norm))
        self.bottom = nn.Sequential(_conv(4 * n, 8 * n, K2, norm), _conv(8 * n, 8 * n, K2, norm))
        self.up2 = nn.ConvTranspose3d(8 * n, 4 * n, (1, 2, 2), stride=(1, 2, 2))
        self.dec2 = nn.Sequential(_conv(8 * n, 4 * n, K2, norm), _conv(4 * n, 4 * n, K2, norm))
        self.up1 = nn.ConvTranspose3d(4 * n, n, (1, 2, 2), stride=(1, 2, 2))
        self.dec1 = nn.Sequential(_conv(3 * n, n, K3, norm), _conv(n, 2 * n, K2, norm),
                                  _conv(2 * n, 2 * n, K2, norm))
        self.up0 = nn.ConvTranspose3d(2 * n, h, (1, 2, 2), stride=(1, 2, 2))
        self.dec0 = nn.Sequential(_conv(n + h, h, K3, norm), _conv(h, n, K2, norm),
                                  _conv(n, n, K2, norm))
        self.predictor_2d = nn.Conv3d(n, n_classes, 1)
        c = n + n_classes
        self.path0 = nn.Sequential(_conv(c, p, K3, norm), _conv(p, p, K3, norm),
                                   _conv(p, p, K3, norm))
        self.path1 = nn.Sequential(_conv(c, 2 * p, K3, norm),
                                   *[_conv(2 * p, 2 * p, K3, norm) for _ in range(4)],
                                   _conv(2 * p, p, (1, 1, 1), norm))
        self.path1_up = nn.ConvTranspose3d(p, p, (2, 2, 2), stride=(2, 2, 2))
        self.predictor_3d = nn.Conv3d(p, n_classes, 1)
        self.pool = nn.MaxPool3d((1, 2, 2))
        (init_glorot if norm is None else init_he)(self)

    def output_window(self, input_shape):
        """Output shape and offset for an input window (z, y, x).

        In-plane sizes shrink to ``8 * (size // 8)``; z is kept. The offset is where
        the output starts inside the input: centred in faithful mode (2 for 300),
        0 otherwise.
        """
        z, y, x = (int(s) for s in input_shape)
        if z < 1 or y < 16 or x < 16:
            raise ValueError(f"Net2D3D needs windows of at least 1x16x16 voxels, got {tuple(input_shape)}")
        out = (z, 8 * (y // 8), 8 * (x // 8))
        if self.faithful:
            off = (0, (y - out[1]) // 2, (x - out[2]) // 2)
        else:
            off = (0, 0, 0)
        return out, off

    def _cat(self, skip, up):
        return torch.cat([crop_to(skip, up.shape[2:], centre=self.faithful), up], dim=1)

    def forward(self, x):
        e0 = self.enc0(x)
        e1 = self.enc1(self.pool(e0))
        e2 = self.enc2(self.pool(e1))
        b = self.bottom(self.pool(e2))
        d2 = self.dec2(self._cat(e2, self.up2(b)))
        d1 = self.dec1(self._cat(e1, self.up1(d2)))
        feats = self.dec0(self._cat(e0, self.up0(d1)))
        logits_2d = self.predictor_2d(feats)
        if self.faithful:
            logits_2d = F.relu(logits_2d)
        head_in = torch.cat([feats, logits_2d], dim=1)
        p0 = self.path0(head_in)
        p1 = self.path1_up(self.path1(self.pool(head_in)))
        if self.faithful:
            p1 = crop_to(p1, p0.shape[2:], centre=True)
        else:
            p1 = 0.5 * (p1[:, :, 0::2] + p1[:, :, 1::2])
        logits_3d = self.predictor_3d(p0 + p1)
        if self.faithful:
            logits_3d = F.relu(logits_3d)
        return logits_3d, logits_2d
