"""The extracellular-space (ECS) application: train an ECS-Net variant, predict and score
ECS probabilities, segment a folder of sections, and quantify the ECS of a mask.

Modules:

* :mod:`emseg.ecs.workflow`: :func:`train_ecs` (the one training loop with an ECS-Net
  preset and ablation variant), :func:`predict_ecs`, :func:`ecs_mask`, :func:`evaluate_ecs`,
  :func:`segment_ecs`, :func:`write_results`; behind example 4, ``python -m emseg ecs
  ...`` and ``bench/bench_ecs.py``.
* :mod:`emseg.ecs.quantify`: volume fraction, gap widths along the skeleton, skeleton
  length, connected components (:func:`quantify_ecs`) and their CSV
  (:func:`write_ecs_csv`).
* :mod:`emseg.ecs.plots`: the figures.

The binary-mask check is :func:`emseg._validate.check_mask`, re-exported here as
:func:`check_mask`. (``emseg.ecs_workflow``, the workflow's old module, is a deprecated
alias of :mod:`emseg.ecs.workflow` until emseg 1.0.)
"""
from emseg._validate import check_mask
from emseg.ecs.plots import plot_ecs, plot_ecs_prediction, plot_weight_map
from emseg.ecs.quantify import (CSV_COLUMNS, area_fraction, component_stats, gap_width_map,
                                quantify_ecs, skeleton_length, write_ecs_csv)
from emseg.ecs.workflow import (ecs_mask, ecs_preset, evaluate_ecs, predict_ecs, segment_ecs,
                                train_ecs, with_shape_weights, write_results)

__all__ = ["check_mask", "area_fraction", "gap_width_map", "skeleton_length",
           "component_stats", "quantify_ecs", "write_ecs_csv", "plot_ecs", "plot_weight_map",
           "plot_ecs_prediction", "write_results", "CSV_COLUMNS", "ecs_preset",
           "with_shape_weights", "train_ecs", "predict_ecs", "ecs_mask", "evaluate_ecs",
           "segment_ecs"]
