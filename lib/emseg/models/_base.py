"""What every emseg segmentation network tells the sampler and the tiler.

A network works on windows. :meth:`SegmentationNet.output_window` maps an input
window shape to the output window it predicts and where that output sits inside
the input (valid convolutions and crops make outputs smaller). The training
sampler and the tiler only use this, so one loop and one tiler serve every model.

Volumes are always (z, y, x). 2D networks (``window_ndim == 2``) see one z
slice at a time: their windows are (1, y, x) in volume terms.
"""
from dataclasses import dataclass

import torch
from torch import nn

__all__ = ["SegmentationNet", "Geometry", "window_geometry", "count_parameters"]


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
    ``default_window`` and implement :meth:`output_window`. ``forward`` returns
    logits of shape (N, n_classes, *output_window) or a tuple
    ``(main_logits, auxiliary_logits)`` during training.
    """

    n_classes: int
    in_channels: int
    window_ndim: int
    default_window: tuple

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

        The default is the platelet recipe (:func:`emseg.losses.segmentation_loss`:
        error-weighted cross-entropy, plus ``config.aux_weight`` times the same on
        auxiliary logits). Networks with a loss of their own (``ECSNet``) override it;
        :func:`emseg.train.fit` calls it, so one loop trains every network.
        """
        from emseg.losses import segmentation_loss
        return segmentation_loss(output, target, weights, floor=config.weight_floor,
                                 aux_weight=config.aux_weight)

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

