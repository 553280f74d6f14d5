"""Voxel-scooping tracer: geometry, topology, bridging, pruning, anisotropy, inputs and errors."""
import numpy as np
import pytest
from scipy import ndimage as ndi

from emseg.data.phantoms.neuron import neuron_phantom, render_neuron
from emseg.tracing import (SwcTree, neuron_distance, skeleton_f1, trace_voxel_scooping,
                           tracing_report)
from emseg.tracing.scooping import _Space

VS = (1.0, 0.5, 0.5)


def bar(shape=(11, 11, 50), lo=(3, 3, 5), hi=(8, 8, 45)):
    m = np.zeros(shape, bool)
    m[lo[0]:hi[0], lo[1]:hi[1], lo[2]:hi[2]] = True
    return m


def soma_with_neurites():
    """A ball (r = 5) with three tubes (r = 1.5) along +x, -x and +y, and its true tree."""
    zz, yy, xx = np.indices((21, 61, 61))
    c = np.array([10, 30, 30])
    m = (zz - c[0]) ** 2 + (yy - c[1]) ** 2 + (xx - c[2]) ** 2 <= 25
    m |= ((zz - 10) ** 2 + (yy - 30) ** 2 <= 2.25) & (np.abs(xx - 30) <= 26)
    m |= ((zz - 10) ** 2 + (xx - 30) ** 2 <= 2.25) & (yy >= 30) & (yy <= 56)
    truth = SwcTree.from_nodes([[1, 1, 30, 30, 10, 5, -1], [2, 3, 56, 30, 10, 1.5, 1],
                                [3, 3, 4, 30, 10, 1.5, 1], [4, 3, 30, 56, 10, 1.5, 1]])
    return m, truth


@pytest.fixture(scope="module")
def phantoms():
    return [neuron_phantom(seed=s, shape=(40, 96, 96)) for s in (0, 1)]


# --------------------------------------------------------------------------- geometry and topology
def test_bar_traces_as_one_chain_on_its_axis_from_the_middle():
    t = trace_voxel_scooping(bar())
    assert len(t.roots) == 1
    assert int(t.n_children[t.roots[0]]) == 2                 # seeded in the middle
    assert (t.n_children == 0).sum() == 2 and t.n_children.max() == 2
    np.testing.assert_allclose(t.y, 5.0, atol=1e-9)
    np.testing.assert_allclose(t.z, 5.0, atol=1e-9)
    assert 36 <= t.cable_length <= 40                         # 40 voxels long, tips at the ends
    assert 1.5 <= np.median(t.radius) <= 3.0                  # half-width 2.5 voxels


def test_soma_and_neurites_topology_and_position():
    m, truth = soma_with_neurites()
    t = trace_voxel_scooping(m)
    root = t.roots
    assert len(root) == 1 and t.type[root[0]] == 1            # a soma: thick root
    np.testing.assert_allclose(t.xyz[root[0]], [30, 30, 10], atol=0.6)
    assert t.radius[root[0]] == pytest.approx(5.0, abs=1.0)
    assert (t.n_children == 0).sum() == 3                     # three tips
    assert (t.n_children >= 2).sum() == 1                     # one branch point: the soma
    r = tracing_report(t, truth)
    assert r["f1"] == 1.0 and r["esa"] < 0.5 and r["pds"] == 0.0
    tips = t.xyz[t.n_children == 0]
    for end in ([56, 30, 10], [4, 30, 10], [30, 56, 10]):    # tips reach the ends
        assert np.min(np.linalg.norm(tips - end, axis=1)) < 1.5


def test_side_branch_gives_a_branch_point_near_the_junction():
    m = bar((11, 40, 60), lo=(4, 18, 5), hi=(7, 21, 55))      # trunk along x
    m[4:7, 21:36, 28:31] = True                                # side branch along +y at x = 29
    t = trace_voxel_scooping(m)
    forks = t.xyz[t.n_children >= 2]
    assert (t.n_children == 0).sum() == 3
    assert np.min(np.linalg.norm(forks - [29, 19, 5], axis=1)) <= 3.0


def test_radius_follows_the_tube_calibre():
    zz, yy, xx = np.indices((15, 15, 60))
    tube = ((zz - 7) ** 2 + (yy - 7) ** 2 <= 9) & (xx > 5) & (xx < 55)
    t = trace_voxel_scooping(tube)
    assert 2.3 <= np.median(t.radius) <= 3.5


def test_two_separate_objects_give_two_trees():
    m = bar((11, 40, 50), lo=(3, 3, 5), hi=(8, 8, 45))
    m[3:8, 30:35, 5:45] = True
    t = trace_voxel_scooping(m)
    assert len(t.roots) == 2
    assert set(np.round(t.y[t.roots]).tolist()) == {5.0, 32.0}


