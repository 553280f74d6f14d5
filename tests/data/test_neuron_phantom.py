"""Neuron phantom: determinism, tree shape, mask/tree agreement, optics and noise."""
import numpy as np
import pytest

from emseg.data.phantoms.neuron import (PEAK_SIGNAL, NeuronStack, neuron_phantom, neuron_tree,
                                       render_neuron)
from emseg.tracing import SwcTree, distance_to_tree, swc_to_voxel, voxel_to_swc

VS = np.array([1.0, 0.5, 0.5])


@pytest.fixture(scope="module")
def stack():
    return neuron_phantom(seed=0, shape=(40, 96, 96))


def straight_tube(radius=1.0):
    """A tube along x through the middle of a (21, 41, 81) volume at 0.5 um voxels."""
    return SwcTree.from_nodes([[1, 3, 4.0, 10.0, 5.0, radius, -1],
                               [2, 3, 36.0, 10.0, 5.0, radius, 1]])


def test_same_seed_same_arrays_other_seed_differs():
    a = neuron_phantom(seed=4, shape=(24, 64, 64))
    b = neuron_phantom(seed=4, shape=(24, 64, 64))
    c = neuron_phantom(seed=5, shape=(24, 64, 64))
    assert isinstance(a, NeuronStack)
    np.testing.assert_array_equal(a.image, b.image)
    np.testing.assert_array_equal(a.mask, b.mask)
    np.testing.assert_array_equal(a.tree.xyz, b.tree.xyz)
    assert not np.array_equal(a.mask, c.mask)


def test_tree_is_a_tapering_branching_neuron_inside_its_box():
    t = neuron_tree(extent=(40, 60, 60), seed=2, n_neurites=4)
    assert t.parent[0] == -1 and t.type[0] == 1 and len(t.roots) == 1
    assert t.n_children[0] == 4                                   # four primary neurites
    assert (t.n_children[1:] >= 2).sum() >= 3                     # branch points
    child, par = t.edges()
    not_soma = par != 0
    assert np.all(t.radius[child][not_soma] <= t.radius[par][not_soma] + 1e-12)   # tapering
    assert t.radius.min() >= 0.6 - 1e-12
    steps = np.linalg.norm(t.xyz[child] - t.xyz[par], axis=1)[not_soma]
    np.testing.assert_allclose(steps, 1.0, atol=1e-9)             # 1-unit steps
    zyx = t.xyz[:, ::-1]
    assert np.all(zyx >= 0) and np.all(zyx <= [40, 60, 60])


def test_outputs_and_mask_agree_with_the_tree(stack):
    image, mask, tree = stack
    assert image.dtype == np.uint16 and mask.dtype == bool and image.shape == mask.shape
    # every node's voxel is in the mask ...
    vox = np.round(swc_to_voxel(tree.xyz, voxel_size=VS)).astype(int)
    assert mask[tuple(vox.T)].all()
    # ... and every mask voxel lies within the largest radius of the tree's centre line
    pts = voxel_to_swc(np.argwhere(mask), voxel_size=VS)
    assert distance_to_tree(pts, tree).max() <= tree.radius.max() + 1e-6


def test_signal_scales_with_intensity():
    tree = straight_tube()
    kw = dict(shape=(21, 41, 81), voxel_size=VS, seed=1, read_noise=0.0, unevenness=0.0)
    levels = []
    for intensity in (0.0, 0.5, 1.0):
        image, mask, _ = render_neuron(tree, intensity=intensity, **kw)
        levels.append(image[mask].mean() - image[~mask].mean())
    assert abs(levels[0]) < 5                                      # no signal: background only
    assert levels[2] > 0.25 * PEAK_SIGNAL                          # ~0.33 measured (z blur)
    assert levels[1] / levels[2] == pytest.approx(0.5, abs=0.06)


