"""ReIsoSeg (Guo et al., IEEE TMI 2024, doi 10.1109/TMI.2024.3511599): a compact residual
3D U-Net for anisotropic EM with a training-only pseudo-isotropic (PI) module.

Written from the method's description (reference sheet ``reisoseg.md``), not from its code.

**Anisotropic branch** (the network used at inference). Blocks are
conv -> InstanceNorm (affine) -> LeakyReLU(0.01), and residual blocks after
Superhuman's RSUNet: a (1, 3, 3) conv, then two 3x3x3 convs added back as a residual,
then InstanceNorm + LeakyReLU. Channels ``features = (28, 36, 48, 64, 80)``::

    x1  = res(conv(1x5x5)(x))                     28  full resolution
    x2  = res(pool1(x1)); x3 = res(pool2(x2)); x4 = res(pool3(x3))      36, 48, 64
    x5  = res(pool4(x4))                          80  bottleneck
    x6  = res([up1(x5), x4]);  x7 = res([up2(x6), x3])
    x8  = res([up3(x7), x2]);  x9 = res([up4(x8), x1]);  x10 = conv(1x5x5)(x9)

The pools come from :func:`~emseg.models.unet3d.pooling_plan` (``anisotropy``) or are
given (``pools``; :func:`original_pools` turns the original ``ani_scale`` into them).
Up-convolutions have kernel = stride = the mirrored pool.

**PI module** (training only; :class:`PIModule`). It takes the skips x2, x3, x4:

1. squeezes their channels to C/4 with 1x1x1 convs;
2. makes them pseudo-isotropic: with probability 0.8 z is up-sampled (nearest) by the
   factor ``s`` the remaining in-plane-only pools would have resolved (``s`` = 4, 2, 1
   for x2, x3, x4 with anisotropy 4); with probability 0.1 each, x (dim 4) or y
   (dim 3) is first sub-sampled by ``s`` and up-sampled back (an artificial
   anisotropy along that axis), then z is up-sampled;
3. permutes the spatial axes at random (one of: swap z-x, swap z-y, swap y-x,
   identity), the same permutation at all three scales;
4. runs a small isotropic U-Net: ``k2 s2`` convs down, residual blocks, ConvNeXt-style
   skip blocks (2 x [depthwise 7x7x7, LayerNorm, grouped 1x1x1 C -> 4C, GELU, grouped
   1x1x1 4C -> C, layer scale 1e-6, residual] + LayerNorm), ``k2 s2`` up-convs;
5. undoes the permutation, down-samples z back by ``s`` (nearest) and expands the
   channels back with 1x1x1 convs.

**Isotropic branch**: the same decoder (shared weights) runs again with the PI
outputs in place of the skips x4, x3, x2 (same bottleneck x5 and skip x1).

**Heads and loss**: six 1x1x1 heads on [x10_iso, x9_iso, x8_iso, x10, x9, x8]
(heads 2 and 5 at the resolution after pool 1, against labels sub-sampled by that
pool). Each head's loss is soft Dice (batch Dice, no background, smooth 1e-5) plus
cross-entropy; deep-supervision weights ``[1, .5, .25, 1, .5, .25] / 3.5``;
``L = (1 - alpha) * L_iso + alpha * L_ani`` with ``alpha = 0.5``. The two branches are
tied only through the shared decoder and the shared labels; there is no explicit
consistency term.

**Size.** With ``pools=original_pools([1, 2, 2])`` and 2 classes the network has
1,693,661 parameters (the original: about 1.698 M, which includes about 3 k unused
convs, Q3), 81,037 of them in the PI module.

**Inference** uses only the anisotropic branch: in eval mode ``forward`` (and
:meth:`ReIsoSeg.predict_logits` in any mode) runs the encoder, the decoder and head 3,
so the PI module costs nothing at inference (it is about 5 % of the parameters).

Differences from the original (quirks of the reference sheet, section 8):

* Q1: the branch weight is called ``alpha``, not ``ani_scale`` (which named both the
  anisotropy list and this weight); the anisotropy is ``anisotropy`` or ``pools``.
* Q2: ``anisotropy`` is z spacing / xy spacing (the README said it backwards).
* Q3: the unused "compress block" convs are not built (about 3 k fewer parameters).
* Q4: :func:`emseg.train.fit` validates through ``predict_logits``, i.e. the
  anisotropic branch that inference uses (the original logged the iso branch's loss
  and pseudo-Dice); :meth:`~ReIsoSeg.training_loss` reports ``L_ani`` as the main loss
  and ``L_iso`` as the auxiliary one.
* Q5: no unused patch constants: training uses ``config.window``, else the network's
  ``default_window`` (about physically cubic, 128 in-plane).
* Q6, Q7: no pinned GPU (``device=None`` picks one) and the anisotropy is a constructor
  argument (and a config key), not a trainer subclass per value.
* The original interleaves pools as ``ani_scale`` says (isotropic pools first); the
  default plan pools in-plane first, so that z is pooled only where features are
  isotropic. ``pools=original_pools(ani_scale)`` reproduces the original order.
* The Dice term is ``1 - Dice`` (nnU-Net v1 uses ``-Dice``): a constant shift, the same
  gradients. When error weights are given, the cross-entropy term is weighted as in
  the platelet recipe (``weights + config.weight_floor``).
* Random choices use torch's global generator, so :func:`emseg.train.fit` resumes exactly.
"""
import torch
from torch import nn
import torch.nn.functional as F

