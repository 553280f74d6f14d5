"""Weight maps of training labels: the platelet recipe's boundary error weights and
ECS-Net's shape-aware weights (:func:`shape_weight_map`).

**Error weights**, in the spirit of the platelet dataset's.

The released ``train-error-weights.tif`` is about zero inside regions and
positive in bands along every label boundary. The lab's code describes it as 2D
heat diffusion from each label into its neighbours; the exact recipe used for
the released file was never published. :func:`error_weights` is an independent,
vectorised implementation of that idea.
"""
import numpy as np
from scipy import ndimage as ndi
from skimage.morphology import medial_axis

from emseg._validate import check_labels, check_mask

__all__ = ["error_weights", "shape_weight_map", "SHAPE_CLASSES"]

SHAPE_CLASSES = ("background", "gap", "interior", "edge")  # class ids 0..3 of shape_weight_map
GAP_FACTOR = 4.0  # weight of thin background gaps, x (nm/nb + nm/nf), as the original (ECS-Net)


def _check_param(value, *, name, lo, hi, lo_open=True, hi_open=False):
    ok = not isinstance(value, bool) and np.isscalar(value) and np.isfinite(value)
    if ok:
        ok = (value > lo if lo_open else value >= lo) and (value < hi if hi_open else value <= hi)
    if not ok:
        lb = "(" if lo_open else "["
        rb = ")" if hi_open else "]"
        raise ValueError(f"{name} must be a number in {lb}{lo}, {hi}{rb}, got {value!r}")
    return float(value)


def error_weights(labels, *, max_weight=25.0, c_diffuse=0.2, c_decay=0.98, threshold=0.2,
                  n_steps=50):
    """Per-voxel error weights that are high along label boundaries and ~0 elsewhere.

    Parameters
    ----------
    labels : array_like
        Integer class labels, 2D (y, x) or 3D (z, y, x). Each z slice is treated
        on its own: boundaries are found and weights spread only along y and x.
    max_weight : float, optional
        Temperature of the heat sources (the "other" labels across a boundary).
        No weight reaches it: with the other defaults, voxels next to a straight
        boundary get ~0.7 of it, corners and thin structures up to ~0.98.
    c_diffuse : float, optional
        Diffusion coefficient of the explicit heat-equation step, in (0, 0.25]
        (the explicit 2D scheme is stable up to 0.25). Larger spreads faster.
    c_decay : float, optional
        Factor in (0, 1] that multiplies the heat at every step: heat leaks away,
        which keeps the bands narrow.
    threshold : float, optional
        Weights below this value (same units as ``max_weight``) are set to 0,
        so region interiors are exactly 0.
    n_steps : int, optional
        Number of diffusion steps.

    Returns
    -------
    numpy.ndarray
        float32 weights of the shape of ``labels``, in ``[0, max_weight)``.

    Notes
    -----
    Every region is heated from its boundary. A pixel is a heat source for its
    in-plane (4-connected) neighbours of a *different* label, at temperature
    ``max_weight``; heat spreads inside each region by the explicit heat equation
    and decays by ``c_decay`` per step::

        u <- c_decay * (u + c_diffuse * (sum over the 4 neighbours of (v - u)))

    where ``v`` is the neighbour's heat when it has the same label and
    ``max_weight`` when it has another label; the volume's edges are insulating.
    After ``n_steps`` steps, ``u`` is the weight, zeroed below ``threshold``.
    The result is a band on *both* sides of every boundary, symmetric for a
    straight boundary between two regions, with a width of a few pixels
    (decay length about ``sqrt(c_diffuse / (1 - c_decay))`` pixels, ~3 with
    the defaults; ~10 pixels in all down to the threshold). Thin structures
    (narrow gaps, small organelles) are heated from both sides and get more.

    The parameter names and defaults (max_weight 25, c_diffuse 0.2, c_decay
    0.98, threshold 0.2, 50 steps) are those of the original lab's
    ``diffusive_edge_weights``; the recipe that produced the released
    ``train-error-weights.tif`` was never published, so these weights are in
    its spirit, not a reproduction. Training adds a floor of 0.01 to them.

    Examples
    --------
    >>> lab = np.zeros((8, 32), int); lab[:, 16:] = 1
    >>> w = error_weights(lab)
    >>> w[0, 12:20].astype(float).round(1).tolist()   # a band on both sides
    [5.8, 8.6, 12.5, 17.8, 17.8, 12.5, 8.6, 5.8]
    >>> float(w[:, :4].max())                     # far from the boundary
    0.0
    """
    lab = check_labels(labels, ndim=(2, 3))
    max_weight = _check_param(max_weight, name="max_weight", lo=0.0, hi=np.inf, hi_open=True)
    c_diffuse = _check_param(c_diffuse, name="c_diffuse", lo=0.0, hi=0.25)
    c_decay = _check_param(c_decay, name="c_decay", lo=0.0, hi=1.0)
    threshold = _check_param(threshold, name="threshold", lo=0.0, hi=np.inf, lo_open=False,
                             hi_open=True)
    if isinstance(n_steps, bool) or not isinstance(n_steps, (int, np.integer)) or n_steps < 0:
        raise ValueError(f"n_steps must be an integer >= 0, got {n_steps!r}")
    squeeze = lab.ndim == 2
    lab3 = lab[None] if squeeze else lab

    # For each in-plane direction: does the neighbour exist with the same label
    # (heat exchange) or with another label (a hot source)? Edges: neither.
    same, hot = [], np.zeros(lab3.shape, np.float32)
    for axis in (1, 2):
        for shift in (1, -1):
            nb = np.roll(lab3, shift, axis=axis)
            exists = np.ones(lab3.shape, bool)
            edge = [slice(None)] * 3
            edge[axis] = 0 if shift == 1 else -1
            exists[tuple(edge)] = False
            same.append(((nb == lab3) & exists).astype(np.float32))
            hot += (nb != lab3) & exists
    if not hot.any():
        out = np.zeros(lab3.shape, np.float32)
        return out[0] if squeeze else out
    n_same = np.sum(same, axis=0)
    source = np.float32(c_diffuse * max_weight) * hot      # constant heat inflow
    keep = np.float32(1.0) - np.float32(c_diffuse) * (n_same + hot)

    u = np.zeros(lab3.shape, np.float32)
    pad = np.zeros((lab3.shape[0], lab3.shape[1] + 2, lab3.shape[2] + 2), np.float32)
    inner = pad[:, 1:-1, 1:-1]
    views = [pad[:, :-2, 1:-1], pad[:, 2:, 1:-1], pad[:, 1:-1, :-2], pad[:, 1:-1, 2:]]
    # np.roll(x, 1, axis=1)[i] == x[i-1]  ->  the neighbour "above" is pad[:, :-2]
    c_d = np.float32(c_diffuse)
    decay = np.float32(c_decay)
    for _ in range(int(n_steps)):
        inner[...] = u
        flow = views[0] * same[0]
        flow += views[1] * same[1]
        flow += views[2] * same[2]
        flow += views[3] * same[3]
        u = decay * (keep * u + c_d * flow + source)
    u[u < threshold] = 0.0
    return u[0] if squeeze else u


