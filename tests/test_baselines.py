"""The best per-voxel intensity classifier, and how poorly it does on the phantom."""
import numpy as np
import pytest
from sklearn.metrics import jaccard_score

from emseg.baselines import IntensityClassifier, intensity_classifier, threshold_baseline
from emseg.data import platelet_phantom


def miou(truth, pred):
    present = np.unique(truth)
    return float(jaccard_score(truth.ravel(), pred.ravel(), labels=present, average=None).mean())


def test_separable_classes_are_found():
    img = np.array([0.1, 0.2, 0.8, 0.9, 0.85, 0.15, 2.0, 2.1])
    lab = np.array([0, 0, 1, 1, 1, 0, 2, 2])
    clf = intensity_classifier(img, lab, n_classes=3, bins=16)
    assert isinstance(clf, IntensityClassifier)
    pred = clf.predict(img)
    assert pred.dtype == np.uint8 and pred.shape == img.shape
    np.testing.assert_array_equal(pred, lab)
    assert clf.fit_score == pytest.approx(1.0)
    assert len(clf.thresholds) == 2
    assert 0.2 < clf.thresholds[0] < 0.8 and 0.9 < clf.thresholds[1] < 2.0
    # out-of-range intensities fall into the end bins
    np.testing.assert_array_equal(clf.predict(np.array([-5.0, 9.0])), [0, 2])
    np.testing.assert_array_equal(clf(img.reshape(2, 4)), lab.reshape(2, 4))


def test_accuracy_objective_is_the_majority_rule():
    img = np.repeat([0.0, 1.0, 2.0, 3.0], 10)
    lab = np.array([0] * 7 + [1] * 3 + [1] * 6 + [0] * 4 + [2] * 5 + [1] * 5 + [2] * 9 + [0])
    clf = intensity_classifier(img, lab, n_classes=3, bins=4, objective="accuracy")
    assert clf.bin_classes.tolist() == [0, 1, 2, 2] or clf.bin_classes.tolist() == [0, 1, 1, 2]
    acc = np.mean(clf.predict(img) == lab)
    assert clf.fit_score == pytest.approx(acc) == pytest.approx((7 + 6 + 5 + 9) / 40)


def test_miou_objective_helps_a_rare_overlapping_class():
    rng = np.random.default_rng(0)
    img = np.concatenate([rng.normal(0, 1, 20000), rng.normal(1.5, 1, 600)])
    lab = np.concatenate([np.zeros(20000, int), np.ones(600, int)])
    acc = intensity_classifier(img, lab, n_classes=2, objective="accuracy")
    best = intensity_classifier(img, lab, n_classes=2, objective="miou")
    m_acc, m_best = miou(lab, acc.predict(img)), miou(lab, best.predict(img))
    assert best.fit_score == pytest.approx(m_best)
    assert m_best > m_acc + 0.02
    assert np.count_nonzero(best.predict(img) == 1) > np.count_nonzero(acc.predict(img) == 1)


def test_threshold_baseline_matches_classifier():
    rng = np.random.default_rng(1)
    img = rng.normal(size=(3, 16, 16))
    lab = (img > 0.3).astype(np.uint8) + (img > 1.2)
    pred = threshold_baseline(img, lab, n_classes=3)
    np.testing.assert_array_equal(pred, intensity_classifier(img, lab, n_classes=3).predict(img))
    np.testing.assert_array_equal(pred, lab)


def test_threshold_baseline_is_poor_on_the_phantom():
    # Measured: MIoU 0.249 on the default train phantom (0.21-0.26 over 3 splits x 3
    # seeds), while a random forest on multi-scale context features reaches ~0.49 on
    # the eval phantom: intensity alone cannot separate vessel from background, cell
    # from background or dense granule from mitochondrion. 0.35 leaves margin for seeds.
    vol = platelet_phantom("train")
    pred = threshold_baseline(vol.image, vol.labels, n_classes=7)
    iou = jaccard_score(vol.labels.ravel(), pred.ravel(), labels=np.arange(7), average=None)
    assert iou.mean() < 0.35
    assert iou[4] < 0.1                    # canalicular vessels look like background
    assert iou[6] > 0.2                    # ... but the dark dense cores are findable


@pytest.mark.parametrize("kwargs, match", [
    ({"labels": np.zeros((4, 5), int)}, "does not match"),
    ({"labels": np.full((4, 4), 3)}, "values must be in 0..2"),
    ({"bins": 1}, "bins"),
    ({"n_classes": 0}, "n_classes"),
    ({"objective": "dice"}, "objective"),
    ({"image": np.full((4, 4), np.nan)}, "NaN"),
])
def test_bad_inputs(kwargs, match):
    args = {"image": np.arange(16.0).reshape(4, 4), "labels": np.zeros((4, 4), int),
            "n_classes": 3}
    args.update(kwargs)
    with pytest.raises(ValueError, match=match):
        intensity_classifier(**args)
