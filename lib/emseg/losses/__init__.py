"""Losses, one module per family; every public loss is importable from here.

* :mod:`~emseg.losses._weighted`: the platelet recipe's error-weighted cross-entropy.
* :mod:`~emseg.losses._dice`: soft Dice, Dice + cross-entropy (the modern recipe) and
  :func:`segmentation_loss`, the default training loss of the networks (either loss,
  + the auxiliary 2D loss of ``Net2D3D``).
* :mod:`~emseg.losses._ecs`: ECS-Net's shape-aware weight map, shape-weighted focal loss,
  pixel contrastive loss and their total.
* :mod:`~emseg.losses._voxres`: VoxResNet's class-weighted cross-entropy + Dice.

(ReIsoSeg trains with :func:`dice_ce_loss` on its two outputs; see
:meth:`emseg.models.ReIsoSeg.training_loss`.)
"""
from emseg.losses._ecs import FORMULATIONS, SHAPE_CLASSES, ecs_loss, focal_shape_loss, pixel_contrastive_loss, shape_weight_map
from emseg.losses._dice import LOSSES, dice_ce_loss, segmentation_loss, soft_dice_loss
from emseg.losses._voxres import voxres_class_weights, voxres_loss
from emseg.losses._weighted import class_weight_tensor, weighted_cross_entropy

__all__ = ["weighted_cross_entropy", "class_weight_tensor", "segmentation_loss", "soft_dice_loss",
           "dice_ce_loss", "LOSSES", "shape_weight_map", "focal_shape_loss",
           "pixel_contrastive_loss", "ecs_loss", "FORMULATIONS", "SHAPE_CLASSES", "voxres_loss",
           "voxres_class_weights"]