# --------------------------------------------------------------------------- weight map

def shape_weight_map(mask, *, gap_size=7, depth_scale=25.0, radius=10.0, return_classes=False):
    """Shape-aware weight map ``S`` of a binary ECS mask, computed per 2D image.

    Parameters
    ----------
    mask : array_like
        Binary mask (y, x) or a stack (z, y, x); 1 = ECS (foreground). Bool, or numbers
        that are all 0 or 1. A stack is processed slice by slice (ECS-Net is 2D).
    gap_size : int
        Side of the square closing element, in pixels (original: 7): background gaps
        narrower than this between foreground structures are "gap" pixels.
    depth_scale : float
        Length (pixels) of the exponential growth of weight with depth inside the
        foreground (original: 25).
    radius : float
        Distance (pixels) over which the edge weight falls off away from the skeleton
        and the background weight away from the foreground (original: 10).
    return_classes : bool
        Also return the pixel classes (uint8, ids into :data:`SHAPE_CLASSES`).

    Returns
    -------
    numpy.ndarray or tuple
        float32 weights of the mask's shape (``>= 0``), and the classes if asked.

    Notes
    -----
    Per image, with ``nf`` foreground and ``nb`` background pixels,
    ``nm = min(nf, nb)``, ``rf = nm / nf``, ``rb = nm / nb`` (0 when the image has
    no foreground or no background, so such images get zero weights), ``D`` the
    Euclidean distance of a foreground pixel to the background, ``D_out`` that of a
    background pixel to the foreground, and ``sk`` the medial axis of the foreground:

    ============  =================================  ====================================
    class         condition                          weight
    ============  =================================  ====================================
    gap (1)       background inside                  ``4 (rb + rf)``
                  ``closing(fg, gap_size) - fg``
    background    other background                   ``rb + rf (1 - min(D_out / radius, 1))``
    interior (2)  foreground, ``D > 1``              ``rf + rf exp(D / depth_scale)``
    edge (3)      foreground, ``D <= 1``             ``rf + W_sk max(0, 1 - d / radius)``
    ============  =================================  ====================================

    where ``d`` is the distance to the nearest skeleton pixel and
    ``W_sk = rf + rf exp(D_sk / depth_scale)`` with ``D_sk`` the depth at that
    skeleton pixel. (The original looked for a skeleton pixel within a +-10 px window
    first; with the ``max(0, ...)`` fall-off that test changes nothing.) The closing
    pads the image by repeating its border pixels, so no gap is invented between a
    structure and the image edge. The training weight of a pixel is ``1 + S``.

    The map depends only on the mask: compute it once per training image and keep it
    (e.g. as the ``weights`` of an :class:`emseg.data.Volume`, or in a float TIFF).

    Examples
    --------
    >>> m = np.zeros((9, 9), np.uint8); m[:, 4] = 1     # a 1-px ECS sheet
    >>> w, c = shape_weight_map(m, return_classes=True)
    >>> sorted(set(c.ravel().tolist())), bool(w[0, 4] > w[0, 0])
    ([0, 3], True)
    """
    arr = check_mask(mask, name="mask")
    if isinstance(gap_size, bool) or not isinstance(gap_size, (int, np.integer)) or gap_size < 1:
        raise ValueError(f"gap_size must be a positive integer (pixels), got {gap_size!r}")
    for name, v in (("depth_scale", depth_scale), ("radius", radius)):
        if isinstance(v, bool) or not np.isscalar(v) or not np.isfinite(v) or v <= 0:
            raise ValueError(f"{name} must be a positive number (pixels), got {v!r}")
    stack = arr[None] if arr.ndim == 2 else arr
    weights = np.empty(stack.shape, np.float32)
    classes = np.empty(stack.shape, np.uint8)
    for z, fg in enumerate(stack):
        weights[z], classes[z] = _weight_map_2d(fg, int(gap_size), float(depth_scale), float(radius))
    if arr.ndim == 2:
        weights, classes = weights[0], classes[0]
    return (weights, classes) if return_classes else weights