from emseg._validate import check_positive_int
from emseg.models._base import SegmentationNet
from emseg.models.unet3d import check_pools, check_window, default_window, pooling_plan

__all__ = ["ReIsoSeg", "PIModule", "original_pools", "pi_z_factors", "FEATURES", "DS_WEIGHTS", "SUB_AXIS_P", "PERMUTATIONS"]

FEATURES = (28, 36, 48, 64, 80)
DS_WEIGHTS = tuple(w / 3.5 for w in (1.0, 0.5, 0.25, 1.0, 0.5, 0.25))
SUB_AXIS_P = {"z": 0.8, "x": 0.1, "y": 0.1}   # artificial-anisotropy axis probabilities
PERMUTATIONS = ((0, 1, 4, 3, 2), (0, 1, 3, 2, 4), (0, 1, 2, 4, 3), (0, 1, 2, 3, 4))  # self-inverse


def original_pools(ani_scale):
    """The original network's pools for its ``ani_scale`` list (3 values, each 1 or 2).

    Value 2 pools (1, 2, 2), value 1 pools (2, 2, 2), for stages 1-3; stage 4 always
    pools (2, 2, 2).

    Examples
    --------
    >>> original_pools([1, 2, 2])  # ReIsoSegRMA4V6Trainer, anisotropy 4
    ((2, 2, 2), (1, 2, 2), (1, 2, 2), (2, 2, 2))
    """
    values = list(ani_scale) if not isinstance(ani_scale, (str, bytes)) else None
    if values is None or len(values) != 3 or any(v not in (1, 2) for v in values):
        raise ValueError(f"ani_scale must be 3 values, each 1 or 2 (their product is the "
                         f"z/xy anisotropy), got {ani_scale!r}")
    return tuple((1, 2, 2) if v == 2 else (2, 2, 2) for v in values) + ((2, 2, 2),)


def pi_z_factors(pools):
    """z up-sampling factors of the skips x2, x3, x4 that make them pseudo-isotropic.

    The factor of a skip is the anisotropy that the in-plane-only pools between it
    and x4 resolve: 2 per (1, 2, 2) pool. x4's factor is 1 (it is taken as isotropic).

    Examples
    --------
    >>> pi_z_factors(original_pools([1, 2, 2]))  # the original's z_stage1, z_stage2, 1
    (4, 2, 1)
    >>> pi_z_factors(pooling_plan(4, 4))
    (2, 1, 1)
    """
    pools = check_pools(pools)
    factor = [2 if p[0] == 1 else 1 for p in pools]
    return (factor[1] * factor[2], factor[2], 1)


