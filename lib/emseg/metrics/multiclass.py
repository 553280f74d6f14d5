"""Multi-class segmentation metrics computed from one confusion matrix.

Every score here (per-class IoU and Dice, mean IoU, accuracy and the adjusted
Rand index) derives from the ``(n_classes, n_classes)`` confusion matrix, so a
whole volume is read once, in chunks, and memory stays small even for the
121 x 609 x 400 platelet test volume (29 M voxels). :func:`report_from_confusion`
turns one such matrix (of a volume, or summed over several) into the report that
:func:`segmentation_report` gives for a pair of class maps.

Conventions follow the original platelet work (Guay et al. 2021):

- ``tf.metrics.mean_iou(num_classes=7)`` **includes background**; that is
  ``miou_all`` here. The organelle MIoU averages classes 2..6 only
  (``organelle_classes=range(2, 7)``). The two are not comparable.
- A class absent from both the truth and the prediction has no IoU (NaN); means
  skip it, as tf's ``mean_iou`` does.
"""
import math

import numpy as np

from emseg._validate import check_labels, check_positive_int, check_same_shape

__all__ = [
    "confusion_matrix",
    "iou_from_confusion",
    "dice_from_confusion",
    "accuracy_from_confusion",
    "ari_from_confusion",
    "adjusted_rand_index",
    "mean_iou",
    "report_from_confusion",
    "segmentation_report",
]

_CHUNK = 1 << 22  # voxels per bincount pass: two int64 temporaries of 32 MiB
_DENSE_ARI_MAX = 1024  # adjusted_rand_index: above this many label ids, count pairs sparsely


# --------------------------------------------------------------------------- checks

def _check_pair(true, pred, n_classes=None):
    """Check two label arrays of any dimension and the same shape."""
    arrays = []
    for name, x in (("true", true), ("pred", pred)):
        if np.ndim(x) == 0:
            raise ValueError(f"{name} must be an array of integer class labels, "
                             f"got a 0-d {type(x).__name__}")
        arrays.append(check_labels(x, name=name, n_classes=n_classes, ndim=(np.ndim(x),)))
    check_same_shape(*arrays, names=("true", "pred"))
    return arrays


def _check_confusion(cm):
    """Check a square confusion matrix of non-negative counts; return it as int64."""
    cm = np.asarray(cm)
    if cm.ndim != 2 or cm.shape[0] != cm.shape[1] or cm.shape[0] == 0:
        raise ValueError(f"cm must be a square (n_classes, n_classes) matrix, got shape {cm.shape}")
    if cm.dtype == bool or not np.issubdtype(cm.dtype, np.number):
        raise ValueError(f"cm must hold integer counts, got dtype {cm.dtype}")
    if not np.all(np.isfinite(cm)) or np.any(cm < 0) or np.any(cm != np.round(cm)):
        raise ValueError("cm must hold non-negative whole counts; build it with confusion_matrix()")
    if not cm.any():
        raise ValueError("cm counts no voxels (all zeros); check that the label maps are not empty")
    return cm.astype(np.int64)


def _nanmean(values):
    """Mean of the non-NaN values as a float; NaN (and no warning) when there are none."""
    values = np.asarray(values, dtype=np.float64)
    values = values[~np.isnan(values)]
    return float(values.mean()) if values.size else math.nan


def _check_classes(classes, n_classes, name):
    """Return ``classes`` as a list of distinct ints in ``[0, n_classes)``."""
    out = [int(c) for c in np.atleast_1d(np.asarray(classes)).ravel()]
    if not out:
        raise ValueError(f"{name} is empty; pass at least one class id, e.g. range(2, 7)")
    if min(out) < 0 or max(out) >= n_classes:
        raise ValueError(f"{name} must lie in 0..{n_classes - 1}, got {out}")
    if len(set(out)) != len(out):
        raise ValueError(f"{name} contains repeated class ids: {out}")
    return out


def _check_class_names(class_names, n_classes):
    """Return one name per class as a list of str; the defaults ``"class 0"``, ... for None."""
    if class_names is None:
        return [f"class {k}" for k in range(n_classes)]
    if isinstance(class_names, str) or len(class_names) != n_classes:
        raise ValueError(f"class_names must be a sequence of {n_classes} names (one per class), "
                         f"got {class_names!r}")
    return [str(name) for name in class_names]


# --------------------------------------------------------------------------- confusion

