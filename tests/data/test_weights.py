"""Boundary error weights: hand checks on tiny label arrays."""
import numpy as np
import pytest

from emseg.data import error_weights, phantom_labels


@pytest.fixture
def two_regions():
    lab = np.zeros((16, 64), np.uint8)
    lab[:, 32:] = 1
    return lab


def test_two_regions_band_peaks_at_boundary(two_regions):
    w = error_weights(two_regions)
    assert w.shape == two_regions.shape and w.dtype == np.float32
    np.testing.assert_allclose(w, w[:1].repeat(16, 0), rtol=1e-5)  # no y dependence
    np.testing.assert_allclose(w, w[:, ::-1], rtol=1e-5)        # symmetric
    row = w[0]
    assert row.argmax() in (31, 32) and row[31] == pytest.approx(row[32], rel=1e-5)
    assert 0.5 * 25 < row.max() < 25
    assert np.all(np.diff(row[:32]) >= 0) and np.all(np.diff(row[32:]) <= 0)
    assert row[0] == 0 and row[-1] == 0                          # ~0 far away
    assert 6 < np.count_nonzero(row) < 32                        # a narrow band


def test_constant_labels_give_zero():
    assert not error_weights(np.full((20, 20), 3)).any()
    assert not error_weights(np.ones((3, 20, 20), np.uint8)).any()


def test_slices_are_independent(two_regions):
    stack = np.stack([two_regions, np.zeros_like(two_regions), two_regions[::-1, ::-1]])
    w = error_weights(stack)
    np.testing.assert_allclose(w[0], error_weights(two_regions), rtol=1e-5)
    assert not w[1].any()                                         # z boundaries give nothing
    np.testing.assert_allclose(w[2], error_weights(two_regions)[::-1, ::-1], rtol=1e-5)
    z_only = np.stack([np.zeros((8, 8), int), np.ones((8, 8), int)])
    assert not error_weights(z_only).any()


def test_parameters(two_regions):
    w = error_weights(two_regions, threshold=0)
    np.testing.assert_allclose(error_weights(two_regions, max_weight=50, threshold=0), 2 * w,
                               rtol=1e-5)
    assert not error_weights(two_regions, n_steps=0).any()
    wide = error_weights(two_regions, c_decay=1.0)
    assert np.count_nonzero(wide[0]) > np.count_nonzero(error_weights(two_regions)[0])
    small = np.zeros((9, 9), int)
    small[4, 4] = 1                                               # a one-pixel object
    assert error_weights(small).max() < 25


def test_phantom_weights_follow_boundaries():
    lab = phantom_labels((4, 128, 128), seed=2)
    w = error_weights(lab)
    edge = np.zeros(lab.shape, bool)
    edge[:, :, 1:] |= lab[:, :, 1:] != lab[:, :, :-1]
    assert w[edge].min() > 5                                     # every boundary gets weight
    assert 0.05 < np.mean(w == 0) < 0.95


@pytest.mark.parametrize("kwargs, match", [
    ({"c_diffuse": 0.3}, "c_diffuse"),
    ({"c_decay": 0.0}, "c_decay"),
    ({"max_weight": -1}, "max_weight"),
    ({"threshold": -0.1}, "threshold"),
    ({"n_steps": -1}, "n_steps"),
    ({"n_steps": 2.5}, "n_steps"),
])
def test_bad_parameters(two_regions, kwargs, match):
    with pytest.raises(ValueError, match=match):
        error_weights(two_regions, **kwargs)


def test_bad_labels():
    with pytest.raises(ValueError, match="2 or 3-D"):
        error_weights(np.zeros(10, int))
    with pytest.raises(ValueError, match="integer class ids"):
        error_weights(np.full((4, 4), 0.5))
    with pytest.raises(ValueError, match=">= 0"):
        error_weights(-np.ones((4, 4), int))
