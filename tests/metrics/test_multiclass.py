"""Tests for emseg.metrics.multiclass: hand-worked cases, scikit-learn agreement, bad inputs,
reports. (The Markdown tables of reports are tested in tests/test_report.py.)"""
import math

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal

sk = pytest.importorskip("sklearn.metrics")

from emseg.metrics import multiclass  # noqa: E402
from emseg.metrics import (  # noqa: E402
    accuracy_from_confusion, adjusted_rand_index, ari_from_confusion, confusion_matrix,
    dice_from_confusion, iou_from_confusion, mean_iou, report_from_confusion, segmentation_report,
)

# A worked example used throughout (n_classes = 4; class 3 never occurs):
#   voxel:  0  1  2  3  4  5
#   true:   0  0  1  1  2  2
#   pred:   0  1  1  1  2  0
TRUE = np.array([0, 0, 1, 1, 2, 2])
PRED = np.array([0, 1, 1, 1, 2, 0])
# rows = true, cols = pred
CM = np.array([[1, 1, 0, 0],   # true 0 -> pred 0 once, pred 1 once
               [0, 2, 0, 0],   # true 1 -> pred 1 twice
               [1, 0, 1, 0],   # true 2 -> pred 0 once, pred 2 once
               [0, 0, 0, 0]])  # class 3 absent


# --------------------------------------------------------------------------- hand-worked

def test_confusion_matrix_by_hand():
    cm = confusion_matrix(TRUE, PRED, n_classes=4)
    assert cm.dtype == np.int64
    assert_array_equal(cm, CM)


def test_iou_by_hand():
    # class 0: TP 1, true 2, pred 2 -> 1 / (2 + 2 - 1) = 1/3
    # class 1: TP 2, true 2, pred 3 -> 2 / (2 + 3 - 2) = 2/3
    # class 2: TP 1, true 2, pred 1 -> 1 / (2 + 1 - 1) = 1/2
    # class 3: absent from both -> NaN
    iou = iou_from_confusion(CM)
    assert iou.dtype == np.float64
    assert_allclose(iou, [1 / 3, 2 / 3, 1 / 2, np.nan])
    # mean skips the NaN: (1/3 + 2/3 + 1/2) / 3 = 0.5
    assert mean_iou(TRUE, PRED, n_classes=4) == pytest.approx(0.5)
    # subset, e.g. "organelles" 1..3: (2/3 + 1/2) / 2 = 7/12
    assert mean_iou(TRUE, PRED, n_classes=4, classes=range(1, 4)) == pytest.approx(7 / 12)


def test_iou_class_only_in_pred_is_zero_and_all_nan_mean():
    # true has no class 1, pred has one voxel of it: IoU_1 = 0 / (0 + 1 - 0) = 0
    # class 0: TP 3, true 4, pred 3 -> 3/4
    cm = confusion_matrix([0, 0, 0, 0], [0, 0, 0, 1], n_classes=3)
    assert_allclose(iou_from_confusion(cm), [0.75, 0.0, np.nan])
    # only class 2 selected, absent from both -> NaN, and no warning
    with np.errstate(all="raise"):
        assert math.isnan(mean_iou([0, 0, 0, 0], [0, 0, 0, 1], n_classes=3, classes=[2]))


def test_dice_and_accuracy_by_hand():
    # Dice = 2 TP / (true + pred): 2/4, 4/5, 2/3, NaN
    assert_allclose(dice_from_confusion(CM), [0.5, 0.8, 2 / 3, np.nan])
    # 4 of 6 voxels right
    assert accuracy_from_confusion(CM) == pytest.approx(4 / 6)
    assert isinstance(accuracy_from_confusion(CM), float)


def test_ari_by_hand():
    # pairs: index = sum C(n_ij, 2) = C(2, 2) = 1
    #        A = sum C(row, 2) = 3 * C(2, 2) = 3;  B = C(2,2) + C(3,2) + C(1,2) = 1 + 3 + 0 = 4
    #        C(N, 2) = C(6, 2) = 15
    # ARI = 2 (index*15 - A*B) / ((A + B)*15 - 2*A*B) = 2 (15 - 12) / (105 - 24) = 6/81 = 2/27
    assert adjusted_rand_index(TRUE, PRED) == pytest.approx(2 / 27)
    assert ari_from_confusion(CM) == pytest.approx(2 / 27)
    # identical partitions with other ids -> 1
    assert adjusted_rand_index([0, 0, 1, 1, 2, 2], [2, 2, 0, 0, 1, 1]) == 1.0
    # index 0, A = B = 2, C(4,2) = 6: 2 (0 - 4) / (4*6 - 8) = -0.5
    assert adjusted_rand_index([0, 0, 1, 1], [0, 1, 0, 1]) == pytest.approx(-0.5)
    # all split: index 0, A = 6, B = 0 -> 0
    assert adjusted_rand_index([0, 0, 0, 0], [0, 1, 2, 3]) == 0.0