def confusion_matrix(true, pred, *, n_classes):
    """Count voxels by (true class, predicted class).

    Parameters
    ----------
    true, pred : array_like of int
        Class maps of the same shape (any number of dimensions), values in
        ``0 .. n_classes - 1``. Whole-valued floats are accepted.
    n_classes : int
        Number of classes (7 for the platelet data).

    Returns
    -------
    cm : ndarray of int64, shape (n_classes, n_classes)
        ``cm[i, j]`` is the number of voxels of true class ``i`` predicted as
        class ``j`` (rows = truth, columns = prediction, as in scikit-learn).

    Notes
    -----
    One ``np.bincount`` of ``true * n_classes + pred`` (in int64), done in
    chunks of 4 M voxels so that only small temporaries are made.

    Examples
    --------
    >>> import numpy as np
    >>> from emseg.metrics import confusion_matrix
    >>> confusion_matrix(np.array([0, 0, 1, 2]), np.array([0, 1, 1, 2]), n_classes=3)
    array([[1, 1, 0],
           [0, 1, 0],
           [0, 0, 1]])
    """
    n = check_positive_int(n_classes, name="n_classes")
    true, pred = _check_pair(true, pred, n)
    true, pred = true.reshape(-1), pred.reshape(-1)
    cm = np.zeros(n * n, dtype=np.int64)
    for start in range(0, true.size, _CHUNK):
        t = true[start:start + _CHUNK].astype(np.int64)
        t *= n
        t += pred[start:start + _CHUNK]
        cm += np.bincount(t, minlength=n * n)
    return cm.reshape(n, n)


def iou_from_confusion(cm):
    """Per-class intersection over union (Jaccard index).

    Parameters
    ----------
    cm : array_like of int, shape (n, n)
        Confusion matrix, rows = truth, columns = prediction.

    Returns
    -------
    iou : ndarray of float64, shape (n,)
        NaN for a class absent from both truth and prediction (its IoU is
        undefined); a class present in only one of them has IoU 0.

    Notes
    -----
    With ``TP_k = cm[k, k]``, ``T_k = sum_j cm[k, j]`` (true voxels) and
    ``P_k = sum_i cm[i, k]`` (predicted voxels)::

        IoU_k = TP_k / (T_k + P_k - TP_k)

    Examples
    --------
    >>> import numpy as np
    >>> from emseg.metrics import iou_from_confusion
    >>> iou_from_confusion(np.array([[2, 1, 0], [0, 1, 0], [0, 0, 0]]))
    array([0.66666667, 0.5       ,        nan])
    """
    cm = _check_confusion(cm)
    tp = np.diag(cm).astype(np.float64)
    union = cm.sum(axis=0) + cm.sum(axis=1) - np.diag(cm)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(union > 0, tp / union, np.nan)


