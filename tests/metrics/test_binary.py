"""Binary metrics (Dice, IoU, precision, recall, HD95) by hand."""
import numpy as np
import pytest

from emseg.metrics import binary_metrics, hd95


def test_counts_and_ratios_by_hand():
    t = np.zeros((10, 10), np.uint8)
    p = np.zeros((10, 10), bool)
    t[0, :6] = 1           # 6 true pixels
    p[0, 2:10] = True      # 8 predicted, 4 of them true
    m = binary_metrics(t, p)
    assert (m["tp"], m["fp"], m["fn"], m["tn"]) == (4, 4, 2, 90)
    assert m["dice"] == pytest.approx(8 / 14) and m["iou"] == pytest.approx(4 / 10)
    assert m["precision"] == pytest.approx(0.5) and m["recall"] == pytest.approx(4 / 6)


def test_perfect_and_empty_predictions():
    t = np.zeros((2, 8, 8), bool)
    t[:, 2:5, 2:5] = True
    m = binary_metrics(t, t)
    assert m["dice"] == m["iou"] == m["precision"] == m["recall"] == 1.0 and m["hd95"] == 0.0
    empty = binary_metrics(t, np.zeros_like(t))
    assert empty["dice"] == 0.0 and np.isnan(empty["precision"]) and empty["hd95"] == np.inf
    both = binary_metrics(np.zeros((4, 4)), np.zeros((4, 4)))
    assert np.isnan(both["dice"]) and both["hd95"] == 0.0


@pytest.mark.parametrize("shift", [1, 3, 5])
def test_hd95_of_a_shifted_square_is_the_shift(shift):
    a = np.zeros((40, 40), bool)
    a[10:30, 10:30] = True
    b = np.roll(a, shift, axis=1)
    assert hd95(a, b) == pytest.approx(shift)
    assert hd95(a, b, spacing=(9.0, 4.0)) == pytest.approx(4.0 * shift)   # x spacing


def test_hd95_ignores_a_few_outliers():
    a = np.zeros((100, 100), bool)
    a[20:80, 20:80] = True
    b = a.copy()
    b[95, 95] = True       # one far-away speck: 2 of ~240 edge pixels
    assert hd95(a, b) == 0.0
    assert hd95(a, np.roll(b, 10, axis=0)) == pytest.approx(10.0)   # a real change is seen


def test_stacks_are_measured_section_by_section():
    a = np.zeros((2, 30, 30), bool)
    a[:, 5:25, 5:25] = True
    b = a.copy()
    b[1] = np.roll(a[1], 2, axis=0)
    # section 0 contributes zeros, section 1 distances up to 2: the 95th percentile is 2
    assert hd95(a, b) == pytest.approx(2.0)


@pytest.mark.parametrize("true, pred, match", [
    (np.array([[0, 2]]), np.array([[0, 1]]), "binary mask"),
    (np.zeros((3, 3)), np.zeros((3, 4)), "does not match"),
    (np.array([["a"]]), np.array([["a"]]), "dtype"),
])
def test_bad_inputs(true, pred, match):
    with pytest.raises(ValueError, match=match):
        binary_metrics(true, pred)


def test_hd95_bad_spacing_and_dimensionality():
    with pytest.raises(ValueError, match="spacing"):
        hd95(np.ones((4, 4)), np.ones((4, 4)), spacing=(1.0, 0.0))
    with pytest.raises(ValueError, match=r"\(y, x\) or \(z, y, x\)"):
        hd95(np.ones(4), np.ones(4))


def test_average_precision_by_hand_and_against_scikit_learn():
    from emseg.metrics import average_precision
    sklearn = pytest.importorskip("sklearn.metrics")
    t = np.array([0, 1, 1, 0, 1])
    s = np.array([0.1, 0.9, 0.4, 0.5, 0.4])     # a tie between a positive pair
    # ranks: 0.9 (P 1/1, R 1/3), 0.5 (neg), 0.4 x2 (P 3/4, R 3/3), 0.1
    assert average_precision(t, s) == pytest.approx(1 / 3 * 1 + 2 / 3 * 3 / 4)
    rng = np.random.default_rng(0)
    t = rng.random((50, 40)) < 0.1
    s = np.round(rng.random((50, 40)) + t * 0.5, 2)
    assert average_precision(t, s) == pytest.approx(sklearn.average_precision_score(t.ravel(), s.ravel()))
    assert average_precision(t, t.astype(float)) == 1.0
    assert np.isnan(average_precision(np.zeros(4), np.ones(4)))
    with pytest.raises(ValueError, match="does not match"):
        average_precision(t, s[:10])
