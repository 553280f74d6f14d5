"""Metrics of binary segmentations (e.g. extracellular space, ECS): overlap, boundary, ranking.

:func:`binary_metrics` gives Dice, IoU, precision and recall from the voxel counts of two
masks, and :func:`hd95`, the 95th-percentile Hausdorff distance between their edges,
measured section by section (as ECS-Net segments sections). :func:`average_precision`
scores a per-pixel probability before any threshold is chosen. Masks are bool arrays or
numbers that are all 0 or 1 (``check_mask``, the one binary-mask check of emseg, also
the one of :mod:`emseg.ecs`); threshold probabilities first.
"""
import math

import numpy as np

from emseg._validate import check_mask, check_same_shape

__all__ = ["BINARY_METRICS", "hd95", "binary_metrics", "average_precision"]

BINARY_METRICS = ("dice", "iou", "precision", "recall", "hd95")


def _edges(fg):
    """Foreground pixels with a 4-neighbour outside the foreground (image border: inside)."""
    from scipy import ndimage as ndi
    return fg & ~ndi.binary_erosion(fg, border_value=1)


def hd95(true, pred, *, spacing=(1.0, 1.0)):
    """95th-percentile Hausdorff distance between the edges of two binary masks, in 2D.

    Parameters
    ----------
    true, pred : array_like
        Binary masks (y, x) or (z, y, x); a stack is measured section by section (as
        ECS-Net segments sections) and the distances of all sections are pooled.
    spacing : tuple of float
        Pixel size (y, x), e.g. nm; the result is in these units.

    Returns
    -------
    float
        The 95th percentile of the distances from each edge pixel of one mask to the
        nearest edge pixel of the other, both directions pooled (as medpy's ``hd95``).
        0.0 when both masks are empty; ``inf`` when only one of them is empty in some
        section (no distance is defined there).

    Examples
    --------
    >>> a = np.zeros((20, 20), bool); a[5:15, 5:15] = True
    >>> b = np.zeros((20, 20), bool); b[5:15, 7:17] = True   # shifted 2 px in x
    >>> hd95(a, b)
    2.0
    """
    from scipy import ndimage as ndi

    t, p = check_mask(true, name="true", ndim=None), check_mask(pred, name="pred", ndim=None)
    check_same_shape(t, p, names=("true", "pred"))
    if t.ndim not in (2, 3):
        raise ValueError(f"hd95 takes (y, x) or (z, y, x) masks, got shape {t.shape}")
    sp = tuple(float(v) for v in spacing)
    if len(sp) != 2 or not all(v > 0 and math.isfinite(v) for v in sp):
        raise ValueError(f"spacing must be two positive pixel sizes (y, x), got {spacing!r}")
    dists = []
    for a, b in zip(t.reshape((-1,) + t.shape[-2:]), p.reshape((-1,) + p.shape[-2:])):
        if not a.any() and not b.any():
            continue
        if not a.any() or not b.any():
            return float("inf")
        ea, eb = _edges(a), _edges(b)
        if not ea.any() or not eb.any():  # a mask that fills its whole section has no edge
            if ea.any() != eb.any():
                return float("inf")
            continue
        dists.append(ndi.distance_transform_edt(~eb, sampling=sp)[ea])
        dists.append(ndi.distance_transform_edt(~ea, sampling=sp)[eb])
    if not dists:
        return 0.0
    return float(np.percentile(np.concatenate(dists), 95))


def binary_metrics(true, pred, *, spacing=(1.0, 1.0)):
    """Dice, IoU, precision, recall and HD95 of a binary segmentation (e.g. ECS).

    Parameters
    ----------
    true, pred : array_like
        Binary masks of the same shape, (y, x) or (z, y, x): bool or 0/1 numbers.
    spacing : tuple of float
        Pixel size (y, x) for HD95 (pixels by default; pass nm for nm).

    Returns
    -------
    dict
        ``dice`` = 2TP / (2TP + FP + FN), ``iou`` = TP / (TP + FP + FN),
        ``precision`` = TP / (TP + FP), ``recall`` = TP / (TP + FN) (NaN where the
        denominator is 0), ``hd95`` (:func:`hd95`, in the units of ``spacing``), and the
        counts ``tp``, ``fp``, ``fn``, ``tn``. Thresholds are the caller's: the original
        ECS-Net used probability > 0.5.

    Examples
    --------
    >>> t = np.array([[1, 1, 0, 0]]); p = np.array([[1, 0, 1, 0]])
    >>> m = binary_metrics(t, p)
    >>> m["dice"], m["iou"], m["precision"], m["recall"]
    (0.5, 0.3333333333333333, 0.5, 0.5)
    """
    t, p = check_mask(true, name="true", ndim=None), check_mask(pred, name="pred", ndim=None)
    check_same_shape(t, p, names=("true", "pred"))
    tp = int(np.count_nonzero(t & p))
    fp = int(np.count_nonzero(~t & p))
    fn = int(np.count_nonzero(t & ~p))
    tn = int(t.size - tp - fp - fn)

    def ratio(a, b):
        return a / b if b else float("nan")

    return {"dice": ratio(2 * tp, 2 * tp + fp + fn), "iou": ratio(tp, tp + fp + fn),
            "precision": ratio(tp, tp + fp), "recall": ratio(tp, tp + fn),
            "hd95": hd95(t, p, spacing=spacing), "tp": tp, "fp": fp, "fn": fn, "tn": tn}


def average_precision(true, score):
    """Average precision of a per-pixel score for a binary mask (threshold-free).

    Parameters
    ----------
    true : array_like
        Binary mask, any shape: bool or 0/1 numbers.
    score : array_like of float
        Per-pixel score of the same shape (e.g. the ECS probability); finite values.

    Returns
    -------
    float
        The area under the precision-recall curve as a step function,
        ``sum_k (R_k - R_{k-1}) P_k`` over the distinct score values from high to low (as
        scikit-learn's ``average_precision_score``). 1 for a perfect ranking; the
        foreground fraction for a random one. NaN without foreground.

    Examples
    --------
    >>> average_precision(np.array([0, 1, 1, 0]), np.array([0.1, 0.9, 0.4, 0.5]))
    0.8333333333333333
    """
    t = check_mask(true, name="true", ndim=None).ravel()
    sc = np.asarray(score, dtype=np.float64).ravel()
    if sc.shape != t.shape:
        raise ValueError(f"score shape {np.shape(score)} does not match true shape {np.shape(true)}")
    if not np.all(np.isfinite(sc)):
        raise ValueError("score contains NaN or infinite values")
    n_pos = int(t.sum())
    if n_pos == 0:
        return float("nan")
    order = np.argsort(-sc, kind="stable")
    sc, t = sc[order], t[order]
    last = np.r_[np.flatnonzero(np.diff(sc)), len(sc) - 1]   # end of each run of equal scores
    tp = np.cumsum(t)[last]
    precision = tp / (last + 1)
    recall = tp / n_pos
    return float(np.sum(np.diff(np.r_[0.0, recall]) * precision))
