"""VoxResNet: the 3D residual network behind the neuron-tracing pipeline's probability maps.

As ``VoxResNet_3D`` of GTreeSoftware/DB-Enhance (the CNN of Huang et al. 2021,
"content-aware adaptive voxel scooping on CNN predicted probability maps"):

==========  ===========================================================  =====
block       layers                                                       scale
==========  ===========================================================  =====
stem        Conv3d 1->w k5 p2; BN + ReLU; Conv3d w->w k3 p1 -> x1        1
side 1      Conv3d w->C k3 p1 -> Conv3d C->C k1                          1
stage 2     BN + ReLU; Conv3d w->W k3 s2 p1; Res(W) x 2 -> x2            1/2
side 2      ConvTranspose3d W->C k2 s2 -> Conv3d C->C k1                 1
stage 3     BN + ReLU; Conv3d W->W k3 s2 p1; Res(W) x 2 -> x3            1/4
side 3      ConvTranspose3d W->C k4 s4 -> Conv3d C->C k1                 1
stage 4     BN + ReLU; Conv3d W->W k3 s2 p1; Res(W) x 2 -> x4            1/8
side 4      ConvTranspose3d W->C k8 s8 -> Conv3d C->C k1                 1
output      the SUM of the four side logits (no softmax)                 1
==========  ===========================================================  =====

with ``w = width`` (32) and ``W = stage_width`` (64) in the original: 1,714,688
trainable parameters for two classes. ``Res(W)`` is a pre-activation residual
block (BN, ReLU, Conv3d k3, BN, ReLU, Conv3d k3, plus the identity). Convolution
weights get Kaiming-normal initialisation (transposed convolutions keep PyTorch's
default), as the original. Padding is 'same': the output window is the input
window, whose sizes must be divisible by 8. The receptive fields of the four
branches are 9, 25, 61 and 133 voxels.

**Loss** (:func:`emseg.losses.voxres_loss`, the original ``DiceLossPlusCrossEntrophy``): with
softmax ``p`` and one-hot ``t`` over the whole batch and per-batch class weights
``w = [beta, 1 - beta]``, ``beta = n_foreground / n_voxels + 1e-5`` (the rare
foreground class gets the large weight)::

    L = 0.5 * CE_w + sum_c w_c * (1 - (2 sum p_c t_c + 1) / (sum p_c + sum t_c + 1))

Differences from the original, on purpose
-----------------------------------------
* Training goes through :func:`emseg.train.fit` (Adam; the ``voxresnet-cpu``
  preset decays the learning rate with a half cosine to 5 % over the run,
  ``TrainConfig.lr_schedule='cosine'``). The original used SGD (lr 0.01,
  momentum 0.9) with ``StepLR(step_size=1, gamma=0.5)`` stepped every epoch:
  the learning rate halved 100 times, so only the first ~10-15 epochs learned
  (reference quirk Q1).
* The loss runs on whatever device the logits are on (the original hard-coded
  ``.cuda()``, Q6) and in float32 under mixed precision. Validation in ``fit``
  scores tiled predictions (the original computed an unweighted loss, Q5).
* ``width``/``stage_width``/``blocks`` give small CPU variants; the defaults
  build the original. ``n_classes`` may exceed 2 (the weights then generalise
  to ``1 - class fraction``, normalised to sum to 1, which is the original's
  ``[beta, 1 - beta]`` for two classes).
* Error weights passed by ``fit`` (``Volume.weights``) multiply the per-voxel
  cross-entropy (``weights + config.weight_floor``); neuron stacks have none.
"""
import torch
from torch import nn

from emseg._validate import check_positive_int
from emseg.models._base import SegmentationNet

__all__ = ["VoxResNet"]

_STRIDE = 8  # three stride-2 stages


class _Res(nn.Module):
    """Pre-activation residual block: BN, ReLU, conv3, BN, ReLU, conv3, + identity."""

    def __init__(self, channels):
        super().__init__()
        self.body = nn.Sequential(
            nn.BatchNorm3d(channels), nn.ReLU(inplace=True),
            nn.Conv3d(channels, channels, 3, padding=1),
            nn.BatchNorm3d(channels), nn.ReLU(inplace=True),
            nn.Conv3d(channels, channels, 3, padding=1))

    def forward(self, x):
        return x + self.body(x)


def _stage(cin, cout, blocks):
    return nn.Sequential(nn.BatchNorm3d(cin), nn.ReLU(inplace=True),
                         nn.Conv3d(cin, cout, 3, stride=2, padding=1),
                         *[_Res(cout) for _ in range(blocks)])


