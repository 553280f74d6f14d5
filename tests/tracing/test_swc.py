"""SWC trees: tolerant reading, clear errors with line numbers, writing, resampling, cropping."""
import io

import numpy as np
import pytest

from emseg.tracing import (SwcTree, crop_tree, densest_box, read_swc, resample_tree, swc_to_voxel,
                           voxel_to_swc, write_swc)

MESSY = """# a comment
#   another one

  10 1  0.0 0.0 0.0  3.0 -1   # soma, trailing comment
\t12 3 0 2.5 0 1 11 0.9 extra columns here
11 3 0 1.0 0 1.0 10\r
20 1 50 50 50 2 -1
21.0 3 51 50 50 1 20.0
"""


def test_read_tolerates_comments_blank_lines_extra_columns_and_order():
    t = read_swc(io.StringIO(MESSY))
    assert t.id.tolist() == [10, 12, 11, 20, 21]
    assert t.parent.tolist() == [-1, 11, 10, -1, 20]
    assert t.type.tolist() == [1, 3, 3, 1, 3]
    np.testing.assert_allclose(t.xyz[1], [0, 2.5, 0])
    assert t.radius.tolist() == [3.0, 1.0, 1.0, 2.0, 1.0]
    assert sorted(t.roots.tolist()) == [0, 3]            # two roots: a forest
    assert t.parent_index.tolist() == [-1, 2, 0, -1, 3]
    assert t.n_children.tolist() == [1, 0, 1, 1, 0]
    assert t.cable_length == pytest.approx(2.5 + 1.0)


def test_read_from_path(tmp_path):
    path = tmp_path / "cell.swc"
    path.write_text(MESSY)
    assert len(read_swc(path)) == len(read_swc(str(path))) == 5


@pytest.mark.parametrize("text, match", [
    ("1 1 0 0 0 1 -1\n2 3 0 0 1 -1\n", r"line 2: expected 7 columns"),
    ("1 1 0 0 0 1 -1\n\n2 3 zero 0 0 1 1\n", r"line 3: x 'zero' is not a number"),
    ("1 1 0 0 0 1 -1\n2 3 0 0 0 nan 1\n", r"line 2: radius 'nan' is not a finite"),
    ("1 1 0 0 0 1 -1\n2.5 3 0 0 0 1 1\n", r"line 2: id '2.5' must be an integer"),
    ("1 1 0 0 0 1 -1\n2 3 0 0 0 1 1\n# c\n2 3 1 0 0 1 1\n",
     r"line 4: duplicate node id 2 \(first defined on line 2\)"),
    ("1 1 0 0 0 1 -1\n2 3 0 0 0 1 7\n", r"line 2: parent 7 of node 2 is not defined"),
    ("1 1 0 0 0 1 -1\n2 3 0 0 0 1 3\n3 3 0 0 0 1 4\n4 3 0 0 0 1 2\n",
     r"line \d: node \d is on a parent cycle \(\d -> \d -> \d -> \d\)"),
    ("5 3 0 0 0 1 5\n", r"line 1: node 5 is on a parent cycle"),
    ("# only comments\n\n", r"no SWC nodes found"),
])
def test_read_errors_name_the_line_and_the_problem(text, match):
    with pytest.raises(ValueError, match=match):
        read_swc(io.StringIO(text))


def test_cycle_reported_for_a_branch_hanging_from_a_cycle():
    # 10 hangs from the cycle 2 -> 3 -> 2; the reported line is a node on the cycle
    text = "1 1 0 0 0 1 -1\n10 3 0 0 0 1 2\n2 3 0 0 0 1 3\n3 3 0 0 0 1 2\n"
    with pytest.raises(ValueError, match=r"line [34]: node [23] is on a parent cycle"):
        read_swc(io.StringIO(text))


def test_long_cycle_does_not_hang_and_is_found():
    n = 20000
    ids = np.arange(1, n + 1)
    parents = np.roll(ids, 1)                                 # one cycle through every node
    text = "\n".join(f"{i} 3 {i} 0 0 1 {p}" for i, p in zip(ids, parents))
    with pytest.raises(ValueError, match="parent cycle"):
        read_swc(io.StringIO(text))


def test_read_rejects_wrong_source_type():
    with pytest.raises(TypeError, match="path or a text stream"):
        read_swc(42)


