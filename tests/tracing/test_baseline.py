"""Skeletonisation baseline: same input rules as the tracer, sensible trees."""
import numpy as np
import pytest

from emseg.data.phantoms.neuron import neuron_phantom
from emseg.tracing import skeleton_f1, tracing_report
from emseg.tracing.baseline import trace_skeleton

VS = (1.0, 0.5, 0.5)


def test_bar_gives_one_chain_on_the_axis():
    m = np.zeros((11, 11, 50), bool)
    m[3:8, 3:8, 5:45] = True
    t = trace_skeleton(m)
    assert len(t.roots) == 1 and (t.n_children == 0).sum() <= 2
    assert np.all(np.abs(t.y - 5) <= 1) and np.all(np.abs(t.z - 5) <= 1)
    assert 30 <= t.cable_length <= 42


def test_phantom_mask_and_raw_image():
    image, mask, truth = neuron_phantom(seed=0, shape=(40, 96, 96))
    t = trace_skeleton(mask, voxel_size=VS)
    r = tracing_report(t, truth, voxel_size=VS)
    assert len(t.roots) == 1 and r["f1"] >= 0.95 and r["pds"] <= 0.05, r
    # raw uint16 counts thresholded directly (integer input needs an explicit threshold)
    raw = trace_skeleton(image, threshold=250, voxel_size=VS)
    assert skeleton_f1(raw, truth, voxel_size=VS)["precision"] >= 0.8


@pytest.mark.parametrize("image, kwargs, match", [
    (np.ones((10, 10), bool), {}, "3-D"),
    (np.zeros((5, 5, 5), bool), {}, "all background"),
    (np.ones((5, 5, 5), np.uint16), {}, "pass threshold="),
    (np.ones((5, 5, 5), bool), dict(min_component=200), "no foreground component has 200"),
    (np.ones((5, 5, 5), bool), dict(spur_factor=-1), "spur_factor"),
])
def test_bad_input_is_refused(image, kwargs, match):
    with pytest.raises(ValueError, match=match):
        trace_skeleton(image, **kwargs)