def test_psf_is_wider_in_z_than_in_xy():
    image, mask, _ = render_neuron(straight_tube(radius=0.3), shape=(21, 41, 81), voxel_size=VS,
                                   read_noise=0, unevenness=0, intensity=20, background=1.0)
    profile = image[:, :, 20:60].astype(float).mean(axis=2)        # (z, y) cross-section
    profile -= np.median(profile)
    centre = np.unravel_index(np.argmax(profile), profile.shape)
    z = profile[:, centre[1]].clip(0)
    y = profile[centre[0], :].clip(0)
    sd = [np.sqrt((w * ((np.arange(len(w)) - np.average(np.arange(len(w)), weights=w)) * s) ** 2)
                  .sum() / w.sum()) for w, s in ((z, VS[0]), (y, VS[1]))]
    assert sd[0] > 2 * sd[1]                                       # sigma 1.5 um vs 0.4 um


def test_noise_is_poisson_plus_read_noise():
    image, mask, _ = render_neuron(straight_tube(), shape=(21, 41, 81), voxel_size=VS, seed=3,
                                   background=200.0, read_noise=6.0, intensity=0.0)
    img = image.astype(float)
    assert img.mean() == pytest.approx(200, rel=0.1)
    # neighbour differences cancel the slow haze: var(diff) / 2 = mean + read_noise ** 2
    diff = np.diff(img, axis=2)
    assert diff.var() / 2 == pytest.approx(img.mean() + 36, rel=0.1)


def test_brightness_is_uneven_along_neurites_when_asked():
    tree = SwcTree.from_nodes([[1, 3, 2.0, 10.0, 5.0, 1.0, -1], [2, 3, 78.0, 10.0, 5.0, 1.0, 1]])
    kw = dict(shape=(11, 21, 161), voxel_size=VS, seed=0, read_noise=0.0, intensity=20.0,
              psf_sigma=0, background=1.0)
    cv = []
    for unevenness in (0.0, 0.5):
        image, mask, _ = render_neuron(tree, unevenness=unevenness, **kw)
        line = image[5, 20, 10:150].astype(float)                 # the tube's centre line
        cv.append(line.std() / line.mean())
    assert cv[0] < 0.03 and cv[1] > 0.15


def test_offset_renders_part_of_a_large_tree():
    tree = neuron_tree(extent=(60, 120, 120), seed=1)
    image, mask, gt = render_neuron(tree, shape=(30, 80, 80), voxel_size=VS,
                                    offset=(15.0, 30.0, 30.0), min_radius=0.8)
    assert mask.any() and len(gt) < len(tree) and gt.radius.min() >= 0.8 - 1e-9
    zyx = swc_to_voxel(gt.xyz, voxel_size=VS, offset=(15.0, 30.0, 30.0))
    assert zyx.min() >= -0.5 - 1e-9 and np.all(zyx.max(0) <= np.array([30, 80, 80]) - 0.5 + 1e-9)
    with pytest.raises(ValueError, match="no part of the tree falls inside the volume"):
        render_neuron(tree, shape=(10, 10, 10), voxel_size=VS, offset=(1e4, 0, 0))


@pytest.mark.parametrize("call, match", [
    (lambda: neuron_phantom(shape=(64, 64)), r"shape must be 3 integers"),
    (lambda: neuron_phantom(shape=(2, 64, 64)), r"shape must be 3 integers >= 4"),
    (lambda: neuron_phantom(seed=-1), "seed must be an integer >= 0"),
    (lambda: neuron_phantom(intensity=-1), "intensity must be a finite number >= 0"),
    (lambda: neuron_phantom(voxel_size=(1, 0, 1)), "voxel_size must be 3 finite numbers > 0"),
    (lambda: neuron_tree(extent=(10, 10, 10)), "too small for a soma"),
    (lambda: neuron_tree(n_neurites=0), "n_neurites must be an integer in 1..12"),
    (lambda: render_neuron(SwcTree.empty(), shape=(8, 8, 8)), "no nodes"),
    (lambda: render_neuron(straight_tube(), shape=(21, 41, 81), psf_sigma=(-1, 0, 0)),
     "psf_sigma must be 3 finite numbers >= 0"),
    (lambda: render_neuron(straight_tube(), shape=(21, 41, 81), background=0),
     "background must be a finite number > 0"),
])
def test_bad_arguments_are_refused(call, match):
    with pytest.raises(ValueError, match=match):
        call()