def test_round_trip_is_exact(tmp_path):
    rng = np.random.default_rng(1)
    n = 50
    parent = np.array([-1] + [int(rng.integers(0, i)) for i in range(1, n)])
    tree = SwcTree.from_arrays(rng.normal(0, 1e3, (n, 3)), parent,
                               radius=rng.uniform(0.01, 5, n), type=rng.integers(0, 7, n))
    path = write_swc(tmp_path / "sub" / "t.swc", tree, comments=["hello", "two\nlines"])
    text = path.read_text()
    assert "# hello\n# two\n# lines\n" in text
    back = read_swc(path)
    order = np.argsort(back.id)
    for name in ("id", "type", "x", "y", "z", "radius", "parent"):
        np.testing.assert_array_equal(getattr(back, name)[order], getattr(tree, name))


def test_write_puts_parents_first_and_refuses_folders(tmp_path):
    t = read_swc(io.StringIO("3 3 0 2 0 1 2\n1 1 0 0 0 1 -1\n2 3 0 1 0 1 1\n"))
    lines = [ln for ln in write_swc(tmp_path / "a.swc", t).read_text().splitlines()
             if not ln.startswith("#")]
    assert [int(ln.split()[0]) for ln in lines] == [1, 2, 3]
    with pytest.raises(ValueError, match="is a folder"):
        write_swc(tmp_path, t)
    with pytest.raises(TypeError, match="SwcTree"):
        write_swc(tmp_path / "b.swc", np.zeros((3, 7)))


def test_tree_validation_errors():
    with pytest.raises(ValueError, match="duplicate node ids"):
        SwcTree.from_nodes([[1, 1, 0, 0, 0, 1, -1], [1, 3, 0, 0, 0, 1, -1]])
    with pytest.raises(ValueError, match="parent 9, which is not a node id"):
        SwcTree.from_nodes([[1, 1, 0, 0, 0, 1, 9]])
    with pytest.raises(ValueError, match="parent cycle"):
        SwcTree.from_nodes([[1, 1, 0, 0, 0, 1, 2], [2, 3, 0, 0, 0, 1, 1]])
    with pytest.raises(ValueError, match="same length"):
        SwcTree(id=[1, 2], type=[1], x=[0], y=[0], z=[0], radius=[1], parent=[-1])
    with pytest.raises(ValueError, match="NaN or infinite"):
        SwcTree.from_nodes([[1, 1, np.nan, 0, 0, 1, -1]])


def test_sorted_renumbers_parents_first():
    t = read_swc(io.StringIO(MESSY)).sorted()
    assert t.id.tolist() == [1, 2, 3, 4, 5]
    idx = t.parent_index
    assert np.all(idx < np.arange(len(t)))                # parents come first
    assert t.cable_length == pytest.approx(3.5)


def test_scaled_converts_units():
    t = read_swc(io.StringIO("1 1 1000 2000 3000 100 -1\n2 3 1000 2000 3125 50 1\n"))
    um = t.scaled(0.008)
    np.testing.assert_allclose(um.xyz[0], [8, 16, 24])
    np.testing.assert_allclose(um.radius, [0.8, 0.4])
    assert um.cable_length == pytest.approx(1.0)
    with pytest.raises(ValueError, match="factor"):
        t.scaled(0)


def test_voxel_swc_conversion_is_explicit_and_invertible():
    zyx = np.array([[2, 10, 20], [0, 0, 0]])
    xyz = voxel_to_swc(zyx, voxel_size=(2.0, 0.5, 0.25), offset=(1.0, 2.0, 3.0))
    np.testing.assert_allclose(xyz, [[3 + 20 * 0.25, 2 + 10 * 0.5, 1 + 2 * 2.0], [3, 2, 1]])
    np.testing.assert_allclose(swc_to_voxel(xyz, voxel_size=(2.0, 0.5, 0.25),
                                            offset=(1.0, 2.0, 3.0)), zyx)
    with pytest.raises(ValueError, match=r"voxel_size must be 3 numbers > 0 in \(z, y, x\)"):
        voxel_to_swc(zyx, voxel_size=(1, 0, 1))
    with pytest.raises(ValueError, match=r"shape \(\.\.\., 3\)"):
        swc_to_voxel([1, 2], voxel_size=1)