@pytest.mark.parametrize("true, pred, expected", [
    ([3, 3, 3], [1, 1, 1], 1.0),        # both one cluster
    ([4], [0], 1.0),                    # one voxel
    ([0, 0, 0, 0], [0, 0, 1, 1], 0.0),  # one cluster vs two
    ([0, 1, 2, 3], [3, 2, 1, 0], 1.0),  # all singletons, both
])
def test_ari_degenerate_cases_match_sklearn(true, pred, expected):
    assert adjusted_rand_index(true, pred) == expected
    assert sk.adjusted_rand_score(true, pred) == expected


# --------------------------------------------------------------------------- vs scikit-learn

def _random_pair(seed, shape, n_classes, absent=()):
    """Class maps where pred agrees with true on ~70% of voxels; ``absent`` classes never occur."""
    rng = np.random.default_rng(seed)
    present = [k for k in range(n_classes) if k not in absent]
    true = rng.choice(present, size=shape)
    noise = rng.choice(present, size=shape)
    pred = np.where(rng.random(shape) < 0.7, true, noise)
    return true, pred


CASES = [  # seed, shape, n_classes, classes that never occur
    (0, (50,), 2, ()),
    (1, (7, 9), 3, ()),
    (2, (4, 5, 6), 7, (6,)),
    (3, (3, 20, 20), 7, (0, 5)),
    (4, (2, 30, 40), 5, ()),
    (5, (1000,), 12, (3, 4, 11)),
]


@pytest.mark.parametrize("seed, shape, n, absent", CASES)
def test_against_sklearn(seed, shape, n, absent):
    true, pred = _random_pair(seed, shape, n, absent)
    t, p = true.ravel(), pred.ravel()
    labels = list(range(n))

    cm = confusion_matrix(true, pred, n_classes=n)
    assert_array_equal(cm, sk.confusion_matrix(t, p, labels=labels))

    # sklearn gives zero_division (0 here) where we give NaN: compare on present classes
    present = [k for k in labels if k not in absent]
    iou, dice = iou_from_confusion(cm), dice_from_confusion(cm)
    assert np.isnan(iou[list(absent)]).all() and np.isnan(dice[list(absent)]).all()
    assert_allclose(iou[present],
                    sk.jaccard_score(t, p, average=None, labels=present, zero_division=0))
    assert_allclose(dice[present], sk.f1_score(t, p, average=None, labels=present, zero_division=0))
    assert accuracy_from_confusion(cm) == pytest.approx(sk.accuracy_score(t, p), abs=1e-15)
    assert adjusted_rand_index(true, pred) == pytest.approx(sk.adjusted_rand_score(t, p), abs=1e-12)
    assert mean_iou(true, pred, n_classes=n) == pytest.approx(np.nanmean(iou))


def test_chunked_confusion_matches_one_pass(monkeypatch):
    true, pred = _random_pair(6, (5, 11, 13), 7)
    expected = sk.confusion_matrix(true.ravel(), pred.ravel(), labels=range(7))
    monkeypatch.setattr(multiclass, "_CHUNK", 100)  # 715 voxels -> 8 chunks, last one partial
    assert_array_equal(confusion_matrix(true, pred, n_classes=7), expected)


def test_inputs_accepted_as_lists_bool_float_and_views():
    assert_array_equal(confusion_matrix([True, False], [True, True], n_classes=2), [[0, 1], [0, 1]])
    assert_array_equal(confusion_matrix(np.array([0.0, 2.0]), [0, 2], n_classes=3),
                       np.diag([1, 0, 1]))
    true, pred = _random_pair(7, (6, 8), 3)
    assert_array_equal(confusion_matrix(true.T, pred.T, n_classes=3),
                       confusion_matrix(true, pred, n_classes=3))


def test_ari_sparse_path_for_many_ids_matches_sklearn():
    rng = np.random.default_rng(8)
    true = rng.integers(0, 3000, size=(20, 50))  # > 1024 ids -> np.unique path
    pred = np.where(rng.random(true.shape) < 0.8, true, rng.integers(0, 3000, size=true.shape))
    assert adjusted_rand_index(true, pred) == pytest.approx(
        sk.adjusted_rand_score(true.ravel(), pred.ravel()), abs=1e-12)


def test_large_volume_ari_exact():
    # 5 M voxels: products of pair sums reach ~1e24, beyond int64 -> needs exact arithmetic.
    rng = np.random.default_rng(9)
    shape = (20, 500, 500)
    true = rng.choice(7, size=shape, p=[0.4, 0.4, 0.05, 0.08, 0.05, 0.015, 0.005]).astype(np.uint8)
    pred = np.where(rng.random(shape) < 0.85, true, rng.integers(0, 7, size=shape, dtype=np.uint8))
    report = segmentation_report(true, pred, n_classes=7, organelle_classes=range(2, 7))
    expected = sk.adjusted_rand_score(true.ravel(), pred.ravel())
    assert abs(report["ari"] - expected) < 1e-10
    assert report["accuracy"] == pytest.approx(np.mean(true == pred), abs=1e-12)
    assert sum(report["voxels"]) == true.size


# --------------------------------------------------------------------------- bad inputs

