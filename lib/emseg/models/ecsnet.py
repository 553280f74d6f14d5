"""ECS-Net (Yang et al. 2025): a two-stage cascaded 2D U-Net for brain extracellular
space (ECS) segmentation, with contrastive projector/predictor heads.

Each stage is a plain 'same'-padded U-Net (``_Stage``): [3x3 conv, BatchNorm, ReLU] x 2
per level, widths ``w, 2w, 4w, 8w, 16w`` (original ``w = 32``: 32..512), 2x2 max pooling,
up-sampling by nearest-neighbour x2 followed by a 3x3 conv + BN + ReLU that halves the
channels, skip concatenation ``[skip, up]``, then a 1x1 conv ``w -> w`` giving the
full-resolution **embedding** and a 1x1 conv ``w -> 1`` on it giving the **logit**.

Cascade: stage 1 takes the image; **stage 2 takes stage 1's w-channel embedding** (not
its prediction). Both stages predict (one sigmoid logit each). The contrastive heads
(:class:`ContrastiveHeads`) map stage-1 embeddings of sampled pixels to unit vectors;
they are used by the loss only (:func:`emseg.losses.ecs_loss`).

With ``width=32`` a stage with a 3-channel input has 8,638,401 parameters and one with
a 32-channel input 8,646,753, which round to the reference's 8.638 M and 8.647 M; the
projector has 5,344 and the predictor 33,280 parameters, as in the reference.

Differences from the original (see the reference sheet, ``ecs-net.md``):

* **Grayscale input**: one channel (EM is grayscale; the original copied it into RGB
  and normalised to [-1, 1]). Feed z-scored images, as for every emseg network.
  ``in_channels=3`` builds the original's stage 1 (for the parameter count only).
* **Two-class output for inference**: the network has one ECS logit ``l`` per pixel;
  :meth:`ECSNet.predict_logits` returns ``[0, l]`` (``n_classes = 2``), whose softmax is
  exactly ``[1 - sigmoid(l), sigmoid(l)]``, so :func:`emseg.infer.predict` returns the
  ECS probability as class 1 and ``output='labels'`` thresholds it at 0.5.
* The unused projector/predictor built inside the original ``SeqNet`` are not built.
* Any window whose sides are multiples of ``2**depth`` works (the original resized
  every tile to 512 x 512); tiled prediction replaces resizing and stitching.
* Ablation switches (``cascade``, ``shape_loss``, ``contrastive_weight``; the four
  variants in :data:`ABLATIONS`) so that U-Net, + shape-aware loss, + contrastive loss
  and the full ECS-Net train through the same code with the same budget.
* PyTorch's default initialisation; no pretrained encoder (the original's CEM500K
  hook loaded nothing, so it trained from scratch too).
"""
from typing import NamedTuple

import torch
from torch import nn
import torch.nn.functional as F

from emseg._validate import check_positive_int
from emseg.losses import FORMULATIONS
from emseg.models._base import SegmentationNet

__all__ = ["ECSNet", "ECSOutput", "ContrastiveHeads", "ABLATIONS", "ABLATION_LABELS"]

# The ablation: each variant adds one ingredient; train them with the same data, window,
# batch and iterations. Values are keyword arguments of ECSNet; ABLATION_LABELS name them.
ABLATIONS = {
    "unet": dict(cascade=False, shape_loss=False, contrastive_weight=0.0),
    "shape": dict(cascade=False, shape_loss=True, contrastive_weight=0.0),
    "contrastive": dict(cascade=False, shape_loss=True, contrastive_weight=0.1),
    "ecsnet": dict(cascade=True, shape_loss=True, contrastive_weight=0.1),
}
ABLATION_LABELS = {"unet": "U-Net (focal loss)", "shape": "+ shape-aware loss",
                   "contrastive": "+ contrastive loss", "ecsnet": "+ cascade = ECS-Net"}


