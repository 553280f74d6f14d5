"""Losses, one module per family; every public loss is importable from here.

* :mod:`~emseg.losses._weighted`: the platelet recipe's error-weighted cross-entropy
  (+ the auxiliary 2D loss of ``Net2D3D``).
"""
from emseg.losses._weighted import segmentation_loss, weighted_cross_entropy

__all__ = ["weighted_cross_entropy", "segmentation_loss"]
