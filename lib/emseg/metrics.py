"""Segmentation metrics computed from one confusion matrix.

Every score here (per-class IoU and Dice, mean IoU, accuracy and the adjusted
Rand index) derives from the ``(n_classes, n_classes)`` confusion matrix, so a
whole volume is read once, in chunks, and memory stays small even for the
121 x 609 x 400 platelet test volume (29 M voxels).

Conventions follow the original platelet work (Guay et al. 2021):

- ``tf.metrics.mean_iou(num_classes=7)`` **includes background**; that is
  ``miou_all`` here. The organelle MIoU averages classes 2..6 only
  (``organelle_classes=range(2, 7)``). The two are not comparable.
- A class absent from both the truth and the prediction has no IoU (NaN); means
  skip it, as tf's ``mean_iou`` does.
"""
import math

import numpy as np

from ._validate import check_labels, check_mask, check_positive_int, check_same_shape

__all__ = [
    "confusion_matrix",
    "iou_from_confusion",
    "dice_from_confusion",
    "accuracy_from_confusion",
    "ari_from_confusion",
    "adjusted_rand_index",
    "mean_iou",
    "segmentation_report",
    "format_report",
    "compare_reports",
    "hd95",
    "binary_metrics",
    "average_precision",
    "BINARY_METRICS",
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
    All scores derive from one confusion matrix; see
    :func:`iou_from_confusion`, :func:`dice_from_confusion`,
    :func:`accuracy_from_confusion` and :func:`ari_from_confusion`.

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
    if class_names is None:
        class_names = [f"class {k}" for k in range(n)]
    elif isinstance(class_names, str) or len(class_names) != n:
        raise ValueError(f"class_names must be a sequence of {n} names (one per class), "
                         f"got {class_names!r}")
    if organelle_classes is not None:
        organelle_classes = _check_classes(organelle_classes, n, "organelle_classes")

    cm = confusion_matrix(true, pred, n_classes=n)
    iou = iou_from_confusion(cm)
    return {
        "confusion": cm.tolist(),
        "iou": iou.tolist(),
        "dice": dice_from_confusion(cm).tolist(),
        "miou_all": _nanmean(iou),
        "miou_organelle": None if organelle_classes is None else _nanmean(iou[organelle_classes]),
        "accuracy": accuracy_from_confusion(cm),
        "ari": ari_from_confusion(cm),
        "class_names": [str(name) for name in class_names],
        "voxels": cm.sum(axis=1).tolist(),
        "organelle_classes": organelle_classes,
    }


def _fmt(value, digits=4):
    """A score with ``digits`` decimals; None or NaN as an em dash."""
    if value is None or math.isnan(value):
        return "—"
    return f"{value:.{digits}f}"


def _organelle_label(report):
    classes = report.get("organelle_classes")
    return "MIoU (organelles)" if not classes else \
        f"MIoU (organelles: {', '.join(str(c) for c in classes)})"


def format_report(report, *, title=None):
    """Render a :func:`segmentation_report` as Markdown tables.

    Parameters
    ----------
    report : dict
        Output of :func:`segmentation_report`.
    title : str, optional
        Printed as a ``###`` heading above the tables.

    Returns
    -------
    str
        A per-class table (name, true voxels, IoU, Dice) and a summary table
        (MIoU over all classes, MIoU over organelles, accuracy, ARI). Scores
        have 4 decimals; undefined ones show as "—".

    Examples
    --------
    >>> import numpy as np
    >>> from emseg.metrics import segmentation_report, format_report
    >>> r = segmentation_report(np.array([0, 0, 1, 1]), np.array([0, 1, 1, 1]),
    ...                         n_classes=3, class_names=["bg", "cell", "mito"])
    >>> print(format_report(r, title="toy"))
    ### toy
    <BLANKLINE>
    | Class | Voxels | IoU | Dice |
    |---|---:|---:|---:|
    | bg | 2 | 0.5000 | 0.6667 |
    | cell | 2 | 0.6667 | 0.8000 |
    | mito | 0 | — | — |
    <BLANKLINE>
    | Metric | Value |
    |---|---:|
    | MIoU (all classes) | 0.5833 |
    | MIoU (organelles) | — |
    | Accuracy | 0.7500 |
    | ARI | 0.0000 |
    """
    lines = [f"### {title}", ""] if title else []
    lines += ["| Class | Voxels | IoU | Dice |", "|---|---:|---:|---:|"]
    for name, voxels, iou, dice in zip(report["class_names"], report["voxels"],
                                       report["iou"], report["dice"]):
        lines.append(f"| {name} | {voxels:,} | {_fmt(iou)} | {_fmt(dice)} |")
    lines += ["", "| Metric | Value |", "|---|---:|",
              f"| MIoU (all classes) | {_fmt(report['miou_all'])} |",
              f"| {_organelle_label(report)} | {_fmt(report['miou_organelle'])} |",
              f"| Accuracy | {_fmt(report['accuracy'])} |",
              f"| ARI | {_fmt(report['ari'])} |"]
    return "\n".join(lines)


def compare_reports(reports):
    """Markdown table comparing several models, one column per model.

    Parameters
    ----------
    reports : dict of str to dict
        Model name to its :func:`segmentation_report`; all must share the
        same class names.

    Returns
    -------
    str
        Rows: IoU of each class, MIoU (all classes), MIoU (organelles),
        accuracy and ARI; 4 decimals, "—" where undefined.

    Examples
    --------
    >>> import numpy as np
    >>> from emseg.metrics import segmentation_report, compare_reports
    >>> true = np.array([0, 0, 1, 1])
    >>> a = segmentation_report(true, np.array([0, 0, 1, 1]), n_classes=2)
    >>> b = segmentation_report(true, np.array([0, 1, 1, 1]), n_classes=2)
    >>> print(compare_reports({"unet": a, "2d3d": b}))
    | Metric | unet | 2d3d |
    |---|---:|---:|
    | IoU class 0 | 1.0000 | 0.5000 |
    | IoU class 1 | 1.0000 | 0.6667 |
    | MIoU (all classes) | 1.0000 | 0.5833 |
    | MIoU (organelles) | — | — |
    | Accuracy | 1.0000 | 0.7500 |
    | ARI | 1.0000 | 0.0000 |
    """
    if not isinstance(reports, dict) or not reports:
        raise ValueError("reports must be a non-empty dict of model name -> segmentation_report()")
    first = next(iter(reports.values()))
    for name, report in reports.items():
        for key in ("class_names", "organelle_classes"):
            if report.get(key) != first.get(key):
                raise ValueError(f"report {name!r} has {key} {report.get(key)}, expected "
                                 f"{first.get(key)}; compare reports made with the same classes")
    rows = [(f"IoU {cname}", [r["iou"][k] for r in reports.values()])
            for k, cname in enumerate(first["class_names"])]
    rows += [("MIoU (all classes)", [r["miou_all"] for r in reports.values()]),
             (_organelle_label(first), [r["miou_organelle"] for r in reports.values()]),
             ("Accuracy", [r["accuracy"] for r in reports.values()]),
             ("ARI", [r["ari"] for r in reports.values()])]
    lines = ["| Metric | " + " | ".join(reports) + " |",
             "|---|" + "---:|" * len(reports)]
    lines += [f"| {label} | " + " | ".join(_fmt(v) for v in values) + " |"
              for label, values in rows]
    return "\n".join(lines)


# --------------------------------------------------------------------------- binary masks

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