class ECSOutput(NamedTuple):
    """What :class:`ECSNet` returns in training mode (all (N, ., y, x) tensors).

    Attributes
    ----------
    logits : torch.Tensor
        Stage 2's ECS logits, (N, 1, y, x): the final prediction.
    aux_logits : torch.Tensor or None
        Stage 1's ECS logits, (N, 1, y, x); None without the cascade (``cascade=False``).
    embedding : torch.Tensor
        Stage 1's embedding, (N, width, y, x): what the contrastive loss samples.
    """
    logits: torch.Tensor
    aux_logits: torch.Tensor
    embedding: torch.Tensor


def _conv_bn_relu(cin, cout):
    return [nn.Conv2d(cin, cout, 3, padding=1), nn.BatchNorm2d(cout), nn.ReLU(inplace=True)]


def _conv_block(cin, cout):
    return nn.Sequential(*_conv_bn_relu(cin, cout), *_conv_bn_relu(cout, cout))


def _up_conv(cin, cout):
    return nn.Sequential(nn.Upsample(scale_factor=2, mode="nearest"), *_conv_bn_relu(cin, cout))


class _Stage(nn.Module):
    """One ECS-Net stage: a same-padded U-Net returning ``(logit, embedding)``."""

    def __init__(self, in_channels, width, depth):
        super().__init__()
        widths = [width * 2 ** k for k in range(depth + 1)]
        self.down = nn.ModuleList()
        cin = in_channels
        for w in widths:
            self.down.append(_conv_block(cin, w))
            cin = w
        self.up = nn.ModuleList(_up_conv(2 * w, w) for w in reversed(widths[:-1]))
        self.dec = nn.ModuleList(_conv_block(2 * w, w) for w in reversed(widths[:-1]))
        self.feat = nn.Conv2d(width, width, 1)
        self.pred = nn.Conv2d(width, 1, 1)
        self.pool = nn.MaxPool2d(2)

    def forward(self, x):
        skips = []
        for k, block in enumerate(self.down):
            x = block(x)
            if k < len(self.down) - 1:
                skips.append(x)
                x = self.pool(x)
        for up, dec, skip in zip(self.up, self.dec, reversed(skips)):
            x = dec(torch.cat([skip, up(x)], dim=1))
        embedding = self.feat(x)                 # (N, width, y, x)
        return self.pred(embedding), embedding   # (N, 1, y, x), (N, width, y, x)


class _MlpNorm(nn.Sequential):
    """Linear(d, d), Dropout(0.2), BatchNorm1d, LeakyReLU, Linear(d, out), then L2-normalise."""

    def __init__(self, dim_in, dim_out, dropout=0.2):
        super().__init__(nn.Linear(dim_in, dim_in), nn.Dropout(dropout), nn.BatchNorm1d(dim_in),
                         nn.LeakyReLU(inplace=True), nn.Linear(dim_in, dim_out))

    def forward(self, x):
        return F.normalize(super().forward(x), dim=1)


class ContrastiveHeads(nn.Module):
    """Projector ``z = P(e)`` and predictor ``q = Q(z)`` for pixel embeddings (BYOL/SimSiam style).

    Parameters
    ----------
    width : int
        Embedding channels (the stage width).
    proj_dim : int
        Output dimension of both heads (original: 128).

    Notes
    -----
    Both heads are ``Linear(d, d) -> Dropout(0.2) -> BatchNorm1d -> LeakyReLU ->
    Linear(d, out)`` followed by L2 normalisation (the reference's ``MlpNorm``). Calling
    the module on (n, width) embeddings returns the unit vectors ``(z, q)``, each
    (n, proj_dim). BatchNorm needs n >= 2 in training mode.
    """

    def __init__(self, width=32, proj_dim=128):
        super().__init__()
        self.projector = _MlpNorm(width, proj_dim)
        self.predictor = _MlpNorm(proj_dim, proj_dim)

    def forward(self, embeddings):
        z = self.projector(embeddings)
        return z, self.predictor(z)


