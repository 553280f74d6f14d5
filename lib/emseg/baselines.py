"""Baselines that a trained network must beat.

:func:`intensity_classifier` fits the best per-voxel intensity rule on a labelled
volume: each voxel's class is chosen from its own intensity alone, through a
lookup table over intensity bins. This is every "threshold" segmentation at
once (any set of thresholds is such a table), fitted on the very data it is
scored on, so it is an optimistic bound for per-voxel intensity methods. A
network that does not clearly beat it has learned nothing about shape or context.
"""
from dataclasses import dataclass

import numpy as np

from emseg._validate import check_image, check_labels, check_positive_int
from emseg.metrics import iou_from_confusion

__all__ = ["IntensityClassifier", "intensity_classifier", "threshold_baseline"]

_OBJECTIVES = ("miou", "accuracy")


@dataclass(frozen=True)
class IntensityClassifier:
    """A fitted per-voxel lookup from intensity to class.

    Attributes
    ----------
    edges : numpy.ndarray
        ``bins + 1`` increasing bin edges (float64) spanning the fitted intensities.
    bin_classes : numpy.ndarray
        uint8 class predicted for each bin.
    n_classes : int
        Number of classes of the fitted labels.
    objective : str
        ``'miou'`` or ``'accuracy'``: what the lookup was chosen to maximise.
    fit_score : float
        The value of that objective on the data it was fitted to.
    """
    edges: np.ndarray
    bin_classes: np.ndarray
    n_classes: int
    objective: str
    fit_score: float

    def predict(self, image):
        """Class of every voxel of ``image`` (any shape) from its intensity.

        Intensities outside the fitted range fall into the first or last bin.

        Returns
        -------
        numpy.ndarray
            uint8 labels of the shape of ``image``.
        """
        arr = check_image(image, ndim=tuple(range(1, 6)))
        return self.bin_classes[_bin_index(arr, self.edges)]

    __call__ = predict

    @property
    def thresholds(self):
        """Intensities where the predicted class changes (between adjacent bins)."""
        change = np.flatnonzero(np.diff(self.bin_classes.astype(int)) != 0)
        return self.edges[change + 1]


def _bin_index(arr, edges):
    idx = np.searchsorted(edges, arr, side="right") - 1
    return np.clip(idx, 0, len(edges) - 2)


def _greedy_miou(counts, start, present, max_sweeps=50):
    """Coordinate ascent on the mean IoU over the bins' class assignments.

    ``counts[b, c]`` is the number of voxels of class ``c`` in bin ``b``. Each sweep
    visits every bin and moves it to the present class that most raises the mean
    IoU of the present classes (ties keep the current class), until a sweep
    changes nothing. The loop is over bins, never over voxels.
    """
    assign = start.copy()
    conf = np.zeros((counts.shape[1],) * 2)            # [true, pred]
    np.add.at(conf.T, assign, counts)
    truth = conf.sum(1)
    cand = np.flatnonzero(present)
    for _ in range(max_sweeps):
        changed = False
        for b in np.flatnonzero(counts.sum(1)):
            row, old = counts[b], assign[b]
            conf[:, old] -= row                        # take bin b out ...
            inter, pred = np.diag(conf)[cand], conf.sum(0)[cand]
            without = inter / (truth[cand] + pred - inter)
            with_b = (inter + row[cand]) / (truth[cand] + pred + row.sum() - inter - row[cand])
            gain = with_b - without                    # ... and try it in every class
            new = cand[np.argmax(gain)]
            if gain[np.argmax(gain)] <= gain[np.searchsorted(cand, old)] + 1e-12:
                new = old
            conf[:, new] += row
            if new != old:
                assign[b] = new
                changed = True
        if not changed:
            break
    return assign, conf


