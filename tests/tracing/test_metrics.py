"""Tracing metrics: Vaa3D ESA/DSA/PDS by hand and against a loop re-implementation."""
import math

import numpy as np
import pytest

from emseg.tracing import SwcTree, distance_to_tree, neuron_distance, skeleton_f1, tracing_report


def line(*points, start_id=1, parent_of_first=-1):
    """A chain through ``points`` (x, y, z)."""
    rows = []
    for k, p in enumerate(points):
        parent = parent_of_first if k == 0 else start_id + k - 1
        rows.append([start_id + k, 3, *p, 1.0, parent])
    return rows


# --------------------------------------------------------------------------- plain Vaa3D loops
def _seg_dist(p, a, b):
    """Vaa3D dist_pt_to_line_seg."""
    if np.array_equal(a, b):
        return float(np.linalg.norm(p - a))
    d = b - a
    t = -np.dot(a - p, d) / np.dot(d, d)
    if t < 0 or t > 1:
        return float(min(np.linalg.norm(p - a), np.linalg.norm(p - b)))
    return float(np.linalg.norm(a + t * d - p))


def _pt_to_swc(p, tree):
    """Vaa3D dist_pt_to_swc: starts from the first node, then every segment."""
    xyz, pidx = tree.xyz, tree.parent_index
    best = float(np.linalg.norm(p - xyz[0]))
    for i in range(len(tree)):
        if pidx[i] >= 0:
            best = min(best, _seg_dist(p, xyz[i], xyz[pidx[i]]))
    return best


def _directional(t1, t2, thr):
    xyz, pidx = t1.xyz, t1.parent_index
    ds = []
    for i in range(len(t1)):
        if pidx[i] < 0:
            continue
        p1, p2 = xyz[i], xyz[pidx[i]]
        n = int(1 + np.linalg.norm(p2 - p1) + 0.5)
        step = (p2 - p1) / (n - 1) if n > 1 else np.zeros(3)
        ds += [_pt_to_swc(p1 + step * k, t2) for k in range(n)]
    ds = np.array(ds)
    return ds.mean(), ds[ds >= thr], ds.size, ds.max()


def vaa3d_reference(a, b, thr=2.0):
    m1, big1, n1, max1 = _directional(a, b, thr)
    m2, big2, n2, max2 = _directional(b, a, thr)
    if big1.size and big2.size:
        dsa = (big1.mean() + big2.mean()) / 2
    else:
        dsa = big1.mean() if big1.size else (big2.mean() if big2.size else 0.0)
    return dict(esa=(m1 + m2) / 2, dsa=dsa, pds=(big1.size / n1 + big2.size / n2) / 2,
                dist_max=min(max1, max2))


def random_tree(rng, n, scale=10.0):
    parent = np.array([-1] + [int(rng.integers(max(0, i - 4), i)) for i in range(1, n)])
    xyz = np.cumsum(rng.normal(0, scale / 4, (n, 3)), axis=0)
    xyz = xyz[np.maximum(parent, 0)] * (parent >= 0)[:, None] + rng.normal(0, scale / 3, (n, 3))
    return SwcTree.from_arrays(xyz, parent)


# --------------------------------------------------------------------------- hand-computed cases
def test_identical_trees_score_zero():
    t = SwcTree.from_nodes(line((0, 0, 0), (3, 4, 0), (3, 4, 7)))
    r = neuron_distance(t, t)
    assert (r["dsa"], r["pds"]) == (0.0, 0.0)
    assert r["esa"] == pytest.approx(0.0, abs=1e-12) and r["dist_max"] < 1e-12


def test_extra_branch_only_counts_in_one_direction():
    a = SwcTree.from_nodes(line((0, 0, 0), (10, 0, 0)))
    b = SwcTree.from_nodes(line((0, 0, 0), (10, 0, 0)) + [[3, 3, 10, 6, 0, 1, 2]])
    r = neuron_distance(a, b)
    # B's samples: 11 on the shared edge (d = 0) and 7 on the branch (d = 0..6)
    assert r["n_ab"] == 11 and r["n_ba"] == 18
    assert r["esa"] == pytest.approx((0 + 21 / 18) / 2)
    assert r["dsa"] == pytest.approx((2 + 3 + 4 + 5 + 6) / 5)   # only B->A has d >= 2
    assert r["pds"] == pytest.approx((0 + 5 / 18) / 2)
    assert r["dist_max"] == 0.0                                # min of the two maxima
    assert r["esa_ab"] == 0.0 and r["pds_ba"] == pytest.approx(5 / 18)


def test_threshold_is_inclusive():
    a = SwcTree.from_nodes(line((0, 0, 0), (4, 0, 0)))
    b = SwcTree.from_nodes(line((0, 2, 0), (4, 2, 0)))
    assert neuron_distance(a, b, threshold=2.0)["pds"] == 1.0      # d == T is "different"
    assert neuron_distance(a, b, threshold=2.0 + 1e-9)["pds"] == 0.0
    assert neuron_distance(a, b)["esa"] == pytest.approx(2.0)


def test_point_to_segment_not_point_to_node():
    # A's samples lie between B's only two nodes (10 apart): distance to the segment is 1
    a = SwcTree.from_nodes(line((2, 1, 0), (8, 1, 0)))
    b = SwcTree.from_nodes(line((0, 0, 0), (10, 0, 0)))
    assert neuron_distance(a, b)["esa_ab"] == pytest.approx(1.0)
    np.testing.assert_allclose(distance_to_tree([[5, 1, 0], [13, 4, 0]], b), [1.0, 5.0])