# --------------------------------------------------------------------------- on rendered neurons
def test_phantom_mask_recovers_the_ground_truth_tree(phantoms):
    for image, mask, truth in phantoms:
        t = trace_voxel_scooping(mask, voxel_size=VS)
        r = tracing_report(t, truth, voxel_size=VS)
        assert len(t.roots) == 1
        # measured 0.99-1.0 / 0.3 / <= 0.01 on these seeds
        assert r["f1"] >= 0.97 and r["esa"] <= 0.6 and r["pds"] <= 0.03, r


def test_anisotropic_voxel_size_is_used():
    image, mask, truth = neuron_phantom(seed=3, shape=(40, 96, 96), voxel_size=(1.0, 0.5, 0.5))
    good = trace_voxel_scooping(mask, voxel_size=(1.0, 0.5, 0.5))
    wrong = trace_voxel_scooping(mask)                         # treats 0.5 um pixels as 1
    assert skeleton_f1(good, truth, distance=1.0)["f1"] >= 0.97     # 1 um, physical units
    assert skeleton_f1(wrong, truth, distance=1.0)["f1"] < 0.5
    # the same physical tree at isotropic 0.5 um voxels traces to the same tree
    fine = render_neuron(truth, shape=(80, 96, 96), voxel_size=0.5, seed=0).mask
    iso = trace_voxel_scooping(fine, voxel_size=0.5)
    assert neuron_distance(iso, good, threshold=1.0)["esa"] < 0.5


def test_probability_map_input(phantoms):
    rng = np.random.default_rng(0)
    for image, mask, truth in phantoms:
        prob = ndi.gaussian_filter(mask.astype(np.float32), 0.6)
        prob = np.clip(prob + rng.normal(0, 0.05, mask.shape), 0, 1).astype(np.float32)
        t = trace_voxel_scooping(prob, voxel_size=VS)
        assert skeleton_f1(t, truth, voxel_size=VS)["f1"] >= 0.95


def test_integer_and_float_maps_give_the_same_tree():
    m, _ = soma_with_neurites()
    a = trace_voxel_scooping((m * 200).astype(np.uint8), threshold=100)
    b = trace_voxel_scooping(m * np.float32(0.8), threshold=0.4)
    np.testing.assert_array_equal(a.xyz, b.xyz)
    np.testing.assert_array_equal(a.parent, b.parent)


def test_same_input_same_tree(phantoms):
    mask = phantoms[0][1]
    a, b = trace_voxel_scooping(mask, voxel_size=VS), trace_voxel_scooping(mask, voxel_size=VS)
    for name in ("x", "y", "z", "radius", "parent"):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name))


# --------------------------------------------------------------------------- gaps, spurs, noise
def two_bars(gap, fill=0.0, dtype=np.float32):
    """Collinear bars along x, the long one ending at x = 39 and the short one starting at
    x = 39 + gap (a Chebyshev gap of ``gap`` voxels); ``fill`` between them."""
    m = np.zeros((9, 9, 80), dtype)
    m[3:6, 3:6, 5:40] = 1
    m[3:6, 3:6, 39 + gap:39 + gap + 20] = 1
    m[3:6, 3:6, 40:39 + gap] = fill
    return m


@pytest.mark.parametrize("gap, fill, joined", [
    (5, 0.0, True),    # DC = 1, 4 of 6 line points low: DPC = exp(-2/3) = 0.51
    (6, 0.0, False),   # DC = exp(-1/3), DPC = exp(-5/7): 0.35
    (7, 0.3, True),    # faint signal in the gap (>= 0.1): DPC = 1, DC = exp(-2/3) = 0.51
    (8, 0.3, False),   # DC = exp(-1) = 0.37
])
def test_gap_bridging_follows_the_caat_score(gap, fill, joined):
    t = trace_voxel_scooping(two_bars(gap, fill))
    assert (len(t.roots) == 1) == joined
    if joined:
        assert t.x.max() - t.x.min() >= 70 - 15               # one tree spans both bars


@pytest.mark.parametrize("gap, joined", [(7, True), (8, False)])
def test_gap_bridging_on_a_mask_uses_distance_only(gap, joined):
    t = trace_voxel_scooping(two_bars(gap) > 0)
    assert (len(t.roots) == 1) == joined
    assert len(trace_voxel_scooping(two_bars(gap) > 0, max_gap=0).roots) == 2


def test_bridging_rejoins_a_broken_neuron(phantoms):
    image, mask, truth = phantoms[1]
    cut = mask.copy()
    cut[:, :, 30] = False                                      # two planes through the arbor
    cut[:, 62, :] = False
    n_pieces = ndi.label(cut, np.ones((3, 3, 3)))[1]
    assert n_pieces >= 3
    joined = trace_voxel_scooping(cut, voxel_size=VS)
    broken = trace_voxel_scooping(cut, voxel_size=VS, max_gap=0)
    assert len(joined.roots) < len(broken.roots)
    assert skeleton_f1(joined, truth, voxel_size=VS)["f1"] >= 0.95