def _weight_map_2d(fg, gap_size, depth_scale, radius):
    nf = int(np.count_nonzero(fg))
    nb = fg.size - nf
    nm = min(nf, nb)
    rf = nm / nf if nf else 0.0
    rb = nm / nb if nb else 0.0
    if nm == 0:  # no ECS, or nothing but ECS: nothing to emphasise
        return np.zeros(fg.shape, np.float32), np.full(fg.shape, 2 if nf else 0, np.uint8)
    depth = ndi.distance_transform_edt(fg)
    d_out = ndi.distance_transform_edt(~fg)
    gap = _closing(fg, gap_size) & ~fg
    interior = fg & (depth > 1)
    edge = fg & (depth <= 1)

    w = np.where(gap, GAP_FACTOR * (rb + rf), rb + rf * (1.0 - np.minimum(d_out / radius, 1.0)))
    w[interior] = rf + rf * np.exp(depth[interior] / depth_scale)
    w[edge] = rf
    skeleton = medial_axis(fg, rng=0)  # fixed tie-breaking: the same mask, the same map
    if edge.any() and skeleton.any():
        d_sk, (iy, ix) = ndi.distance_transform_edt(~skeleton, return_indices=True)
        w_sk = rf + rf * np.exp(depth[iy[edge], ix[edge]] / depth_scale)
        w[edge] += w_sk * np.maximum(0.0, 1.0 - d_sk[edge] / radius)
    classes = np.select([gap, interior, edge], [1, 2, 3], 0).astype(np.uint8)
    return w.astype(np.float32), classes


def _closing(fg, size):
    """Binary closing with a ``size`` x ``size`` square; the border is extended by edge
    replication, so structures are not closed against the image edge."""
    if size < 2:
        return fg.copy()
    pad = size
    padded = np.pad(fg, pad, mode="edge")
    box = np.ones((size, size), bool)
    closed = ndi.binary_erosion(ndi.binary_dilation(padded, box), box)
    return closed[pad:-pad, pad:-pad]


# --------------------------------------------------------------------------- focal loss