def intensity_classifier(image, labels, *, n_classes, bins=256, objective="miou"):
    """Fit the best per-voxel intensity classifier of ``labels`` from ``image``.

    Parameters
    ----------
    image : array_like
        Image (any number of dimensions from 1 to 5), numeric and finite.
    labels : array_like
        Integer class ids of the same shape, values in ``0..n_classes-1``.
    n_classes : int
        Number of classes (7 for the platelet data).
    bins : int, optional
        Number of equal-width intensity bins between the image's minimum and
        maximum (>= 2). 256 resolves any useful threshold of a z-scored image.
    objective : {'miou', 'accuracy'}, optional
        ``'accuracy'``: every bin predicts its majority class, the Bayes-optimal
        per-voxel rule for accuracy on these data. ``'miou'`` (default): start
        from that rule and reassign bins greedily (coordinate ascent, sweeps over
        the bins until nothing changes) to maximise the mean IoU over the classes
        present in ``labels``. The greedy result is a local optimum, never worse
        in mean IoU than the majority rule.

    Returns
    -------
    IntensityClassifier
        Use ``.predict(image)`` for uint8 labels.

    Notes
    -----
    Any classifier that looks at one voxel's intensity is a lookup table from
    intensity to class; with fine bins, these tables include every multi-level
    threshold segmentation. Fitted and scored on the same volume, the result is
    an optimistic (upper) bound for such methods, which is what a baseline to
    beat should be. Rare classes whose intensities overlap with a commoner class
    are never predicted under ``'accuracy'``; ``'miou'`` gives them bins when
    that raises the mean IoU, so it is the stronger baseline for IoU metrics.

    Examples
    --------
    >>> img = np.array([0.1, 0.2, 0.8, 0.9, 0.85, 0.15])
    >>> lab = np.array([0, 0, 1, 1, 1, 0])
    >>> clf = intensity_classifier(img, lab, n_classes=2, bins=4)
    >>> clf.predict(img).tolist()
    [0, 0, 1, 1, 1, 0]
    """
    arr = check_image(image, ndim=tuple(range(1, 6)))
    n_classes = check_positive_int(n_classes, name="n_classes")
    lab = check_labels(labels, n_classes=n_classes, shape=arr.shape, ndim=(arr.ndim,))
    bins = check_positive_int(bins, name="bins")
    if bins < 2:
        raise ValueError(f"bins must be >= 2, got {bins}")
    if objective not in _OBJECTIVES:
        raise ValueError(f"objective must be one of {_OBJECTIVES}, got {objective!r}")
    lo, hi = float(arr.min()), float(arr.max())
    if hi <= lo:
        hi = lo + 1.0                                    # constant image: one useful bin
    edges = np.linspace(lo, hi, bins + 1)
    idx = _bin_index(arr.ravel(), edges)
    counts = np.bincount(idx * n_classes + lab.ravel().astype(np.int64),
                         minlength=bins * n_classes).reshape(bins, n_classes).astype(np.float64)
    assign = np.argmax(counts, axis=1)
    present = counts.sum(0) > 0
    if objective == "miou":
        assign, conf = _greedy_miou(counts, assign, present)
    else:
        conf = np.zeros((n_classes, n_classes))
        np.add.at(conf.T, assign, counts)
    # empty bins take the class of the nearest non-empty bin
    filled = np.flatnonzero(counts.sum(1) > 0)
    assign = assign[filled[np.argmin(np.abs(np.arange(bins)[:, None] - filled[None]), axis=1)]]
    if objective == "miou":  # every present class has a non-empty union: no NaN
        score = float(np.mean(iou_from_confusion(conf)[present]))
    else:
        score = float(np.trace(conf) / conf.sum())
    return IntensityClassifier(edges=edges, bin_classes=assign.astype(np.uint8),
                               n_classes=n_classes, objective=objective, fit_score=score)


def threshold_baseline(image, labels, *, n_classes, bins=256, objective="miou"):
    """Predictions of the best per-voxel intensity classifier, fitted on the same data.

    Shorthand for ``intensity_classifier(image, labels, ...).predict(image)``; see
    :func:`intensity_classifier` for the parameters.

    Returns
    -------
    numpy.ndarray
        uint8 predicted labels of the shape of ``image``.
    """
    clf = intensity_classifier(image, labels, n_classes=n_classes, bins=bins,
                               objective=objective)
    return clf.predict(image)
