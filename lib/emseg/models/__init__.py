"""Segmentation networks.

``UNet2D`` (Ronneberger et al. 2015, the platelet hub's example 3) and ``Net2D3D``
(the 2D-3D+3x3x3 network of Guay et al. 2021), ``ECSNet`` (the cascaded U-Net of
ECS-Net for extracellular-space segmentation, with its contrastive heads). Defaults build the originals;
``width`` gives small variants for the CPU. Every network is a
:class:`SegmentationNet` that knows its window geometry (see :func:`window_geometry`).
"""
from emseg.models._base import Geometry, SegmentationNet, count_parameters, window_geometry
from emseg.models.ecsnet import ECSNet
from emseg.models.net2d3d import Net2D3D
from emseg.models.unet import UNet2D

__all__ = ["UNet2D", "Net2D3D", "ECSNet", "SegmentationNet", "Geometry", "window_geometry",
           "count_parameters", "build_model", "MODELS"]

MODELS = {"unet2d": UNet2D, "net2d3d": Net2D3D, "ecsnet": ECSNet}


def build_model(name, **kwargs):
    """Build a network by name (``'unet2d'``, ``'net2d3d'`` or ``'ecsnet'``) with keyword options."""
    key = str(name).lower().replace("-", "").replace("_", "")
    if key not in MODELS:
        raise ValueError(f"unknown model {name!r}; choose one of {sorted(MODELS)}")
    return MODELS[key](**kwargs)
