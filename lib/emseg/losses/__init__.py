"""Losses, one module per family; every public loss is importable from here.

* :mod:`~emseg.losses._weighted`: the platelet recipe's error-weighted cross-entropy
  (+ the auxiliary 2D loss of ``Net2D3D``).
* :mod:`~emseg.losses._ecs`: ECS-Net's shape-aware weight map, shape-weighted focal loss,
  pixel contrastive loss and their total.
"""
from emseg.losses._ecs import ecs_loss, focal_shape_loss, pixel_contrastive_loss, shape_weight_map
from emseg.losses._weighted import segmentation_loss, weighted_cross_entropy

__all__ = ["weighted_cross_entropy", "segmentation_loss", "shape_weight_map", "focal_shape_loss",
           "pixel_contrastive_loss", "ecs_loss"]