class VoxResNet(SegmentationNet):
    """3D residual network with four summed side outputs (see the module docstring).

    Parameters
    ----------
    n_classes : int
        Output classes (2 in the original: background, neurite).
    in_channels : int
        Image channels.
    width : int
        Channels of the full-resolution stem (original 32).
    stage_width : int, optional
        Channels of the three down-sampled stages (original 64; default ``2 * width``).
    blocks : int
        Residual blocks per stage (original 2).

    Examples
    --------
    >>> net = VoxResNet(2, width=4, blocks=1)
    >>> net.output_window((16, 24, 32))
    ((16, 24, 32), (0, 0, 0))
    >>> net(torch.zeros(1, 1, 16, 24, 32)).shape
    torch.Size([1, 2, 16, 24, 32])
    """

    window_ndim = 3

    def __init__(self, n_classes=2, *, in_channels=1, width=32, stage_width=None, blocks=2):
        super().__init__()
        stage_width = 2 * width if stage_width is None else stage_width
        for name, v in (("n_classes", n_classes), ("in_channels", in_channels), ("width", width),
                        ("stage_width", stage_width), ("blocks", blocks)):
            check_positive_int(v, name=name)
        if n_classes < 2:
            raise ValueError(f"n_classes must be at least 2 (background and foreground), "
                             f"got {n_classes}")
        n_classes, in_channels, width = int(n_classes), int(in_channels), int(width)
        stage_width, blocks = int(stage_width), int(blocks)
        self._spec_kwargs = dict(n_classes=n_classes, in_channels=in_channels, width=width,
                                 stage_width=stage_width, blocks=blocks)
        self.n_classes, self.in_channels = n_classes, in_channels
        c, w, sw = n_classes, width, stage_width
        self.stem = nn.Sequential(nn.Conv3d(in_channels, w, 5, padding=2), nn.BatchNorm3d(w),
                                  nn.ReLU(inplace=True), nn.Conv3d(w, w, 3, padding=1))
        self.stages = nn.ModuleList([_stage(w, sw, blocks), _stage(sw, sw, blocks),
                                     _stage(sw, sw, blocks)])
        self.sides = nn.ModuleList(
            [nn.Sequential(nn.Conv3d(w, c, 3, padding=1), nn.Conv3d(c, c, 1))]
            + [nn.Sequential(nn.ConvTranspose3d(sw, c, f, stride=f), nn.Conv3d(c, c, 1))
               for f in (2, 4, 8)])
        for m in self.modules():  # as the original: Kaiming on Conv3d only
            if isinstance(m, nn.Conv3d):
                nn.init.kaiming_normal_(m.weight)
        self.default_window = (120, 120, 120)  # the original's training/inference patches

    def output_window(self, input_shape):
        """Same-padded: the output window is the input window (z, y, x), offset (0, 0, 0).

        Raises ValueError unless every size is a positive multiple of 8.
        """
        shape = tuple(int(s) for s in input_shape)
        if len(shape) != 3:
            raise ValueError(f"VoxResNet takes (z, y, x) windows, got {tuple(input_shape)}")
        for s, axis in zip(shape, "zyx"):
            if s < _STRIDE or s % _STRIDE:
                fit = [v for v in (_STRIDE * (s // _STRIDE), _STRIDE * (s // _STRIDE + 1)) if v > 0]
                raise ValueError(f"VoxResNet needs window sizes divisible by 8 (three stride-2 "
                                 f"stages); {axis}={s} is not (sizes that fit: {fit})")
        return shape, (0, 0, 0)

    def forward(self, x):
        if x.ndim != 5:
            raise ValueError(f"VoxResNet takes (N, C, z, y, x) tensors, got shape {tuple(x.shape)}")
        self.output_window(x.shape[2:])
        feats = [self.stem(x)]
        for stage in self.stages:
            feats.append(stage(feats[-1]))
        out = self.sides[0](feats[0])
        for side, f in zip(self.sides[1:], feats[1:]):
            out = out + side(f)
        return out

    def training_loss(self, output, target, weights=None, *, config=None):
        """The original loss, :func:`emseg.losses.voxres_loss`: ``(total, 0.5 * CE_w, weighted Dice term)``.

        With ``config.loss == 'dice_ce'`` the modern recipe's loss instead
        (:meth:`SegmentationNet.training_loss`: Dice + cross-entropy, ``config.class_weights``).
        Otherwise ``config`` (a TrainConfig) is used for ``weight_floor`` only, when error
        weights are given. The last two values are detached (``fit`` records them).
        """
        if config is not None and config.loss == "dice_ce":
            return super().training_loss(output, target, weights, config=config)
        if config is not None and config.class_weights is not None:
            raise ValueError("VoxResNet's own loss weighs the classes by their share in each "
                             "batch; config.class_weights needs loss='dice_ce'")
        from emseg.losses import voxres_loss  # lazily: the losses import the data layer

        floor = 0.01 if config is None else config.weight_floor
        total, ce, dice = voxres_loss(output, target, weights, floor=floor)
        return total, ce.detach(), dice.detach()


def __getattr__(name):
    """``voxres_loss`` and ``class_weights`` moved to :mod:`emseg.losses` (as
    ``voxres_loss`` and ``voxres_class_weights``); the old names work, with a
    DeprecationWarning, until emseg 1.0."""
    if name in ("voxres_loss", "class_weights"):
        import warnings

        from emseg import losses

        new = "voxres_loss" if name == "voxres_loss" else "voxres_class_weights"
        warnings.warn(f"emseg.models.voxresnet.{name} moved to emseg.losses.{new}",
                      DeprecationWarning, stacklevel=2)
        return getattr(losses, new)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