def test_render_needs_a_tree():
    with pytest.raises(TypeError, match="SwcTree"):
        render_neuron(np.zeros((5, 7)), shape=(8, 8, 8))


def test_pool_varies_signal_and_noise_reproducibly():
    from emseg.data.phantoms.neuron import neuron_pool
    stacks, settings = neuron_pool(3, shape=(16, 48, 48), seed=4, intensity=(0.1, 0.8),
                                   background=(50, 150), read_noise=(1, 5))
    again, _ = neuron_pool(3, shape=(16, 48, 48), seed=4, intensity=(0.1, 0.8),
                           background=(50, 150), read_noise=(1, 5))
    assert all(np.array_equal(a.image, b.image) for a, b in zip(stacks, again))
    assert len({s["seed"] for s in settings}) == 3
    assert all(0.1 <= s["intensity"] <= 0.8 and 50 <= s["background"] <= 150 for s in settings)
    # each stack is the phantom of its settings
    one = neuron_phantom(shape=(16, 48, 48), **settings[1])
    np.testing.assert_array_equal(one.image, stacks[1].image)
    # darker background, darker stack
    order = np.argsort([s["background"] for s in settings])
    medians = [np.median(stacks[i].image) for i in order]
    assert medians == sorted(medians)
    with pytest.raises(ValueError, match="intensity must be a"):
        neuron_pool(2, intensity=(0.0, 1.0))
    with pytest.raises(ValueError, match="n must be a positive integer"):
        neuron_pool(0)


def test_same_seed_other_signal_same_neuron_and_noise_seed():
    a = neuron_phantom(shape=(16, 48, 48), seed=5, intensity=1.0)
    b = neuron_phantom(shape=(16, 48, 48), seed=5, intensity=0.125, background=60, read_noise=2)
    np.testing.assert_array_equal(a.mask, b.mask)
    np.testing.assert_allclose(a.tree.xyz, b.tree.xyz)
    assert np.median(b.image[a.mask]) < np.median(a.image[a.mask])


def test_render_densest_puts_the_dense_part_of_a_large_tree_in_the_box():
    from emseg.data.phantoms.neuron import render_densest
    big = neuron_tree(extent=(40.0, 120.0, 120.0), seed=2)
    (image, mask, tree), offset = render_densest(big, shape=(16, 48, 48), voxel_size=VS, seed=1)
    assert image.shape == (16, 48, 48) and mask.any() and len(tree) > 2
    vox = swc_to_voxel(tree.xyz, voxel_size=VS, offset=offset)
    assert np.all(vox > -1) and np.all(vox < np.array([16, 48, 48]))
    with pytest.raises(TypeError, match="SwcTree"):
        render_densest(np.zeros((3, 3)))


def test_a_huge_soma_radius_paints_fast_exactly_and_with_a_warning(monkeypatch):
    import importlib
    import time

    nph = importlib.import_module("emseg.data.phantoms.neuron")  # the module, not the function
    tree = neuron_tree(seed=1)
    r = tree.radius.copy()
    r[0] = 14.0  # 28 voxels in x/y: above the wide-ball limit, painted in clipped boxes
    wide = SwcTree(id=tree.id, type=tree.type, x=tree.x, y=tree.y, z=tree.z, radius=r,
                   parent=tree.parent)
    fast = render_neuron(wide, shape=(48, 128, 128)).mask
    monkeypatch.setattr(nph, "_WIDE", 10 ** 6)  # every ball by the exact offset path
    exact = render_neuron(wide, shape=(48, 128, 128)).mask
    assert np.array_equal(fast, exact) and fast.sum() > 10_000
    monkeypatch.undo()
    r[0] = 100.0  # an Allen-style soma: 200 voxels; the old painter took minutes
    huge = SwcTree(id=tree.id, type=tree.type, x=tree.x, y=tree.y, z=tree.z, radius=r,
                   parent=tree.parent)
    t0 = time.perf_counter()
    with pytest.warns(UserWarning, match="radius of 100"):
        mask = render_neuron(huge, shape=(48, 128, 128)).mask
    assert mask.all()  # the ball covers the whole 24 x 64 x 64 um volume
    assert time.perf_counter() - t0 < 30  # a generous bound: seconds, not minutes
