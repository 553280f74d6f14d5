"""The steps around the tracers: normalisation, the baseline's foreground, probability maps,
trace_and_score, and the tracing figures."""
import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
from scipy import ndimage as ndi  # noqa: E402

from emseg.data.phantoms.neuron import neuron_phantom  # noqa: E402
from emseg.models import UNet3D, VoxResNet  # noqa: E402
from emseg.tracing import (SwcTree, normalize_stack, probability_map, raw_foreground,  # noqa: E402
                           trace_and_score, trace_skeleton, trace_voxel_scooping)
from emseg.tracing.plot import plot_quality_vs_signal, plot_trace_mip, plot_tree_3d  # noqa: E402

VS = (1.0, 0.5, 0.5)


@pytest.fixture(scope="module")
def stack():
    return neuron_phantom(shape=(24, 64, 64), seed=3)


def test_normalize_stack_is_in_noise_units_and_keeps_the_signal_scale(stack):
    bright = normalize_stack(stack.image)
    assert bright.dtype == np.float32
    bg = bright[~stack.mask]
    assert abs(np.median(bg)) < 0.2 and 0.8 < np.median(np.abs(bg)) * 1.4826 < 1.2
    dim = normalize_stack(neuron_phantom(shape=(24, 64, 64), seed=3, intensity=0.25).image)
    ratio = np.median(dim[stack.mask]) / np.median(bright[stack.mask])
    assert 0.15 < ratio < 0.4                    # a quarter of the signal, about a quarter
    with pytest.raises(ValueError, match="constant"):
        normalize_stack(np.full((4, 8, 8), 7))
    with pytest.raises(ValueError, match="3-D"):
        normalize_stack(np.zeros((8, 8)))


def test_raw_foreground_finds_bright_neurites_not_background(stack):
    fg = raw_foreground(stack.image)
    assert fg.dtype == bool
    far = ~ndi.binary_dilation(stack.mask, iterations=3)      # beyond the blur of the PSF
    assert fg[stack.mask].mean() > 0.5 and fg[far].mean() < 0.005
    assert raw_foreground(stack.image, k=1000).sum() == 0
    with pytest.raises(ValueError, match="k must be a positive number"):
        raw_foreground(stack.image, k=-1)


def test_probability_map_needs_two_classes_and_picks_a_window(stack):
    torch.manual_seed(0)
    net = VoxResNet(width=4, blocks=1)
    prob = probability_map(net, stack.image)     # default window cut to the 24 x 64 x 64 stack
    assert prob.shape == stack.image.shape and prob.dtype == np.float32
    assert 0 <= prob.min() and prob.max() <= 1
    with pytest.raises(ValueError, match="2-class network"):
        probability_map(UNet3D(3, width=4, depth=2), stack.image)


def test_trace_and_score_moves_by_the_offset_and_survives_an_empty_foreground(stack):
    tree, row = trace_and_score(trace_voxel_scooping, stack.mask, stack.tree, voxel_size=VS)
    assert row["f1"] > 0.9 and row["trees"] >= 1 and row["voxels_per_s"] > 0
    shifted = SwcTree(id=stack.tree.id, type=stack.tree.type, x=stack.tree.x + 5.0,
                      y=stack.tree.y, z=stack.tree.z, radius=stack.tree.radius,
                      parent=stack.tree.parent)
    moved, row2 = trace_and_score(trace_voxel_scooping, stack.mask, shifted, voxel_size=VS,
                                  offset=(0.0, 0.0, 5.0))
    np.testing.assert_allclose(moved.x, tree.x + 5.0)
    assert row2["f1"] == pytest.approx(row["f1"])
    empty, row3 = trace_and_score(trace_skeleton, np.zeros((8, 8, 8), bool), stack.tree,
                                  voxel_size=VS)
    assert len(empty) == 0 and row3["f1"] == 0.0 and row3["trees"] == 0 and np.isnan(row3["esa"])
    # what counts as a failed trace is the NothingToTrace error, whatever its words
    from emseg.tracing import NothingToTrace

    def finds_nothing(*args, **kwargs):
        raise NothingToTrace("the skeleton is empty")

    def breaks(*args, **kwargs):
        raise ValueError("all background")  # a plain ValueError is a real error

    _, row4 = trace_and_score(finds_nothing, stack.mask, stack.tree, voxel_size=VS)
    assert row4["f1"] == 0.0 and row4["trees"] == 0
    with pytest.raises(ValueError, match="all background"):
        trace_and_score(breaks, stack.mask, stack.tree, voxel_size=VS)
    with pytest.raises(ValueError, match="3-D"):                # other errors still raise
        trace_and_score(trace_skeleton, np.zeros((8, 8), bool), stack.tree, voxel_size=VS)


def test_figures(stack, tmp_path):
    tree = trace_voxel_scooping(stack.mask, voxel_size=VS)
    trees = {"truth": stack.tree, "trace": tree, "empty": SwcTree.empty()}
    fig = plot_trace_mip(stack.image, trees, voxel_size=VS, title="t")
    lines = [c for ax in fig.axes for c in ax.collections]
    assert len(lines) == 6 and len(lines[1].get_segments()) == len(tree) - len(tree.roots)
    # the overlay is in voxel coordinates: the trace lies on the projection's bright pixels
    seg = np.concatenate(lines[1].get_segments())
    mip = stack.mask.max(0)
    on = mip[np.clip(np.round(seg[:, 1]).astype(int), 0, 63), np.clip(np.round(seg[:, 0]).astype(int), 0, 63)]
    assert on.mean() > 0.9
    assert plot_tree_3d(trees, tmp_path / "t3d.png").is_file()
    rows = [{"method": m, "intensity": i, "f1": f, "esa": 1.0, "pds": 0.1}
            for m, f0 in (("a", 0.9), ("b", 0.5)) for i, f in ((1.0, f0), (0.5, f0 - 0.1))]
    assert plot_quality_vs_signal(rows, tmp_path / "q.png").is_file()
    with pytest.raises(TypeError, match="dict of label -> SwcTree"):
        plot_trace_mip(stack.image, [tree])