def _cdnn(cin, cout, kernel):
    """Conv (same padding) -> InstanceNorm (affine) -> LeakyReLU(0.01)."""
    return nn.Sequential(nn.Conv3d(cin, cout, kernel, padding=tuple(k // 2 for k in kernel)),
                         nn.InstanceNorm3d(cout, affine=True), nn.LeakyReLU(0.01, inplace=True))


class _ResBlock(nn.Module):
    """(1, 3, 3) conv block, then two 3x3x3 convs added as a residual, then IN + LeakyReLU."""

    def __init__(self, cin, cout):
        super().__init__()
        self.conv_in = _cdnn(cin, cout, (1, 3, 3))
        self.conv_a = _cdnn(cout, cout, (3, 3, 3))
        self.conv_b = nn.Conv3d(cout, cout, 3, padding=1)
        self.norm = nn.InstanceNorm3d(cout, affine=True)
        self.act = nn.LeakyReLU(0.01, inplace=True)

    def forward(self, x):
        x = self.conv_in(x)
        return self.act(self.norm(x + self.conv_b(self.conv_a(x))))


class _UXBlock(nn.Module):
    """ConvNeXt / 3D UX-Net block: depthwise 7^3, LayerNorm, grouped MLP, layer scale, residual."""

    def __init__(self, c):
        super().__init__()
        self.dw = nn.Conv3d(c, c, 7, padding=3, groups=c)
        self.norm = nn.LayerNorm(c)  # channels-last
        self.pw1 = nn.Conv3d(c, 4 * c, 1, groups=c)
        self.pw2 = nn.Conv3d(4 * c, c, 1, groups=c)
        self.gamma = nn.Parameter(torch.full((c,), 1e-6))

    def forward(self, x):
        y = self.norm(self.dw(x).movedim(1, -1)).movedim(-1, 1)
        y = self.pw2(F.gelu(self.pw1(y)))
        return x + self.gamma.view(1, -1, 1, 1, 1) * y


class _SkipBlock(nn.Module):
    """Two UX blocks and a channels-first LayerNorm (the PI net's skip path)."""

    def __init__(self, c):
        super().__init__()
        self.blocks = nn.Sequential(_UXBlock(c), _UXBlock(c))
        self.norm = nn.LayerNorm(c)

    def forward(self, x):
        return self.norm(self.blocks(x).movedim(1, -1)).movedim(-1, 1)


def _pseudo_isotropic(x, factor, axis):
    """Step 2: optional artificial anisotropy along x/y, then z up-sampling by ``factor``."""
    if factor == 1:
        return x
    d, h, w = x.shape[2:]
    if axis == "x":  # dim 4
        x = F.interpolate(x, size=(d, h, max(1, w // factor)), mode="nearest")
        x = F.interpolate(x, size=(d, h, w), mode="nearest")
    elif axis == "y":  # dim 3
        x = F.interpolate(x, size=(d, max(1, h // factor), w), mode="nearest")
        x = F.interpolate(x, size=(d, h, w), mode="nearest")
    return F.interpolate(x, size=(d * factor, h, w), mode="nearest")


class PIModule(nn.Module):
    """The training-only pseudo-isotropic module (steps 1-6 of the module docstring).

    Parameters
    ----------
    channels : tuple of int
        Channels of the skips x2, x3, x4 (36, 48, 64 in the original).
    z_factors : tuple of int
        z up-sampling factors of x2, x3, x4 (see :func:`pi_z_factors`).
    """

    def __init__(self, channels, z_factors):
        super().__init__()
        self.z_factors = tuple(int(f) for f in z_factors)
        q2, q3, q4 = (max(1, c // 4) for c in channels)
        self.squeeze = nn.ModuleList(nn.Conv3d(c, q, 1) for c, q in zip(channels, (q2, q3, q4)))
        self.down2 = nn.Conv3d(q2, q3, 2, stride=2)
        self.enc3 = _ResBlock(2 * q3, q3)
        self.down3 = nn.Conv3d(q3, q4, 2, stride=2)
        self.enc4 = _ResBlock(2 * q4, q4)
        self.pi1, self.pi2, self.pi3 = _SkipBlock(q2), _SkipBlock(q3), _SkipBlock(q4)
        self.up4 = nn.ConvTranspose3d(q4, q3, 2, stride=2)
        self.dec3 = _ResBlock(2 * q3, q3)
        self.up3 = nn.ConvTranspose3d(q3, q2, 2, stride=2)
        self.dec2 = _ResBlock(2 * q2, q2)
        # the outputs replace x4, x3, x2 in the decoder
        self.expand = nn.ModuleList(nn.Conv3d(q, c, 1) for q, c in
                                    zip((q4, q3, q2), tuple(reversed(channels))))

    def forward(self, x2, x3, x4, *, axis_sub, axis_rot):
        """Return the skips (x5_skip, x6_skip, x7_skip) that replace (x4, x3, x2).

        ``axis_sub`` is 'z', 'x' or 'y' (step 2); ``axis_rot`` indexes
        :data:`PERMUTATIONS` (step 3).
        """
        perm = PERMUTATIONS[axis_rot]
        subs = [_pseudo_isotropic(sq(x), f, axis_sub).permute(perm)
                for sq, x, f in zip(self.squeeze, (x2, x3, x4), self.z_factors)]
        s2, s3, s4 = subs
        i3 = self.enc3(torch.cat([s3, self.down2(s2)], dim=1))
        i4 = self.enc4(torch.cat([s4, self.down3(i3)], dim=1))
        i5 = self.pi3(i4)
        i6 = self.dec3(torch.cat([self.up4(i5), self.pi2(i3)], dim=1))
        i7 = self.dec2(torch.cat([self.up3(i6), self.pi1(s2)], dim=1))
        out = []
        for feat, like, expand in zip((i5, i6, i7), (x4, x3, x2), self.expand):
            feat = feat.permute(perm)  # each permutation is its own inverse
            if feat.shape[2:] != like.shape[2:]:  # down-sample z back (nearest)
                feat = F.interpolate(feat, size=like.shape[2:], mode="nearest")
            out.append(expand(feat))
        return tuple(out)


class ReIsoSeg(SegmentationNet):
    """ReIsoSeg: residual 3D U-Net + training-only PI module (see the module docstring).

    Parameters
    ----------
    n_classes : int
        Output classes.
    in_channels : int
        Image channels.
    features : tuple of 5 int
        Channels of the four levels and the bottleneck (original: 28, 36, 48, 64, 80).
    anisotropy : float, optional
        z spacing / xy spacing; sets the pools with
        :func:`~emseg.models.unet3d.pooling_plan`. Default 4 (the original launcher's
        ``ReIsoSegRMA4V6Trainer``) when ``pools`` is not given either.
    pools : sequence of 4 (z, y, x), optional
        Explicit pools instead of ``anisotropy``, e.g. ``original_pools([1, 2, 2])``.
    alpha : float
        Weight of the anisotropic branch in ``(1 - alpha) * L_iso + alpha * L_ani``.
        ``alpha = 1`` turns the PI branch off: training then does not run it.

    Notes
    -----
    In training mode ``forward`` returns the six head logits
    ``(iso x10, iso x9, iso x8, ani x10, ani x9, ani x8)``; in eval mode it returns the
    anisotropic logits (head 3) only, without running the PI module.

    Examples
    --------
    >>> net = ReIsoSeg(2, features=(4, 4, 8, 8, 8), anisotropy=4)
    >>> net.pools, net.z_factors
    (((1, 2, 2), (1, 2, 2), (2, 2, 2), (2, 2, 2)), (2, 1, 1))
    >>> net.eval()(torch.zeros(1, 1, 8, 32, 32)).shape
    torch.Size([1, 2, 8, 32, 32])
    """

    window_ndim = 3

    def __init__(self, n_classes=2, *, in_channels=1, features=FEATURES, anisotropy=None,
                 pools=None, alpha=0.5):
        super().__init__()
        check_positive_int(n_classes, name="n_classes")
        check_positive_int(in_channels, name="in_channels")
        features = tuple(features) if not isinstance(features, (str, bytes)) else ()
        if len(features) != 5:
            raise ValueError(f"features must be 5 channel counts (4 levels and the bottleneck), "
                             f"got {features!r}")
        features = tuple(check_positive_int(f, name="features") for f in features)
        if anisotropy is not None and pools is not None:
            raise ValueError("give anisotropy or pools, not both (pools fixes the anisotropy)")
        given = None if pools is None else check_pools(pools)
        pools = given or pooling_plan(4.0 if anisotropy is None else anisotropy, 4)
        if len(pools) != 4:
            raise ValueError(f"ReIsoSeg has 4 poolings; got {len(pools)} pools {list(pools)}")
        if isinstance(alpha, bool) or not isinstance(alpha, (int, float)) or not 0 <= alpha <= 1:
            raise ValueError(f"alpha must be a number in [0, 1], got {alpha!r}")
        n_classes, in_channels = int(n_classes), int(in_channels)
        self._spec_kwargs = dict(n_classes=n_classes, in_channels=in_channels, features=features,
                                 anisotropy=None if anisotropy is None else float(anisotropy),
                                 pools=given, alpha=float(alpha))
        self.n_classes, self.in_channels, self.features = n_classes, in_channels, features
        self.pools, self.alpha = pools, float(alpha)
        self.z_factors = pi_z_factors(pools)
        f0, f1, f2, f3, f4 = features
        self.conv0 = _cdnn(in_channels, f0, (1, 5, 5))
        self.encoder = nn.ModuleList([_ResBlock(f0, f0), _ResBlock(f0, f1), _ResBlock(f1, f2),
                                      _ResBlock(f2, f3), _ResBlock(f3, f4)])
        self.down = nn.ModuleList(nn.MaxPool3d(p, stride=p) for p in pools)
        self.ups = nn.ModuleList(nn.ConvTranspose3d(a, b, p, stride=p) for a, b, p in
                                 zip((f4, f3, f2, f1), (f3, f2, f1, f0), reversed(pools)))
        self.decoder = nn.ModuleList(_ResBlock(2 * c, c) for c in (f3, f2, f1, f0))
        self.conv9 = _cdnn(f0, f0, (1, 5, 5))
        self.heads = nn.ModuleList(nn.Conv3d(c, n_classes, 1) for c in (f0, f0, f1) * 2)
        self.pi = PIModule((f1, f2, f3), self.z_factors)
        self.default_window = default_window(pools)

    def output_window(self, input_shape):
        """Same-padded: the output window is the input window (z, y, x), offset (0, 0, 0).

        z must be divisible by the product of the z pools, y and x by 16.
        """
        return check_window(input_shape, self.pools, name="ReIsoSeg"), (0, 0, 0)

    # --- the two branches --------------------------------------------------------------

    def _encode(self, x):
        x = self.encoder[0](self.conv0(x))
        skips = [x]
        for pool, block in zip(self.down, self.encoder[1:]):
            x = block(pool(x))
            skips.append(x)
        return skips  # x1, x2, x3, x4, x5

    def _decode(self, x5, x4, x3, x2, x1):
        """The shared decoder; returns (x8, x9, x10)."""
        feats, x = [], x5
        for up, block, skip in zip(self.ups, self.decoder, (x4, x3, x2, x1)):
            x = block(torch.cat([up(x), skip], dim=1))
            feats.append(x)
        return feats[2], feats[3], self.conv9(feats[3])

    def predict_logits(self, x):
        """Logits of the anisotropic branch (head 3): what inference uses; no PI module."""
        x1, x2, x3, x4, x5 = self._encode(x)
        return self.heads[3](self._decode(x5, x4, x3, x2, x1)[2])

    def forward_branches(self, x, *, axis_sub=None, axis_rot=None):
        """Both branches: the six head logits (iso x10, x9, x8, ani x10, x9, x8).

        ``axis_sub`` ('z', 'x', 'y') and ``axis_rot`` (0-3) are drawn at random (torch's
        global generator) unless given. With ``alpha = 1`` the isotropic branch has no
        weight in the loss, so it is not run: its three entries are ``None`` (the draws
        still happen, so the random stream is the same for every ``alpha``).
        """
        if axis_sub is None:
            u = float(torch.rand(()))
            axis_sub = "z" if u < SUB_AXIS_P["z"] else ("x" if u < SUB_AXIS_P["z"]
                                                        + SUB_AXIS_P["x"] else "y")
        if axis_rot is None:
            axis_rot = int(torch.randint(len(PERMUTATIONS), ()))
        if axis_sub not in SUB_AXIS_P or axis_rot not in range(len(PERMUTATIONS)):
            raise ValueError(f"axis_sub must be one of {tuple(SUB_AXIS_P)} and axis_rot one of "
                             f"0-3, got {axis_sub!r}, {axis_rot!r}")
        x1, x2, x3, x4, x5 = self._encode(x)
        ani = self._decode(x5, x4, x3, x2, x1)
        if self.alpha == 1.0:  # the PI branch carries no loss: skip it (most of a step's cost)
            return (None, None, None) + tuple(head(f) for head, f in
                                              zip(self.heads[3:], (ani[2], ani[1], ani[0])))
        s5, s6, s7 = self.pi(x2, x3, x4, axis_sub=axis_sub, axis_rot=axis_rot)
        iso = self._decode(x5, s5, s6, s7, x1)
        feats = (iso[2], iso[1], iso[0], ani[2], ani[1], ani[0])
        return tuple(head(f) for head, f in zip(self.heads, feats))

    def forward(self, x):
        if self.training:
            return self.forward_branches(x)
        return self.predict_logits(x)

    # --- the loss ------------------------------------------------------------------------

    def training_loss(self, output, target, weights=None, *, config=None):
        """``(1 - alpha) * L_iso + alpha * L_ani`` with deep supervision.

        Parameters
        ----------
        output : tuple of 6 torch.Tensor
            The training-mode ``forward`` output.
        target : torch.Tensor
            (N, z, y, x) class ids.
        weights : torch.Tensor, optional
            (N, z, y, x) error weights for the cross-entropy terms.
        config : TrainConfig, optional
            Only ``weight_floor`` (default 0.01) and ``class_weights`` are used: ReIsoSeg's
            own loss is already Dice + cross-entropy (:func:`emseg.losses.dice_ce_loss`),
            whatever ``config.loss`` says.

        Returns
        -------
        tuple
            ``(loss, L_ani, L_iso)``; the last two detached. ``L_ani`` is the branch used
            at inference (fit records it as the main loss). ``L_iso`` is ``None`` when
            the isotropic branch was not run (``alpha = 1``).
        """
        if not isinstance(output, (tuple, list)) or len(output) != 6:
            raise ValueError("ReIsoSeg.training_loss needs the six head outputs of a "
                             "training-mode forward (call model.train() first)")
        from emseg.losses import dice_ce_loss  # lazily: keeps skimage out of the import

        floor = 0.01 if config is None else config.weight_floor
        class_weights = None if config is None else config.class_weights
        pz, py, px = self.pools[0]
        low = (slice(None), slice(None, None, pz), slice(None, None, py), slice(None, None, px))
        targets = (target, target, target[low]) * 2  # heads 2 and 5 are after pool 1
        wts = (weights, weights, None if weights is None else weights[low]) * 2
        if any(o is None for o in output[3:]):
            raise ValueError("ReIsoSeg.training_loss needs the anisotropic heads' outputs")
        terms = [None if o is None else
                 w * dice_ce_loss(o, t, ww, floor=floor, class_weights=class_weights)
                 for w, o, t, ww in zip(DS_WEIGHTS, output, targets, wts)]
        l_ani = sum(terms[3:])
        if any(t is None for t in terms[:3]):  # alpha = 1: the isotropic branch was skipped
            if self.alpha != 1.0:
                raise ValueError(f"ReIsoSeg.training_loss with alpha = {self.alpha:g} needs the "
                                 "isotropic heads' outputs too (only alpha = 1 skips them)")
            return l_ani, l_ani.detach(), None
        l_iso = sum(terms[:3])
        loss = (1 - self.alpha) * l_iso + self.alpha * l_ani
        return loss, l_ani.detach(), l_iso.detach()