class ECSNet(SegmentationNet):
    """Two-stage cascaded 2D U-Net for ECS segmentation (ECS-Net).

    Parameters
    ----------
    n_classes : int
        Must be 2 (background, ECS); accepted so that ``build_model(name, n_classes=2)``
        and presets work like for the other networks.
    in_channels : int
        Image channels of stage 1 (1: grayscale EM; the original used 3).
    width : int
        Channels of the first level and of the embedding (original: 32). Use 8 or 16
        for CPU variants.
    depth : int
        Number of poolings per stage (original: 4). Window sides must be multiples of
        ``2**depth``.
    proj_dim : int
        Output size of the contrastive projector and predictor (original: 128).
    cascade : bool
        Two stages (ECS-Net). ``False`` builds stage 1 only: a plain same-padded U-Net
        whose logits are the prediction (the ablation's "U-Net" rows).
    shape_loss : bool
        Weight the focal loss by ``1 + S`` with the training volumes' shape weights
        ``S`` (:func:`emseg.losses.shape_weight_map`; give them as the volumes'
        ``weights``). ``False`` ignores any weights (plain focal loss).
    contrastive_weight : float
        Weight of the pixel contrastive loss (original: 0.1); 0 switches it off and
        the contrastive heads are not built.
    contrastive_form : {'infonce', 'cosine'}
        The contrastive loss's formulation (:func:`emseg.losses.pixel_contrastive_loss`):
        ``'infonce'`` (default, the temperature used as intended) or ``'cosine'`` (the
        original's pull/push form, its doubled push term fixed). The claims benchmark
        (``bench/claims``) trains both.

    Notes
    -----
    ``forward`` in training mode returns an :class:`ECSOutput` ``(logits, aux_logits,
    embedding)`` for :func:`emseg.losses.ecs_loss`; in eval mode it returns the
    two-class logits of :meth:`predict_logits`. The loss switches (``shape_loss``,
    ``contrastive_weight``) are network options because :func:`emseg.train.fit` asks the
    network for its loss; they are part of :meth:`spec`, so a checkpoint records how its
    network was trained. :data:`ABLATIONS` names the four variants of the ablation.
    ``window_ndim = 2``: in volume terms
    the windows are (1, y, x) and :func:`emseg.infer.predict` goes slice by slice.
    :meth:`training_loss` computes the ECS-Net loss of a training output with this
    network's contrastive heads.

    Examples
    --------
    >>> net = ECSNet(width=4, depth=2)
    >>> net.output_window((64, 48))
    ((64, 48), (0, 0))
    >>> net.predict_logits(torch.zeros(1, 1, 16, 16)).shape
    torch.Size([1, 2, 16, 16])
    """

    window_ndim = 2

    def __init__(self, n_classes=2, *, in_channels=1, width=32, depth=4, proj_dim=128,
                 cascade=True, shape_loss=True, contrastive_weight=0.1, contrastive_form="infonce"):
        super().__init__()
        if isinstance(n_classes, bool) or n_classes != 2:
            raise ValueError(f"ECSNet segments ECS vs background: n_classes must be 2, "
                             f"got {n_classes!r}")
        for name, v in (("in_channels", in_channels), ("width", width), ("depth", depth),
                        ("proj_dim", proj_dim)):
            check_positive_int(v, name=name)
        for name, v in (("cascade", cascade), ("shape_loss", shape_loss)):
            if not isinstance(v, bool):
                raise ValueError(f"{name} must be True or False, got {v!r}")
        if isinstance(contrastive_weight, bool) or not isinstance(contrastive_weight, (int, float)) \
                or not contrastive_weight >= 0 or contrastive_weight == float("inf"):
            raise ValueError(f"contrastive_weight must be a finite number >= 0 (original: 0.1; "
                             f"0: no contrastive loss), got {contrastive_weight!r}")
        if contrastive_form not in FORMULATIONS:
            raise ValueError(f"contrastive_form must be one of {', '.join(map(repr, FORMULATIONS))}, "
                             f"got {contrastive_form!r}")
        in_channels, width, depth, proj_dim = int(in_channels), int(width), int(depth), int(proj_dim)
        contrastive_weight = float(contrastive_weight)
        self._spec_kwargs = dict(n_classes=2, in_channels=in_channels, width=width, depth=depth,
                                 proj_dim=proj_dim, cascade=cascade, shape_loss=shape_loss,
                                 contrastive_weight=contrastive_weight,
                                 contrastive_form=contrastive_form)
        self.contrastive_form = contrastive_form
        self.n_classes, self.in_channels = 2, in_channels
        self.width, self.depth, self.proj_dim = width, depth, proj_dim
        self.cascade, self.shape_loss, self.contrastive_weight = cascade, shape_loss, contrastive_weight
        self.stage1 = _Stage(in_channels, width, depth)
        self.stage2 = _Stage(width, width, depth) if cascade else None
        self.heads = ContrastiveHeads(width, proj_dim) if contrastive_weight > 0 else None
        self.default_window = (512, 512)

    def output_window(self, input_shape):
        """Same-padded: the output window is the input window (y, x), offset (0, 0)."""
        shape = tuple(int(s) for s in input_shape)
        if len(shape) != 2:
            raise ValueError(f"ECSNet takes (y, x) windows, got {shape}")
        step = 2 ** self.depth
        for s in shape:
            if s < step or s % step:
                raise ValueError(f"ECSNet of depth {self.depth} needs window sides that are "
                                 f"multiples of {step} (and >= {step}), got {shape}")
        return shape, (0, 0)

    def forward(self, x):
        """(N, in_channels, y, x) -> :class:`ECSOutput` in training, two-class logits in eval."""
        if x.ndim != 4 or x.shape[1] != self.in_channels:
            raise ValueError(f"ECSNet expects input (N, {self.in_channels}, y, x), got {tuple(x.shape)}")
        self.output_window(x.shape[2:])
        logit1, embedding = self.stage1(x)
        if self.stage2 is None:  # no cascade: stage 1 is the whole network
            logit, aux = logit1, None
        else:
            logit, aux = self.stage2(embedding)[0], logit1
        if not self.training:
            return self._two_class(logit)
        return ECSOutput(logit, aux, embedding)

    def predict_logits(self, x):
        """Stage 2's prediction as two-class logits ``[0, l]``, (N, 2, y, x), in any mode."""
        if self.training:
            return self._two_class(self(x).logits)
        return self(x)

    @staticmethod
    def _two_class(logit):
        return torch.cat([torch.zeros_like(logit), logit], dim=1)

    def default_weights(self, labels):
        """The shape weights ``S`` of ``labels`` when ``shape_loss`` (else None), so that
        :func:`emseg.train.fit` can train on volumes that bring no weights."""
        if not self.shape_loss:
            return None
        from emseg.losses import shape_weight_map
        return shape_weight_map(labels)

    def training_loss(self, output, target, weights=None, *, config=None, **options):
        """The ECS-Net loss of a training ``output``: see :func:`emseg.losses.ecs_loss`.

        Returns ``(total, focal of stage 2, focal of stage 1)`` (the last two detached;
        the last is None without the cascade), the form :func:`emseg.train.fit`
        records. ``weights`` are the shape weights ``S`` (used when ``shape_loss``).
        Of ``config`` (a TrainConfig) only ``loss`` is used: ``'dice_ce'`` adds a soft-Dice
        term to each stage's focal loss (``dice_weight=1``); the rest of ECS-Net's loss
        has its own settings (the network's switches, and ``**options`` of ``ecs_loss``).
        """
        from emseg.losses import ecs_loss
        if not self.shape_loss:
            weights = None
        elif weights is None:
            raise ValueError("ECSNet(shape_loss=True) needs the shape weights: give the training "
                             "volumes weights=emseg.losses.shape_weight_map(labels) (e.g. "
                             "ecs_phantom(..., shape_weights=True)), or build the network with "
                             "shape_loss=False")
        options.setdefault("contrastive_weight", self.contrastive_weight)
        options.setdefault("formulation", self.contrastive_form)
        if config is not None and config.class_weights is not None:
            raise ValueError("ECS-Net's loss has no class weights (its focal loss weighs ECS by "
                             "alpha); leave config.class_weights at None")
        if config is not None and config.loss == "dice_ce":
            options.setdefault("dice_weight", 1.0)
        total, parts = ecs_loss(output, target, weights, heads=self.heads, **options)
        return total, parts["focal"], parts["focal_stage1"]