def test_first_node_counts_as_a_point_as_in_vaa3d():
    a = SwcTree.from_nodes(line((0, 0, 0), (4, 0, 0)))
    lone_first = SwcTree.from_nodes([[1, 1, 2, 1, 0, 1, -1]] + line((0, 10, 0), (4, 10, 0),
                                                                     start_id=2))
    lone_last = SwcTree.from_nodes(line((0, 10, 0), (4, 10, 0)) + [[3, 1, 2, 1, 0, 1, -1]])
    expected = np.mean([math.hypot(x - 2, 1) for x in (4, 3, 2, 1, 0)])
    assert neuron_distance(a, lone_first)["esa_ab"] == pytest.approx(expected)
    assert neuron_distance(a, lone_last)["esa_ab"] == pytest.approx(10.0)


def test_short_edge_gives_one_sample_at_the_child_end():
    a = SwcTree.from_nodes(line((0, 0, 0), (0.4, 0, 0)))           # N = int(1 + 0.4 + 0.5) = 1
    b = SwcTree.from_nodes(line((0, 3, 0), (0, 4, 0)))
    r = neuron_distance(a, b)
    # the one sample is the child (0.4, 0, 0), as Vaa3D starts each edge at the child
    assert r["n_ab"] == 1 and r["esa_ab"] == pytest.approx(math.hypot(0.4, 3.0))


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_matches_a_plain_reimplementation_of_vaa3d(seed):
    rng = np.random.default_rng(seed)
    a, b = random_tree(rng, 25), random_tree(rng, 30)
    got, want = neuron_distance(a, b, threshold=3.0), vaa3d_reference(a, b, thr=3.0)
    for key in want:
        assert got[key] == pytest.approx(want[key], rel=1e-9, abs=1e-9), key


def test_distance_to_tree_is_exact_against_brute_force():
    rng = np.random.default_rng(5)
    tree = random_tree(rng, 60, scale=30)
    pts = rng.uniform(-60, 60, (300, 3))
    want = [_pt_to_swc(p, tree) for p in pts]
    np.testing.assert_allclose(distance_to_tree(pts, tree), want, rtol=1e-9, atol=1e-9)


def test_voxel_size_measures_in_voxels():
    # 3 um apart in z; with 2 um z voxels that is 1.5 voxels: below T = 2
    a = SwcTree.from_nodes(line((0, 0, 0), (10, 0, 0)))
    b = SwcTree.from_nodes(line((0, 0, 3), (10, 0, 3)))
    assert neuron_distance(a, b)["pds"] == 1.0
    r = neuron_distance(a, b, voxel_size=(2.0, 1.0, 1.0))
    assert r["pds"] == 0.0 and r["esa"] == pytest.approx(1.5)
    assert skeleton_f1(a, b)["f1"] == 0.0
    assert skeleton_f1(a, b, voxel_size=(2.0, 1.0, 1.0))["f1"] == 1.0


# --------------------------------------------------------------------------- precision / recall
def test_precision_recall_on_a_partial_trace_with_a_false_branch():
    truth = SwcTree.from_nodes(line((0, 0, 0), (20, 0, 0)))
    # covers x = 0..10 of the truth, plus a false 6-long branch going off in y
    trace = SwcTree.from_nodes(line((0, 0.5, 0), (10, 0.5, 0)) + [[3, 0, 10, 6.5, 0, 1, 2]])
    r = skeleton_f1(trace, truth, distance=2.0, spacing=1.0)
    # trace samples: 11 on the main part (all match) + 6 on the branch (y = 1.5 matches only)
    assert r["n_trace"] == 17 and r["n_truth"] == 21
    assert r["precision"] == pytest.approx(12 / 17)
    # truth samples within 2 of the trace: x = 0..11 (x = 12 is sqrt(4 + 0.25) away)
    assert r["recall"] == pytest.approx(12 / 21)
    p, q = 12 / 17, 12 / 21
    assert r["f1"] == pytest.approx(2 * p * q / (p + q))


def test_tracing_report_combines_both():
    t = SwcTree.from_nodes(line((0, 0, 0), (5, 0, 0)))
    r = tracing_report(t, t)
    assert r["f1"] == 1.0 and r["esa"] == 0.0 and r["n_nodes_trace"] == 2
    assert r["cable_truth"] == pytest.approx(5.0)


@pytest.mark.parametrize("bad, match, kind", [
    (SwcTree.empty(), "has no nodes", ValueError),
    (SwcTree.from_nodes([[1, 1, 0, 0, 0, 1, -1], [2, 1, 5, 0, 0, 1, -1]]), "no parent-child edge",
     ValueError),
    (np.zeros((4, 3)), "must be an SwcTree", TypeError),
])
def test_bad_trees_are_refused(bad, match, kind):
    good = SwcTree.from_nodes(line((0, 0, 0), (5, 0, 0)))
    with pytest.raises(kind, match=match):
        neuron_distance(good, bad)
    with pytest.raises(kind, match=match):
        skeleton_f1(bad, good)


@pytest.mark.parametrize("kwargs, match", [
    (dict(threshold=0), "threshold must be a finite number > 0"),
    (dict(threshold=float("nan")), "threshold"),
    (dict(voxel_size=(1, 1)), "voxel_size must be 3 numbers"),
])
def test_bad_options_are_refused(kwargs, match):
    t = SwcTree.from_nodes(line((0, 0, 0), (5, 0, 0)))
    with pytest.raises(ValueError, match=match):
        neuron_distance(t, t, **kwargs)
