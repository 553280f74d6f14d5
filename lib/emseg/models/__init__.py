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
from emseg.models._base import Geometry, SegmentationNet, count_parameters, window_geometry
from emseg.models.ecsnet import ECSNet
from emseg.models.net2d3d import Net2D3D
from emseg.models.reisoseg import ReIsoSeg
from emseg.models.unet import UNet2D
from emseg.models.unet3d import UNet3D, pooling_plan
from emseg.models.voxresnet import VoxResNet

__all__ = ["UNet2D", "UNet3D", "Net2D3D", "ECSNet", "ReIsoSeg", "VoxResNet", "pooling_plan",
           "SegmentationNet", "Geometry", "window_geometry", "count_parameters", "build_model", "MODELS"]

MODELS = {"unet2d": UNet2D, "unet3d": UNet3D, "net2d3d": Net2D3D, "ecsnet": ECSNet,
          "reisoseg": ReIsoSeg, "voxresnet": VoxResNet}


def build_model(name, **kwargs):
    """Build a network by name (a key of :data:`MODELS`) with keyword options."""
    key = str(name).lower().replace("-", "").replace("_", "")
    if key not in MODELS:
        raise ValueError(f"unknown model {name!r}; choose one of {sorted(MODELS)}")
    return MODELS[key](**kwargs)