@pytest.mark.parametrize("true, pred, n, match", [
    (np.zeros((2, 3), int), np.zeros((3, 2), int), 2, r"true shape \(2, 3\).*pred shape \(3, 2\)"),
    ([0, 1, 2], [0, -1, 1], 3, r"pred values must be in 0\.\.2, found -1\.\.1"),
    ([0, 3, 1], [0, 1, 1], 3, r"true values must be in 0\.\.2, found 0\.\.3"),
    (np.zeros(0, int), np.zeros(0, int), 3, "true is empty"),
    ([0.0, np.nan], [0, 1], 2, "true must hold integer class ids, got dtype float64"),
    ([0, 1], [0.5, 1.0], 2, "pred must hold integer class ids"),
    (np.array(["a", "b"]), [0, 1], 2, "true must hold integer class ids"),
    (3, [0, 1], 2, "true must be an array of integer class labels, got a 0-d int"),
    ([0, 1], [0, 1], 0, "n_classes must be a positive integer"),
])
def test_bad_inputs(true, pred, n, match):
    with pytest.raises(ValueError, match=match):
        confusion_matrix(true, pred, n_classes=n)


def test_bad_inputs_elsewhere():
    with pytest.raises(ValueError, match=r"true shape \(3,\) does not match pred shape \(2,\)"):
        adjusted_rand_index([0, 1, 1], [0, 1])
    with pytest.raises(ValueError, match="pred values must be in >= 0"):
        adjusted_rand_index([0, 1], [0, -2])
    with pytest.raises(ValueError, match=r"classes must lie in 0\.\.3"):
        mean_iou(TRUE, PRED, n_classes=4, classes=[2, 4])
    with pytest.raises(ValueError, match="classes is empty"):
        mean_iou(TRUE, PRED, n_classes=4, classes=[])
    with pytest.raises(ValueError, match="class_names must be a sequence of 4 names"):
        segmentation_report(TRUE, PRED, n_classes=4, class_names=["a", "b"])
    with pytest.raises(ValueError, match="square"):
        iou_from_confusion(np.zeros((2, 3), int))
    with pytest.raises(ValueError, match="non-negative whole counts"):
        ari_from_confusion([[1, -1], [0, 2]])
    with pytest.raises(ValueError, match="all zeros"):
        accuracy_from_confusion(np.zeros((2, 2), int))


# --------------------------------------------------------------------------- reports

NAMES = ["Background", "Cell", "Mitochondrion", "Alpha granule"]


def test_segmentation_report_contents():
    r = segmentation_report(TRUE, PRED, n_classes=4, class_names=NAMES, organelle_classes=[2, 3])
    assert r["confusion"] == CM.tolist()
    assert r["voxels"] == [2, 2, 2, 0]
    assert r["miou_all"] == pytest.approx(0.5)
    assert r["miou_organelle"] == pytest.approx(0.5)  # class 2 = 1/2, class 3 skipped (NaN)
    assert r["accuracy"] == pytest.approx(2 / 3)
    assert r["ari"] == pytest.approx(2 / 27)
    assert r["class_names"] == NAMES and r["organelle_classes"] == [2, 3]
    assert math.isnan(r["iou"][3]) and math.isnan(r["dice"][3])
    no_org = segmentation_report(TRUE, PRED, n_classes=4)
    assert no_org["miou_organelle"] is None and no_org["class_names"][0] == "class 0"


def test_report_from_confusion_is_the_report_of_the_summed_volumes():
    # two "volumes": their confusions summed give the report of both together
    other_true, other_pred = np.array([3, 3, 0, 1]), np.array([3, 2, 0, 1])
    cm = CM + confusion_matrix(other_true, other_pred, n_classes=4)
    together = segmentation_report(np.r_[TRUE, other_true], np.r_[PRED, other_pred], n_classes=4,
                                   class_names=NAMES, organelle_classes=[2, 3])
    assert report_from_confusion(cm, class_names=NAMES, organelle_classes=[2, 3]) == together
    one = report_from_confusion(CM)
    assert one["class_names"] == ["class 0", "class 1", "class 2", "class 3"]
    assert one["miou_organelle"] is None and one["organelle_classes"] is None
    assert one["miou_all"] == pytest.approx(0.5) and one["voxels"] == [2, 2, 2, 0]
    with pytest.raises(ValueError, match="class_names must be a sequence of 4 names"):
        report_from_confusion(CM, class_names=["a"])
    with pytest.raises(ValueError, match=r"organelle_classes must lie in 0\.\.3"):
        report_from_confusion(CM, organelle_classes=[4])
    with pytest.raises(ValueError, match="square"):
        report_from_confusion(np.zeros((2, 3), int))


def test_real_test_volume_voxel_counts(shared_data):
    # Reference §2.3: per-class voxel counts of the platelet test labels (121 x 609 x 400).
    tifffile = pytest.importorskip("tifffile")
    true = tifffile.imread(shared_data / "platelet" / "test-labels.tif")
    r = segmentation_report(true, true, n_classes=7, organelle_classes=range(2, 7))
    assert r["voxels"] == [23_801_454, 4_733_289, 99_510, 663_018, 80_224, 82_633, 15_472]
    assert r["miou_all"] == r["miou_organelle"] == r["accuracy"] == r["ari"] == 1.0
