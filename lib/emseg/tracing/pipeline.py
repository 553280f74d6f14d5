"""The steps around the tracers: stack normalisation, the baseline's raw-image foreground,
CNN probability maps, and a tracing experiment under decreasing signal.

The full pipeline of example 5 (Huang et al. 2021)::

    prob = probability_map(net, image)                    # VoxResNet, tiled
    tree = trace_voxel_scooping(prob, voxel_size=vs)      # threshold 0.5

and the baseline it is compared with::

    tree = trace_skeleton(raw_foreground(image), voxel_size=vs)

The notebook, the benchmark and the CLI call these same functions.
"""
import time

import numpy as np
from scipy import ndimage as ndi

from emseg._validate import check_image

__all__ = ["normalize_stack", "raw_foreground", "probability_map", "trace_and_score"]

_MAD = 1.4826  # MAD -> standard deviation of a normal distribution


def _robust_stats(arr):
    sample = arr.ravel()
    if sample.size > 2_000_000:        # the median of a regular subsample is plenty
        sample = sample[:: sample.size // 1_000_000]
    med = float(np.median(sample))
    mad = float(np.median(np.abs(sample - med))) * _MAD
    return med, mad


def normalize_stack(image):
    """A fluorescence stack in noise units: ``(image - median) / (1.4826 * MAD)``, float32.

    Neurites are sparse, so the median and the median absolute deviation (MAD)
    are those of the background: the result is 0 on the background with unit
    noise, and the signal keeps its scale relative to the noise (a stack at half
    the signal has half the contrast). This is what the network sees, in
    training and in prediction.

    Parameters
    ----------
    image : array_like
        3-D (z, y, x) stack, any numeric dtype.

    Returns
    -------
    numpy.ndarray of float32

    Raises
    ------
    ValueError
        For a non-3-D, empty, non-numeric or non-finite stack, or a constant one
        (no noise to scale by).

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> x = normalize_stack(rng.normal(100, 5, (8, 32, 32)))
    >>> abs(round(float(np.median(x)), 1)), round(float(x.std()), 1)
    (0.0, 1.0)
    """
    arr = check_image(image, ndim=(3,))
    med, mad = _robust_stats(arr)
    if not mad > 0:
        std = float(np.std(arr))
        if not std > 0:
            raise ValueError("image is constant: there is no signal or noise to normalise; "
                             "check the stack")
        mad = std
    return ((arr.astype(np.float32) - np.float32(med)) / np.float32(mad)).astype(np.float32)


def raw_foreground(image, *, k=5.0, sigma=(0.5, 1.0, 1.0)):
    """The baseline's foreground: the smoothed stack above median + ``k`` robust sigmas.

    Parameters
    ----------
    image : array_like
        3-D (z, y, x) raw stack.
    k : float
        Threshold in robust standard deviations (1.4826 MAD) of the smoothed stack.
    sigma : 3 floats
        Gaussian smoothing (z, y, x) in voxels before thresholding (0: none).

    Returns
    -------
    numpy.ndarray of bool
        May be all False on a stack without signal (the tracers then refuse it).

    Examples
    --------
    >>> img = np.full((8, 16, 16), 100.0) + np.random.default_rng(0).normal(0, 3, (8, 16, 16))
    >>> img[4, 8, 2:14] += 200
    >>> fg = raw_foreground(img)
    >>> bool(fg[4, 8, 8]), bool(fg[0, 0, 0])
    (True, False)
    """
    arr = check_image(image, ndim=(3,))
    if not (np.isscalar(k) and np.isfinite(k) and k > 0):
        raise ValueError(f"k must be a positive number of robust sigmas, got {k!r}")
    smooth = ndi.gaussian_filter(arr.astype(np.float32), sigma)
    med, mad = _robust_stats(smooth)
    return smooth >= med + k * max(mad, 1e-12)


def probability_map(model, image, *, window=None, overlap=0.25, device=None, progress=False,
                    normalize=True):
    """Foreground probability of a stack from a 2-class network (tiled, see emseg.infer).

    Parameters
    ----------
    model : emseg.models.SegmentationNet
        A 2-class 3D network (e.g. a trained :class:`~emseg.models.VoxResNet`).
    image : array_like
        3-D (z, y, x) raw stack.
    window : tuple of int, optional
        Prediction window (default: the network's default window, cut to the
        stack where the stack is smaller, in multiples of 8).
    overlap : float
        Window overlap (the original used 10 voxels of 120: about 0.08).
    device : str or torch.device, optional
        Default: CUDA if available, else CPU.
    progress : bool
        Show a progress bar.
    normalize : bool
        Apply :func:`normalize_stack` first (as in training).

    Returns
    -------
    numpy.ndarray of float32
        (z, y, x) probabilities in [0, 1].
    """
    from emseg.infer import predict

    if getattr(model, "n_classes", None) != 2:
        raise ValueError(f"probability_map needs a 2-class network (background, neurite), got "
                         f"{getattr(model, 'n_classes', type(model).__name__)} classes")
    arr = normalize_stack(image) if normalize else check_image(image, ndim=(3,))
    if window is None:
        window = tuple(max(8, min(w, 8 * -(-s // 8))) for w, s in
                       zip(model.default_window, arr.shape))
    probs = predict(model, arr, window=window, overlap=overlap, device=device, progress=progress)
    return probs[1]


def trace_and_score(tracer, foreground, truth, *, voxel_size, offset=(0.0, 0.0, 0.0),
                    threshold=2.0, **options):
    """Trace a foreground (mask or probability map), time it and score it against the truth.

    Parameters
    ----------
    tracer : callable
        :func:`~emseg.tracing.trace_voxel_scooping` or :func:`~emseg.tracing.trace_skeleton`.
    foreground : numpy.ndarray
        What the tracer takes (mask or probability map).
    truth : SwcTree
        The ground-truth tree, physical coordinates.
    voxel_size : 3 floats
        (z, y, x).
    offset : 3 floats
        Physical position (z, y, x) of voxel (0, 0, 0) (the tracers put it at 0).
    threshold : float
        Metric threshold in voxels (ESA/DSA/PDS and F1).
    **options
        Passed to the tracer.

    Returns
    -------
    tree : SwcTree
        The trace, moved by ``offset`` (in the truth's coordinates).
    row : dict
        ``seconds``, ``voxels_per_s``, ``nodes``, ``trees`` and the
        :func:`~emseg.tracing.tracing_report` keys; when the tracer finds no
        foreground the trace is empty and the scores are the worst possible
        (F1 0, recall 0; ESA/PDS NaN), so a broken-down trace still gets a row.
    """
    from emseg.tracing.metrics import tracing_report
    from emseg.tracing.scooping import NothingToTrace
    from emseg.data.swc import SwcTree

    start = time.perf_counter()
    try:
        tree = tracer(foreground, voxel_size=voxel_size, **options)
    except NothingToTrace:
        tree = SwcTree.empty()
    seconds = time.perf_counter() - start
    row = {"seconds": seconds, "voxels_per_s": foreground.size / max(seconds, 1e-12),
           "nodes": len(tree), "trees": len(tree.roots) if len(tree) else 0}
    if len(tree):
        xyz = tree.xyz + np.asarray(offset, float)[::-1]
        tree = SwcTree(id=tree.id, type=tree.type, x=xyz[:, 0], y=xyz[:, 1], z=xyz[:, 2],
                       radius=tree.radius, parent=tree.parent)
    if len(tree) >= 2:
        row.update(tracing_report(tree, truth, threshold=threshold, voxel_size=voxel_size))
    else:
        row.update(esa=np.nan, dsa=np.nan, pds=np.nan, precision=np.nan, recall=0.0, f1=0.0)
    return tree, row