def dice_from_confusion(cm):
    """Per-class Dice coefficient (F1 score).

    Parameters
    ----------
    cm : array_like of int, shape (n, n)
        Confusion matrix, rows = truth, columns = prediction.

    Returns
    -------
    dice : ndarray of float64, shape (n,)
        NaN for a class absent from both truth and prediction.

    Notes
    -----
    With the notation of :func:`iou_from_confusion`::

        Dice_k = 2 TP_k / (T_k + P_k) = 2 IoU_k / (1 + IoU_k)

    Examples
    --------
    >>> import numpy as np
    >>> from emseg.metrics import dice_from_confusion
    >>> dice_from_confusion(np.array([[2, 1, 0], [0, 1, 0], [0, 0, 0]]))
    array([0.8       , 0.66666667,        nan])
    """
    cm = _check_confusion(cm)
    tp = np.diag(cm).astype(np.float64)
    size = cm.sum(axis=0) + cm.sum(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(size > 0, 2 * tp / size, np.nan)


def accuracy_from_confusion(cm):
    """Fraction of voxels whose predicted class is right.

    Parameters
    ----------
    cm : array_like of int, shape (n, n)
        Confusion matrix.

    Returns
    -------
    float

    Notes
    -----
    ``accuracy = trace(cm) / sum(cm)`` (as ``tf.metrics.accuracy``).

    Examples
    --------
    >>> import numpy as np
    >>> from emseg.metrics import accuracy_from_confusion
    >>> accuracy_from_confusion(np.array([[2, 1], [0, 1]]))
    0.75
    """
    cm = _check_confusion(cm)
    return int(np.trace(cm)) / int(cm.sum())


# --------------------------------------------------------------------------- Rand index

def _ari_from_counts(cells, rows, cols):
    """ARI from contingency cell counts and its row and column sums (any order)."""
    def pairs(counts):  # sum of C(c, 2), exact in int64 below ~4e9 voxels
        counts = np.asarray(counts, dtype=np.int64)
        return int(np.sum(counts * (counts - 1) // 2))

    index, a, b = pairs(cells), pairs(rows), pairs(cols)
    if index == a == b:  # identical partitions (incl. one voxel or one cluster each)
        return 1.0
    n = int(np.sum(rows, dtype=np.int64))
    total = n * (n - 1) // 2
    # Python ints: the products reach ~1e29 for a 29 M voxel volume.
    return 2 * (index * total - a * b) / ((a + b) * total - 2 * a * b)


def ari_from_confusion(cm):
    """Adjusted Rand index from a confusion (contingency) matrix.

    Parameters
    ----------
    cm : array_like of int, shape (n, n)
        Confusion matrix; for class maps it is the contingency table.

    Returns
    -------
    float
        1 for identical partitions, about 0 for chance agreement, negative
        below chance.

    Notes
    -----
    Hubert and Arabie (1985). With ``n_ij = cm[i, j]``, row sums ``a_i``,
    column sums ``b_j``, ``N`` voxels and ``C(x, 2) = x (x - 1) / 2``::

        index = sum_ij C(n_ij, 2),  A = sum_i C(a_i, 2),  B = sum_j C(b_j, 2)
        expected = A B / C(N, 2),   maximum = (A + B) / 2
        ARI = (index - expected) / (maximum - expected)
            = 2 (index C(N, 2) - A B) / ((A + B) C(N, 2) - 2 A B)

    The last form is evaluated with exact Python integers and one final
    division. As in scikit-learn's ``adjusted_rand_score``, identical
    partitions (``index == A == B``, e.g. both a single cluster) give 1.0;
    the denominator is nonzero in every other case.

    Examples
    --------
    >>> import numpy as np
    >>> from emseg.metrics import ari_from_confusion
    >>> ari_from_confusion(np.array([[2, 0], [0, 2]]))
    1.0
    >>> ari_from_confusion(np.array([[1, 1], [1, 1]]))
    -0.5
    """
    cm = _check_confusion(cm)
    return _ari_from_counts(cm, cm.sum(axis=1), cm.sum(axis=0))


def adjusted_rand_index(true, pred):
    """Adjusted Rand index between two label maps.

    Parameters
    ----------
    true, pred : array_like of int
        Label maps of the same shape, non-negative integers (class or
        instance ids; the ids themselves do not matter, only the partition).

    Returns
    -------
    float
        Equal to ``sklearn.metrics.adjusted_rand_score(true.ravel(),
        pred.ravel())``.

    Notes
    -----
    See :func:`ari_from_confusion` for the formula. With at most 1024 ids the
    contingency table is the dense confusion matrix; with more (instance
    labels) only its nonzero cells are counted, via ``np.unique``.

    Examples
    --------
    >>> import numpy as np
    >>> from emseg.metrics import adjusted_rand_index
    >>> adjusted_rand_index(np.array([0, 0, 1, 1]), np.array([5, 5, 3, 3]))
    1.0
    >>> adjusted_rand_index(np.array([0, 0, 1, 1]), np.array([0, 1, 0, 1]))
    -0.5
    """
    true, pred = _check_pair(true, pred)
    n = int(max(true.max(), pred.max())) + 1
    if n <= _DENSE_ARI_MAX:
        return ari_from_confusion(confusion_matrix(true, pred, n_classes=n))
    width = int(pred.max()) + 1
    if int(true.max()) * width + width > np.iinfo(np.int64).max:
        raise ValueError(f"label ids up to {n - 1} are too large to pair in int64; "
                         "relabel them to 0..k-1 first (e.g. np.unique(..., return_inverse=True))")
    true, pred = true.reshape(-1).astype(np.int64), pred.reshape(-1)
    _, cells = np.unique(true * width + pred, return_counts=True)
    return _ari_from_counts(cells, np.bincount(true), np.bincount(pred))


# --------------------------------------------------------------------------- reports

def mean_iou(true, pred, *, n_classes, classes=None):
    """Mean IoU over all classes or a subset.

    Parameters
    ----------
    true, pred : array_like of int
        Class maps of the same shape, values in ``0 .. n_classes - 1``.
    n_classes : int
        Number of classes.
    classes : iterable of int, optional
        Classes to average, e.g. ``range(2, 7)`` for the platelet organelles.
        Default: all classes, background included (as ``tf.metrics.mean_iou``).

    Returns
    -------
    float
        NaN when none of the selected classes occurs in ``true`` or ``pred``.

    Notes
    -----
    ``MIoU = mean of IoU_k over the selected classes k with IoU_k defined``
    (classes absent from both maps are skipped, as ``np.nanmean`` would).

    Examples
    --------
    >>> import numpy as np
    >>> from emseg.metrics import mean_iou
    >>> true = np.array([0, 0, 1, 1, 2, 2])
    >>> pred = np.array([0, 1, 1, 1, 2, 0])
    >>> round(mean_iou(true, pred, n_classes=4), 4)  # (1/3 + 2/3 + 1/2) / 3; class 3 skipped
    0.5
    >>> mean_iou(true, pred, n_classes=4, classes=[2])
    0.5
    """
    iou = iou_from_confusion(confusion_matrix(true, pred, n_classes=n_classes))
    if classes is not None:
        iou = iou[_check_classes(classes, n_classes, "classes")]
    return _nanmean(iou)


def report_from_confusion(cm, *, class_names=None, organelle_classes=None):
    """The :func:`segmentation_report` of a confusion matrix.

    For a matrix summed over several volumes (``sum`` of their reports'
    ``confusion``) this is the report of all of them together: every score is
    computed from the summed counts, not averaged over the volumes.

    Parameters
    ----------
    cm : array_like of int, shape (n, n)
        Confusion matrix, rows = truth, columns = prediction
        (:func:`confusion_matrix`).
    class_names : sequence of str, optional
        One name per class. Default ``"class 0"``, ``"class 1"``, ...
    organelle_classes : iterable of int, optional
        Classes averaged in ``miou_organelle`` (``range(2, 7)`` for platelets).

    Returns
    -------
    dict
        The keys and values described in :func:`segmentation_report`.

    Notes
    -----
    ``iou`` and ``dice`` are :func:`iou_from_confusion` and
    :func:`dice_from_confusion`; ``miou_all`` and ``miou_organelle`` are the
    means of the defined IoUs (all classes; ``organelle_classes``);
    ``accuracy`` and ``ari`` are :func:`accuracy_from_confusion` and
    :func:`ari_from_confusion`; ``voxels`` are the row sums.

    Examples
    --------
    >>> import numpy as np
    >>> from emseg.metrics import report_from_confusion
    >>> cm = np.array([[1, 1, 0], [0, 1, 0], [0, 0, 1]])
    >>> r = report_from_confusion(cm, class_names=["bg", "cell", "mito"], organelle_classes=[2])
    >>> r["iou"], r["miou_organelle"], r["accuracy"], r["voxels"]
    ([0.5, 0.5, 1.0], 1.0, 0.75, [2, 1, 1])
    """
    cm = _check_confusion(cm)
    n = cm.shape[0]
    class_names = _check_class_names(class_names, n)
    if organelle_classes is not None:
        organelle_classes = _check_classes(organelle_classes, n, "organelle_classes")
    iou = iou_from_confusion(cm)
    return {
        "confusion": cm.tolist(),
        "iou": iou.tolist(),
        "dice": dice_from_confusion(cm).tolist(),
        "miou_all": _nanmean(iou),
        "miou_organelle": None if organelle_classes is None else _nanmean(iou[organelle_classes]),
        "accuracy": accuracy_from_confusion(cm),
        "ari": ari_from_confusion(cm),
        "class_names": class_names,
        "voxels": cm.sum(axis=1).tolist(),
        "organelle_classes": organelle_classes,
    }


def segmentation_report(true, pred, *, n_classes, class_names=None, organelle_classes=None):
    """All metrics of a prediction, from one pass over the data.

    Parameters
    ----------
    true, pred : array_like of int
        Class maps of the same shape, values in ``0 .. n_classes - 1``.
    n_classes : int
        Number of classes.
    class_names : sequence of str, optional
        One name per class. Default ``"class 0"``, ``"class 1"``, ...
    organelle_classes : iterable of int, optional
        Classes averaged in ``miou_organelle`` (``range(2, 7)`` for platelets).

    Returns
    -------
    dict
        Plain Python values (JSON-friendly; undefined scores are ``nan``):

        - ``confusion``: list of lists of int, rows = truth;
        - ``iou``, ``dice``: lists of float, one per class;
        - ``miou_all``: mean IoU over all classes, background included;
        - ``miou_organelle``: mean IoU over ``organelle_classes``, or None;
        - ``accuracy``, ``ari``: floats;
        - ``class_names``: list of str; ``voxels``: true voxels per class;
        - ``organelle_classes``: list of int, or None.

    Notes
    -----
    ``report_from_confusion(confusion_matrix(true, pred, n_classes=n_classes), ...)``:
    all scores derive from one confusion matrix; see :func:`report_from_confusion`.

    Examples
    --------
    >>> import numpy as np
    >>> from emseg.metrics import segmentation_report
    >>> r = segmentation_report(np.array([0, 0, 1, 2]), np.array([0, 1, 1, 2]),
    ...                         n_classes=3, class_names=["bg", "cell", "mito"],
    ...                         organelle_classes=[2])
    >>> r["iou"], r["miou_organelle"], r["accuracy"], r["voxels"]
    ([0.5, 0.5, 1.0], 1.0, 0.75, [2, 1, 1])
    """
    n = check_positive_int(n_classes, name="n_classes")
    # names and classes are checked before the (long) pass over the data
    class_names = _check_class_names(class_names, n)
    if organelle_classes is not None:
        organelle_classes = _check_classes(organelle_classes, n, "organelle_classes")
    cm = confusion_matrix(true, pred, n_classes=n)
    return report_from_confusion(cm, class_names=class_names, organelle_classes=organelle_classes)