def test_small_bump_is_pruned_as_a_spur():
    m = bar()
    m[8:10, 5, 25] = True                                      # 2-voxel bump on the side
    assert (trace_voxel_scooping(m, spur_factor=0).n_children == 0).sum() == 3
    assert (trace_voxel_scooping(m).n_children == 0).sum() == 2


def test_noise_specks_are_ignored():
    m = bar((11, 40, 50))
    rng = np.random.default_rng(0)
    specks = rng.integers(0, [11, 40, 50], (30, 3))
    specks = specks[np.abs(specks[:, 1] - 5) > 6]              # away from the bar
    m[tuple(specks.T)] = True
    assert len(trace_voxel_scooping(m).roots) == 1
    assert len(trace_voxel_scooping(m, min_component=1, max_gap=0).roots) > 10


def test_sparse_distance_transform_is_exact():
    _, mask, _ = neuron_phantom(seed=0, shape=(24, 64, 64))
    space = _Space(mask, mask.astype(np.int32), None, np.array(VS))
    want = ndi.distance_transform_edt(np.pad(mask, 1), sampling=VS)
    np.testing.assert_allclose(space.depth.reshape(want.shape)[np.pad(mask, 1)],
                               want[np.pad(mask, 1)], rtol=1e-6)


# --------------------------------------------------------------------------- errors
@pytest.mark.parametrize("image, kwargs, match", [
    (np.ones((10, 10), bool), {}, r"3-D \(z, y, x\), got shape \(10, 10\)"),
    (np.ones((10, 10)), {}, r"3-D"),
    (np.zeros((5, 5, 5), bool), {}, "all background"),
    (np.zeros((5, 5, 5)), {}, r"no voxel of image is >= threshold 0.5"),
    (np.ones((5, 5, 5), np.uint8), {}, "integer array .* pass threshold="),
    (np.full((5, 5, 5), np.nan), {}, "NaN"),
    (np.zeros((0, 5, 5)), {}, "empty"),
    (np.array([["a"]]), {}, "numeric"),
    (bar(), dict(voxel_size=(1, 1)), "voxel_size must be 3 numbers"),
    (bar(), dict(voxel_size=(1, -1, 1)), "voxel_size"),
    (bar(), dict(min_component=0), "min_component must be an integer >= 1"),
    (bar(), dict(min_component=10 ** 6), "no foreground component has 1000000 voxels"),
    (bar(), dict(max_gap=-1), "max_gap must be a finite number >= 0"),
    (bar(), dict(scoop_cap=0), "scoop_cap must be a number > 0"),
    (bar(), dict(threshold="high"), "threshold must be a finite number"),
])
def test_bad_input_is_refused_with_a_clear_message(image, kwargs, match):
    with pytest.raises(ValueError, match=match):
        trace_voxel_scooping(image, **kwargs)


def test_other_input_types_are_handled_or_refused_clearly():
    import torch
    from emseg.tracing import trace_skeleton
    m = bar()
    want = trace_voxel_scooping(m)
    # nested lists are the array they make: a list of booleans is a mask
    got = trace_voxel_scooping(m.tolist())
    np.testing.assert_allclose(got.xyz, want.xyz)
    assert len(trace_skeleton(m.tolist())) > 0
    for tracer in (trace_voxel_scooping, trace_skeleton):
        with pytest.raises(TypeError, match=r"numpy array, got a torch.Tensor.*\.numpy\(\)"):
            tracer(torch.from_numpy(m.astype(np.float32)))
        with pytest.raises(ValueError, match="numeric"):
            tracer(m.astype(complex))
        with pytest.raises(ValueError, match=r"voxel_size must be 3 numbers"):
            tracer(m, voxel_size="big")


def test_solid_block_and_ring_end_without_hanging():
    # the whole volume foreground, and a closed loop: every voxel is visited once, so the
    # tracer ends with a tree (no cycle) in a bounded number of steps
    solid = trace_voxel_scooping(np.ones((24, 24, 24), bool))
    assert len(solid.roots) == 1 and len(solid) > 1
    yy, xx = np.mgrid[:40, :40]
    r = np.hypot(yy - 20, xx - 20)
    ring = np.zeros((5, 40, 40), bool)
    ring[1:4] = (r > 10) & (r < 13)
    t = trace_voxel_scooping(ring)
    assert len(t.roots) == 1
    # the loop is cut once: the trace covers the ring's centre line
    a = np.linspace(0, 2 * np.pi, 72)
    xyz = np.stack([20 + 11.5 * np.cos(a), 20 + 11.5 * np.sin(a), np.full_like(a, 2.0)], 1)
    centre = SwcTree.from_arrays(xyz, np.r_[-1, np.arange(71)], radius=1.0)
    assert skeleton_f1(t, centre, distance=2.0)["recall"] >= 0.9