def test_resample_keeps_key_nodes_and_bounds_spacing():
    text = """1 1 0 0 0 2 -1
2 3 10 0 0 1 1
3 3 10 7 0 1 2
4 3 17 0 0 1 2
5 3 0 -3 0 1 1
"""
    t = read_swc(io.StringIO(text))
    r = resample_tree(t, spacing=2.0)
    child, par = r.edges()
    steps = np.linalg.norm(r.xyz[child] - r.xyz[par], axis=1)
    assert steps.max() <= 2.0 + 1e-9
    assert r.cable_length == pytest.approx(t.cable_length)
    for p in t.xyz:                                         # every original node survives
        assert np.min(np.linalg.norm(r.xyz - p, axis=1)) < 1e-9
    assert (r.n_children >= 2).sum() == 2                    # root and node 2 still branch
    assert (r.n_children == 0).sum() == 3                    # three tips
    # 1 -> 2 (length 10) gets 5 steps of 2; the radius goes linearly from 2 to 1
    on_edge = np.flatnonzero((r.xyz[:, 1] == 0) & (r.xyz[:, 0] > 0) & (r.xyz[:, 0] < 10))
    np.testing.assert_allclose(np.sort(r.xyz[on_edge, 0]), [2, 4, 6, 8])
    np.testing.assert_allclose(r.radius[on_edge], 2 - r.xyz[on_edge, 0] / 10)
    with pytest.raises(ValueError, match="spacing"):
        resample_tree(t, spacing=0)


def test_crop_cuts_edges_at_the_box_faces():
    text = """1 1 2 2 2 1 -1
2 3 20 2 2 3 1
3 3 2 2 -20 1 1
4 3 -5 3 3 1 -1
5 3 15 3 3 1 4
"""
    t = read_swc(io.StringIO(text))
    c = crop_tree(t, shape=(5, 5, 10))          # box: x in [-0.5, 9.5], z in [-0.5, 4.5]
    xyz = c.xyz
    assert np.all(xyz[:, 0] >= -0.5 - 1e-9) and np.all(xyz[:, 0] <= 9.5 + 1e-9)
    assert np.all(xyz[:, 2] >= -0.5 - 1e-9) and np.all(xyz[:, 2] <= 4.5 + 1e-9)
    # the kept root plus two stubs to the faces; edge 4-5 passes through: new root + node
    assert len(c) == 5 and len(c.roots) == 2
    assert c.cable_length == pytest.approx((9.5 - 2) + (2 + 0.5) + 10.0)
    stub = np.argmin(np.abs(xyz[:, 0] - 9.5) + np.abs(xyz[:, 1] - 2))
    assert c.radius[stub] == pytest.approx(1 + 2 * 7.5 / 18)    # interpolated radius
    assert len(crop_tree(t, shape=(5, 5, 10), offset=(100, 100, 100))) == 0


def test_densest_box_holds_the_dense_part():
    # a long sparse line along x plus a tight zig-zag cluster around x = 200
    nodes = [[1, 1, 0.0, 0.0, 0.0, 1.0, -1], [2, 3, 300.0, 0.0, 0.0, 1.0, 1]]
    parent = 1
    for k in range(40):
        nodes.append([3 + k, 3, 195.0 + 10 * (k % 2), 5.0 * (k % 3), 0.0, 1.0, parent])
        parent = 3 + k
    tree = SwcTree.from_nodes(nodes)
    shape, vs = (3, 21, 21), (1.0, 1.0, 1.0)
    offset = densest_box(tree, shape=shape, voxel_size=vs, bin_size=2.0)
    inside = crop_tree(tree, shape=shape, voxel_size=vs, offset=offset)
    assert 185 <= offset[2] <= 205  # the box starts near the cluster, not at x = 0
    assert inside.cable_length > 0.5 * (tree.cable_length - 300)
    with pytest.raises(ValueError, match="bin_size"):
        densest_box(tree, shape=shape, bin_size=0)


def test_read_tolerates_a_byte_order_mark_and_binary_streams():
    text = "\ufeff# from a Windows tool\n1 1 0 0 0 1 -1\n2 3 1 0 0 1 1\n"
    a = read_swc(io.StringIO(text))
    b = read_swc(io.BytesIO(text.encode("utf-8")))
    assert a.id.tolist() == b.id.tolist() == [1, 2]
    np.testing.assert_array_equal(a.xyz, b.xyz)
