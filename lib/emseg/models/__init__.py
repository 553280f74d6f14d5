"""Segmentation networks.

``UNet2D`` (Ronneberger et al. 2015, the platelet hub's example 3) and ``Net2D3D``
(the 2D-3D+3x3x3 network of Guay et al. 2021), ``ECSNet`` (the cascaded U-Net of
ECS-Net for extracellular-space segmentation, with its contrastive heads), ``UNet3D``
(anisotropic pooling plan from ``anisotropy`` = z spacing / xy spacing) and ``ReIsoSeg``
(a residual 3D U-Net whose re-isotropic PI branch is used in training only) and
``VoxResNet`` (the 3D residual net with summed side outputs of the neuron-tracing
pipeline). Defaults build the originals; ``width`` gives small variants for the CPU. Every network is a
:class:`SegmentationNet` that knows its window geometry (see :func:`window_geometry`).
"""
from emseg.models._base import NORMS, Geometry, SegmentationNet, count_parameters, window_geometry
from emseg.models.ecsnet import ECSNet
from emseg.models.net2d3d import Net2D3D
from emseg.models.reisoseg import ReIsoSeg
from emseg.models.unet import UNet2D
from emseg.models.unet3d import UNet3D, pooling_plan
from emseg.models.voxresnet import VoxResNet

__all__ = ["UNet2D", "UNet3D", "Net2D3D", "ECSNet", "ReIsoSeg", "VoxResNet", "pooling_plan", "NORMS",
           "SegmentationNet", "Geometry", "window_geometry", "count_parameters", "build_model",
           "model_class", "model_options", "models_with_option", "spec_with_defaults", "MODELS"]

MODELS = {"unet2d": UNet2D, "unet3d": UNet3D, "net2d3d": Net2D3D, "ecsnet": ECSNet,
          "reisoseg": ReIsoSeg, "voxresnet": VoxResNet}


def model_class(name):
    """The network class of a name (a key of :data:`MODELS`; case, '-' and '_' ignored).

    Raises
    ------
    ValueError
        For an unknown name, listing the known ones.

    Examples
    --------
    >>> model_class("UNet-3D").__name__
    'UNet3D'
    """
    key = str(name).lower().replace("-", "").replace("_", "")
    if key not in MODELS:
        raise ValueError(f"unknown model {name!r}; choose one of {sorted(MODELS)}")
    return MODELS[key]


def model_options(model):
    """The keyword options of a network (a class or a name, see :func:`model_class`), in
    the constructor's order.

    The capability query of the command line and the templates (does this network take
    ``anisotropy``? ``norm``?).

    Examples
    --------
    >>> "anisotropy" in model_options("unet3d"), "anisotropy" in model_options(UNet2D)
    (True, False)
    """
    import inspect
    cls = model_class(model) if isinstance(model, str) else model
    return tuple(k for k in inspect.signature(cls.__init__).parameters if k != "self")


def models_with_option(option):
    """The names (keys of :data:`MODELS`, in its order) of the networks that take ``option``.

    Examples
    --------
    >>> models_with_option("anisotropy")
    ['unet3d', 'reisoseg']
    """
    return [k for k, cls in MODELS.items() if option in model_options(cls)]


def build_model(name, **kwargs):
    """Build a network by name (a key of :data:`MODELS`) with keyword options."""
    return model_class(name)(**kwargs)


def spec_with_defaults(spec):
    """A network spec (``{"name", "kwargs"}``) with every constructor default filled in.

    Two specs that build the same network compare equal after this, also when one was
    written before an option (such as ``norm``) existed.
    """
    import inspect
    cls = model_class(spec["name"])
    defaults = {k: p.default for k, p in inspect.signature(cls.__init__).parameters.items()
                if p.default is not inspect.Parameter.empty}
    return {"name": cls.__name__, "kwargs": {**defaults, **dict(spec["kwargs"])}}
