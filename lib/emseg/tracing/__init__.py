"""Neuron tracing: SWC trees, the voxel-scooping tracer, a skeletonisation baseline, metrics.

The pipeline "stack -> CNN probability map (or a mask) -> tracer -> SWC tree -> metrics"
(:mod:`emseg.tracing.pipeline` holds the steps around the tracers)::

    from emseg.tracing import trace_voxel_scooping, tracing_report, write_swc
    tree = trace_voxel_scooping(prob, voxel_size=(1.0, 0.5, 0.5))
    write_swc("cell.swc", tree)
    tracing_report(tree, ground_truth, voxel_size=(1.0, 0.5, 0.5))

SWC positions are physical (x, y, z); volumes are (z, y, x); see
:mod:`emseg.data.swc` for the conventions and the explicit converters.
``trace_skeleton`` (the baseline) is imported on first use, so that
``import emseg.tracing`` does not load scikit-image.
"""
import importlib

from emseg.data.swc import (SwcTree, crop_tree, densest_box, read_swc, resample_tree, swc_to_voxel,
                               voxel_to_swc, write_swc)
from emseg.tracing.scooping import NothingToTrace, foreground_mask, trace_voxel_scooping
from emseg.tracing.metrics import distance_to_tree, neuron_distance, skeleton_f1, tracing_report
from emseg.tracing.pipeline import normalize_stack, probability_map, raw_foreground, trace_and_score

__all__ = ["SwcTree", "read_swc", "write_swc", "resample_tree", "crop_tree", "densest_box",
           "voxel_to_swc",
           "swc_to_voxel", "foreground_mask", "trace_voxel_scooping", "trace_skeleton", "NothingToTrace",
           "neuron_distance", "skeleton_f1", "tracing_report", "distance_to_tree",
           "normalize_stack", "raw_foreground", "probability_map", "trace_and_score"]


def __getattr__(name):
    if name == "trace_skeleton":
        return importlib.import_module("emseg.tracing.baseline").trace_skeleton
    raise AttributeError(f"module 'emseg.tracing' has no attribute {name!r}")
