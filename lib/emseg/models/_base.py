"""What every emseg segmentation network tells the sampler and the tiler.

A network works on windows. :meth:`SegmentationNet.output_window` maps an input
window shape to the output window it predicts and where that output sits inside
the input (valid convolutions and crops make outputs smaller). The training
sampler and the tiler only use this, so one loop and one tiler serve every model.

Volumes are always (z, y, x). 2D networks (``window_ndim == 2``) see one z
slice at a time: their windows are (1, y, x) in volume terms.
"""
import math
from dataclasses import dataclass

from torch import nn

__all__ = ["SegmentationNet", "Geometry", "window_geometry", "count_parameters", "make_norm",
           "check_norm", "NORMS"]

NORMS = ("batch", "group", "instance", None)  # normalisation layers a network may use


@dataclass(frozen=True)
class Geometry:
    """Window geometry in volume coordinates (z, y, x).

    Attributes
    ----------
    input : tuple of int
        Input window shape.
    output : tuple of int
        Output window shape.
    offset : tuple of int
        Position of the output window's first voxel inside the input window.
    """
    input: tuple
    output: tuple
    offset: tuple


class SegmentationNet(nn.Module):
    """Base class: a network that maps an image window to class logits.

    Subclasses set ``n_classes``, ``in_channels``, ``window_ndim`` (2 or 3) and
    ``default_window`` and implement :meth:`output_window`. ``working_scale`` is the
    resolution the network works at, as integer binning factors (z, y, x) of the
    input grid: :func:`emseg.train.fit` sets it from ``TrainConfig.scale``, checkpoints
    keep it (in their ``config``) and :func:`emseg.infer.predict` bins the input by it
    and resamples the result back. ``forward`` returns
    logits of shape (N, n_classes, *output_window) or a tuple
    ``(main_logits, auxiliary_logits)`` during training.
    """

    n_classes: int
    in_channels: int
    window_ndim: int
    default_window: tuple
    working_scale = (1, 1, 1)  # binning (z, y, x) of the data it was trained on (TrainConfig.scale)

    def output_window(self, input_shape):
        """Return ``(output_shape, offset)`` for an input window of ``input_shape``.

        Raises ``ValueError`` when the network cannot take that window.
        """
        raise NotImplementedError

    def spec(self):
        """The constructor call that rebuilds this network: ``{"name": ..., "kwargs": {...}}``.

        Subclasses set ``self._spec_kwargs`` (their constructor's keyword arguments) in
        ``__init__`` so that checkpoints can rebuild them.
        """
        kwargs = getattr(self, "_spec_kwargs", None)
        if kwargs is None:
            raise ValueError(f"{type(self).__name__} cannot be saved: set self._spec_kwargs to its "
                             "constructor's keyword arguments in __init__")
        return {"name": type(self).__name__, "kwargs": dict(kwargs)}

    def default_weights(self, labels):
        """Per-voxel loss weights this network needs when the training data bring none.

        ``None`` (the default): train without weights. :func:`emseg.train.fit` calls it for
        each training volume without weights (``ECSNet`` returns its shape weights).
        """
        return None

    def training_loss(self, output, target, weights, *, config):
        """The training loss of a forward ``output``: ``(loss, main, auxiliary or None)``.

        The default is :func:`emseg.losses.segmentation_loss` with ``config.loss``:
        ``'default'``, the platelet recipe (error-weighted cross-entropy), or
        ``'dice_ce'`` (Dice + cross-entropy, error weights on the cross-entropy), plus
        ``config.aux_weight`` times the same on auxiliary logits, with
        ``config.class_weights``. Networks with a loss of their own (``ECSNet``,
        ``VoxResNet``, ``ReIsoSeg``) override it; :func:`emseg.train.fit` calls it, so
        one loop trains every network.
        """
        from emseg.losses import segmentation_loss
        return segmentation_loss(output, target, weights, floor=config.weight_floor,
                                 aux_weight=config.aux_weight, loss=config.loss,
                                 class_weights=config.class_weights)

    def predict_logits(self, x):
        """Forward pass that returns the main logits only (for inference)."""
        out = self(x)
        return out[0] if isinstance(out, tuple) else out


