"""Segmentation metrics: multi-class reports from one confusion matrix, binary-mask scores.

Every public metric is importable from here (``from emseg.metrics import ...``); the
code lives in:

* :mod:`emseg.metrics.multiclass`: the confusion matrix of two class maps and what
  derives from it (per-class IoU and Dice, accuracy, the adjusted Rand index, mean IoU),
  :func:`report_from_confusion` (all of them from one matrix, e.g. summed over volumes)
  and :func:`segmentation_report` (the same from two class maps). Conventions of the
  platelet work: ``miou_all`` includes background, the organelle MIoU averages
  ``organelle_classes`` only; classes absent from both maps have NaN scores, skipped by
  the means.
* :mod:`emseg.metrics.binary`: binary masks (e.g. ECS): :func:`binary_metrics` (Dice,
  IoU, precision, recall and counts), :func:`hd95` (95th-percentile Hausdorff distance
  of the edges, section by section), :func:`average_precision` (threshold-free) and
  ``BINARY_METRICS``.
* :func:`format_report` and :func:`compare_reports`, the Markdown tables of reports,
  live with the other result tables in :mod:`emseg.report` and are re-exported here.
"""
# math, np and the four check_* functions were importable from the one-module
# emseg.metrics (its own imports): they stay importable from here so that no
# ``from emseg.metrics import ...`` breaks, but they are not part of __all__.
import math  # noqa: F401

import numpy as np  # noqa: F401

from emseg._validate import (  # noqa: F401
    check_labels, check_mask, check_positive_int, check_same_shape,
)
from emseg.metrics.binary import BINARY_METRICS, average_precision, binary_metrics, hd95
from emseg.metrics.multiclass import (
    accuracy_from_confusion, adjusted_rand_index, ari_from_confusion, confusion_matrix,
    dice_from_confusion, iou_from_confusion, mean_iou, report_from_confusion, segmentation_report,
)
from emseg.report import compare_reports, format_report

__all__ = [
    "confusion_matrix",
    "iou_from_confusion",
    "dice_from_confusion",
    "accuracy_from_confusion",
    "ari_from_confusion",
    "adjusted_rand_index",
    "mean_iou",
    "report_from_confusion",
    "segmentation_report",
    "format_report",
    "compare_reports",
    "hd95",
    "binary_metrics",
    "average_precision",
    "BINARY_METRICS",
]