def window_geometry(model, input_shape=None):
    """Window geometry of ``model`` in volume (z, y, x) terms.

    Parameters
    ----------
    model : SegmentationNet
        The network.
    input_shape : tuple of int, optional
        Input window: (y, x) or (z, y, x) for a 2D network, (z, y, x) for a 3D one.
        Defaults to the network's ``default_window``.

    Returns
    -------
    Geometry
    """
    shape = tuple(int(s) for s in (input_shape or model.default_window))
    if model.window_ndim == 2:
        if len(shape) == 3:
            if shape[0] != 1:
                raise ValueError(f"a 2D network takes windows of one slice; got window {shape}")
            shape = shape[1:]
        if len(shape) != 2:
            raise ValueError(f"a 2D network needs a (y, x) window, got {shape}")
        out, off = model.output_window(shape)
        return Geometry((1,) + shape, (1,) + tuple(out), (0,) + tuple(off))
    if len(shape) != 3:
        raise ValueError(f"a 3D network needs a (z, y, x) window, got {shape}")
    out, off = model.output_window(shape)
    return Geometry(shape, tuple(out), tuple(off))


def count_parameters(model):
    """Number of trainable parameters."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def check_norm(norm):
    """Return ``norm`` as one of :data:`NORMS` (``"none"`` is read as None).

    Raises
    ------
    ValueError
        For any other value.

    Examples
    --------
    >>> check_norm("none") is None, check_norm("batch")
    (True, 'batch')
    """
    if norm == "none":
        return None
    if norm not in NORMS:
        raise ValueError(f"norm must be one of 'batch', 'group', 'instance' or None (no "
                         f"normalisation), got {norm!r}")
    return norm


def make_norm(norm, channels, ndim):
    """The normalisation layer named ``norm`` for ``ndim``-D feature maps (2 or 3).

    ``'batch'``: BatchNorm; ``'instance'``: InstanceNorm with learned scale and shift;
    ``'group'``: GroupNorm with ``gcd(8, channels)`` groups; None: ``nn.Identity``.
    """
    norm = check_norm(norm)
    if norm == "batch":
        return (nn.BatchNorm2d if ndim == 2 else nn.BatchNorm3d)(channels)
    if norm == "instance":
        return (nn.InstanceNorm2d if ndim == 2 else nn.InstanceNorm3d)(channels, affine=True)
    if norm == "group":
        return nn.GroupNorm(math.gcd(8, channels), channels)
    return nn.Identity()


def init_he(module):
    """He (Kaiming) normal kernels for ReLU and zero biases: the init of the normalised nets."""
    for m in module.modules():
        if isinstance(m, (nn.Conv2d, nn.Conv3d, nn.ConvTranspose2d, nn.ConvTranspose3d)):
            nn.init.kaiming_normal_(m.weight, nonlinearity="relu")
            if m.bias is not None:
                nn.init.zeros_(m.bias)


def init_glorot(module):
    """Glorot-uniform kernels and zero biases, as the original TF networks."""
    for m in module.modules():
        if isinstance(m, (nn.Conv2d, nn.Conv3d, nn.ConvTranspose2d, nn.ConvTranspose3d)):
            nn.init.xavier_uniform_(m.weight)
            if m.bias is not None:
                nn.init.zeros_(m.bias)


def crop_to(x, shape, *, centre=True):
    """Crop the trailing spatial dims of ``x`` to ``shape`` (centred, or from the start)."""
    slices = [slice(None), slice(None)]
    for have, want in zip(x.shape[2:], shape):
        start = (have - want) // 2 if centre else 0
        slices.append(slice(start, start + want))
    return x[tuple(slices)]

