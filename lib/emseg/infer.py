"""Sliding-window inference: predict whole volumes with any emseg network.

A volume is cut into overlapping windows that the network can take, each window's
softmax probabilities are weighted by a blending map and added into one
accumulator the size of the volume, and the sum is divided by the summed weights::

    probs = predict(model, volume)                     # (C, z, y, x) float32
    labels = predict(model, volume, output="labels")   # (z, y, x) uint8

Window placement follows MONAI's ``sliding_window_inference``: along each axis the
output windows start every ``max(1, int(out * (1 - overlap)))`` voxels and the last
one ends flush with the volume, so the two can be compared window for window.
Unlike MONAI, the volume is reflection-padded first, so that valid-padded networks
(whose outputs are smaller than their inputs) predict every voxel, and volumes
smaller than one window work too.

2D networks (``window_ndim == 2``) go slice by slice; their windows are (1, y, x).
Images are used as given: normalise them (e.g. z-score) the way the network was
trained.

Speed: the network runs in mixed precision where that is fast (``precision="auto"``:
float16/bfloat16 on CUDA, bfloat16 on a CPU with native bfloat16, else float32; the
probabilities are always accumulated in float32), with its convolution weights stored
channels-last while it predicts, and under :func:`torch.inference_mode`. On the
project's CPU (AVX-512 BF16) bfloat16 changed the labels of trained networks on about
0.1 % of the voxels; ask for ``precision="float32"`` to reproduce float32 results.

A network trained at a working resolution (``model.working_scale``, from
``TrainConfig.scale``) gets the volume binned to that resolution, and its
probabilities are resampled back to the input grid (:mod:`emseg.resample`).
"""
import contextlib
import itertools
import math
from dataclasses import dataclass, replace

import numpy as np
import torch
from tqdm.auto import tqdm

from emseg._validate import check_image, check_positive_int, check_window_memory
from emseg._padding import reflect_pad
from emseg.device import channels_last, inference_dtype, pick_device
from emseg.models import window_geometry
from emseg.resample import check_scale, downscale, upscale_probabilities

__all__ = ["predict", "predict_ensemble", "window_starts", "blending_weights", "model_scale",
           "BLENDINGS", "OUTPUTS"]

BLENDINGS = ("gaussian", "distance", "constant")
OUTPUTS = ("probabilities", "labels")
GAUSSIAN_SIGMA_SCALE = 0.125  # sigma = 0.125 x window size per axis (MONAI's default)
GAUSSIAN_MIN_WEIGHT = 1e-3    # floor of the Gaussian map, as MONAI's, so no weight is ~0
_FLIPS = ((), (1,), (2,), (1, 2))  # test-time flips: none, y, x, y and x of a (z, y, x) volume


# --------------------------------------------------------------------------- public API

def predict(model, image, *, window=None, overlap=0.25, blending="gaussian", batch_size=4,
            output="probabilities", tta=False, scale=None, device=None, precision="auto",
            compile=False, progress=True):
    """Predict a whole image or volume with a segmentation network, window by window.

    Parameters
    ----------
    model : emseg.models.SegmentationNet
        The network (single input channel). It is run in eval mode and restored after.
    image : numpy.ndarray
        (z, y, x) volume or (y, x) image; finite, non-empty, normalised as in training.
    window : tuple of int, optional
        Input window: (y, x) or (1, y, x) for a 2D network, (z, y, x) for a 3D one, in
        voxels of the working resolution. Defaults to ``model.default_window``: for a
        network loaded from a checkpoint (:func:`emseg.checkpoint.load_model`), the window
        it was trained with.
    overlap : float or tuple of float
        Overlap of neighbouring OUTPUT windows as a fraction in [0, 1) of the output
        window, one value or one per axis ((z, y, x), or (y, x) for a 2D network).
    blending : {'gaussian', 'distance', 'constant'}
        Weight of each window's voxels where windows overlap: a Gaussian centred on the
        window (sigma = 0.125 x window size, as MONAI), the distance to the window's
        nearest edge, or equal weights. See :func:`blending_weights`.
    batch_size : int
        Windows per forward pass.
    output : {'probabilities', 'labels'}
        Return blended softmax probabilities or their argmax.
    tta : bool
        Flip test-time augmentation: average the probabilities of the image flipped
        along y, x, both and neither (4 full passes; up to 3 accumulators of memory).
    scale : int or tuple of int, optional
        Working resolution: bin the image by these factors (z, y, x) (see
        :func:`emseg.resample.check_scale`), predict, and resample the probabilities back
        to the image's grid. Default: ``model.working_scale``, the scale it was trained at.
    device : str or torch.device, optional
        Where the network runs and the accumulator lives; ``None`` picks CUDA when
        available, else the CPU. The network is moved there.
    precision : {'auto', 'float32', 'bfloat16', 'float16'}
        The network's arithmetic (see :func:`emseg.device.inference_dtype`): ``'auto'``
        is mixed precision on CUDA, bfloat16 on a CPU that computes it natively, else
        float32. Blending and the returned probabilities are float32 either way.
    compile : bool
        Run the network through :func:`torch.compile` (every batch padded to
        ``batch_size``, so one window shape compiles once). It pays off only for large
        volumes: on the project's 2-core CPU compiling took 60-90 s per network and the
        forward pass became 1.1-1.5x faster (bench/README.md).
    progress : bool
        Show a progress bar over batches of windows.

    Returns
    -------
    numpy.ndarray
        float32 probabilities (C, z, y, x) that sum to 1 over C, or uint8 labels
        (z, y, x) for ``output='labels'``; (C, y, x) / (y, x) for a 2D image.

    Raises
    ------
    ValueError
        For a bad image, option or window (the network says which window sizes fit).

    Examples
    --------
    >>> from emseg.models import UNet2D
    >>> net = UNet2D(3, width=4, depth=2)
    >>> predict(net, np.zeros((2, 30, 40)), window=(60, 60), progress=False).shape
    (3, 2, 30, 40)
    """
    volume, was_2d = _check_volume(image)
    opts = PredictOptions.check(window=window, overlap=overlap, blending=blending,
                          batch_size=batch_size, output=output, tta=tta, scale=scale,
                          device=device, precision=precision, compile=compile,
                          progress=progress)
    geom = check_model(model, opts)
    probs = _predict_probabilities(model, volume, geom, opts, desc="predict")
    return _finish(probs, opts.output, was_2d)


def predict_ensemble(models, image, **options):
    """Predict with several networks and average their probabilities (then argmax).

    As in the original 2D-3D ensembles: the mean, not the maximum, of the members'
    softmax probability volumes; ``output='labels'`` takes the argmax of that mean.

    Parameters
    ----------
    models : sequence of SegmentationNet
        Ensemble members, all with the same number of classes. Each uses ``window``
        when given, else its own default window, and ``scale`` when given, else its
        own working scale.
    image : numpy.ndarray
        (z, y, x) volume or (y, x) image.
    **options
        The keyword options of :func:`predict`.

    Returns
    -------
    numpy.ndarray
        As :func:`predict`.
    """
    unknown = set(options) - set(PredictOptions.__dataclass_fields__)
    if unknown:
        raise ValueError(f"unknown option(s) {sorted(unknown)} for predict_ensemble; "
                         f"use the options of predict: {sorted(PredictOptions.__dataclass_fields__)}")
    if hasattr(models, "predict_logits") or not hasattr(models, "__len__") or len(models) == 0:
        raise ValueError("models must be a non-empty list of networks; "
                         "for a single network use predict()")
    volume, was_2d = _check_volume(image)
    opts = PredictOptions.check(**options)
    geoms = [check_model(m, opts) for m in models]
    classes = {m.n_classes for m in models}
    if len(classes) != 1:
        raise ValueError(f"ensemble members predict different numbers of classes {sorted(classes)}; "
                         "ensemble networks trained for the same classes")
    total = None
    with torch.inference_mode():
        for k, (model, geom) in enumerate(zip(models, geoms)):
            probs = _predict_probabilities(model, volume, geom, opts,
                                           desc=f"model {k + 1}/{len(models)}")
            total = probs if total is None else total.add_(probs)
        total /= len(models)
    return _finish(total, opts.output, was_2d)


def window_starts(size, window, step):
    """Start positions of windows that cover ``range(size)``, MONAI's placement.

    Windows start at ``0, step, 2 * step, ...`` and the last one ends flush with
    ``size``. A window as large as ``size`` gives ``[0]``.

    Parameters
    ----------
    size : int
        Length to cover (>= ``window``).
    window : int
        Window length.
    step : int
        Distance between window starts (>= 1).

    Returns
    -------
    list of int

    Examples
    --------
    >>> window_starts(512, 256, 192)
    [0, 192, 256]
    """
    size, window, step = int(size), int(window), int(step)
    if window < 1 or step < 1 or size < window:
        raise ValueError(f"need 1 <= window <= size and step >= 1, got size={size}, "
                         f"window={window}, step={step}")
    return list(range(0, size - window, step)) + [size - window]


def blending_weights(shape, *, blending="gaussian"):
    """Per-voxel weights of one output window, for blending overlapping windows.

    Parameters
    ----------
    shape : tuple of int
        Output window shape, e.g. (z, y, x).
    blending : {'gaussian', 'distance', 'constant'}
        * ``'gaussian'``: product over axes of ``exp(-d**2 / (2 sigma**2))`` with ``d`` the
          distance to the window centre and ``sigma = 0.125 * size``, floored at
          ``max(min, 1e-3)`` (MONAI's ``compute_importance_map`` with its defaults);
        * ``'distance'``: 1 + the distance (in voxels) to the nearest window face,
          over the axes longer than one voxel;
        * ``'constant'``: ones.

    Returns
    -------
    numpy.ndarray
        float32 array of ``shape``, all weights > 0.
    """
    shape = tuple(int(s) for s in shape)
    if not shape or min(shape) < 1:
        raise ValueError(f"the window shape must be positive sizes, got {shape}")
    if blending not in BLENDINGS:
        raise ValueError(f"unknown blending {blending!r}; choose one of {BLENDINGS}")
    if blending == "constant":
        return np.ones(shape, np.float32)
    if blending == "gaussian":
        weights = np.ones((1,) * len(shape))
        for axis, n in enumerate(shape):
            d = np.arange(n) - (n - 1) / 2
            profile = np.exp(-d ** 2 / (2 * (GAUSSIAN_SIGMA_SCALE * n) ** 2))
            weights = weights * _along(profile, axis, len(shape))
        return np.maximum(weights, max(weights.min(), GAUSSIAN_MIN_WEIGHT)).astype(np.float32)
    weights = np.full(shape, np.inf)
    for axis, n in enumerate(shape):
        if n > 1:
            to_edge = np.minimum(np.arange(n), np.arange(n)[::-1])
            weights = np.minimum(weights, _along(to_edge, axis, len(shape)))
    weights = np.where(np.isinf(weights), 0.0, weights) + 1.0
    return weights.astype(np.float32)


# --------------------------------------------------------------------------- argument checks

@dataclass(frozen=True)
class PredictOptions:
    """The checked keyword options shared by :func:`predict`, :func:`predict_ensemble` and
    blockwise prediction (:mod:`emseg.blockwise`); build it with :meth:`check`."""
    window: tuple = None
    overlap: tuple = (0.25,)
    blending: str = "gaussian"
    batch_size: int = 4
    output: str = "probabilities"
    tta: bool = False
    scale: tuple = None  # None: each model's own working_scale
    device: object = None
    precision: str = "auto"
    compile: bool = False
    progress: bool = True

    @classmethod
    def check(cls, *, window=None, overlap=0.25, blending="gaussian", batch_size=4,
              output="probabilities", tta=False, scale=None, device=None, precision="auto",
              compile=False, progress=True):
        """Check every option early and return them as one object."""
        device = pick_device(device)
        inference_dtype(device, precision)  # an unknown or unavailable precision says so now
        if blending not in BLENDINGS:
            raise ValueError(f"unknown blending {blending!r}; choose one of {BLENDINGS}")
        if output not in OUTPUTS:
            raise ValueError(f"unknown output {output!r}; choose one of {OUTPUTS}")
        return cls(window=_check_window(window), overlap=_check_overlap(overlap),
                   blending=blending, batch_size=check_positive_int(batch_size, name="batch_size"),
                   output=output, tta=bool(tta),
                   scale=None if scale is None else check_scale(scale),
                   device=device, precision=precision, compile=bool(compile),
                   progress=bool(progress))


def _check_window(window):
    if window is None:
        return None
    if np.isscalar(window) or not all(isinstance(s, (int, np.integer)) and not isinstance(s, bool)
                                      and s >= 1 for s in window):
        raise ValueError(f"window must be a tuple of positive integers ((y, x) or (z, y, x)), "
                         f"got {window!r}")
    return tuple(int(s) for s in window)


def _check_overlap(overlap):
    values = (overlap,) if np.isscalar(overlap) or not hasattr(overlap, "__len__") else tuple(overlap)
    ok = len(values) in (1, 2, 3) and all(
        isinstance(o, (int, float, np.integer, np.floating)) and not isinstance(o, bool)
        and 0 <= o < 1 for o in values)
    if not ok:
        raise ValueError(f"overlap must be a fraction in [0, 1) of the output window, or one per "
                         f"axis ((z, y, x), or (y, x) for a 2D network), got {overlap!r}")
    return tuple(float(o) for o in values)


def _check_volume(image):
    """Return the image as a float32 (z, y, x) volume and whether it was 2D."""
    arr = check_image(image, ndim=(2, 3))
    was_2d = arr.ndim == 2
    return np.asarray(arr[None] if was_2d else arr, dtype=np.float32), was_2d


def check_model(model, opts):
    """Check that ``model`` fits the options and return its window :class:`Geometry`."""
    for attr in ("window_ndim", "n_classes", "output_window", "predict_logits"):
        if not hasattr(model, attr):
            raise ValueError(f"model must be an emseg SegmentationNet (it lacks {attr!r})")
    if getattr(model, "in_channels", 1) != 1:
        raise ValueError(f"predict takes single-channel images, but the model has "
                         f"{model.in_channels} input channels")
    if len(opts.overlap) == 2 and model.window_ndim != 2:
        raise ValueError(f"a 3D network needs one overlap or one per axis (z, y, x), got {opts.overlap}")
    check_scale(model_scale(model, opts), ndim=model.window_ndim)
    geometry = window_geometry(model, opts.window)
    check_window_memory(geometry.input, opts.batch_size)
    return geometry


def model_scale(model, opts):
    """The working scale (z, y, x) ``model`` predicts at: ``opts.scale`` or its own.

    Parameters
    ----------
    model : SegmentationNet
        The network (its ``working_scale``, from training, is the default).
    opts : object
        The checked options of :func:`predict` (``opts.scale`` None: the network's own).

    Returns
    -------
    tuple of int
    """
    return opts.scale if opts.scale is not None else \
        check_scale(getattr(model, "working_scale", None))  # the model's ValueError says which sizes fit


def overlap_zyx(overlap):
    """Overlap per volume axis (z, y, x); a (y, x) pair means no z overlap (2D networks)."""
    if len(overlap) == 1:
        return overlap * 3
    return overlap if len(overlap) == 3 else (0.0,) + overlap


# --------------------------------------------------------------------------- tiling

@dataclass(frozen=True)
class _Plan:
    """How one volume is padded and cut into windows.

    ``grid`` is the region the output windows tile: the volume plus, on axes where it
    is smaller than one output window, extra reflected voxels. ``pad`` pads the volume
    so that the input window of the output window starting at grid position ``s``
    starts at ``s`` in the padded volume. ``crop`` is the volume inside the grid.
    """
    pad: tuple
    grid: tuple
    crop: tuple
    starts: list

    @classmethod
    def make(cls, shape, geom, overlap):
        pad, grid, crop, axis_starts = [], [], [], []
        for size, inp, out, off, ov in zip(shape, geom.input, geom.output, geom.offset,
                                           overlap_zyx(overlap)):
            extra = max(0, out - size)
            low = extra // 2
            pad.append((off + low, inp - out - off + extra - low))
            grid.append(size + extra)
            crop.append(slice(low, low + size))
            axis_starts.append(window_starts(size + extra, out, max(1, int(out * (1 - ov)))))
        return cls(tuple(pad), tuple(grid), tuple(crop), list(itertools.product(*axis_starts)))

    def n_batches(self, batch_size):
        return math.ceil(len(self.starts) / batch_size)


def _predict_probabilities(model, volume, geom, opts, *, desc):
    """Blended probabilities (C, z, y, x) of one model on ``opts.device``, with TTA if asked,
    at the model's working scale and resampled back to the volume's grid."""
    scale = model_scale(model, opts)
    if scale != (1, 1, 1):
        small = downscale(volume, scale)
        probs = _predict_probabilities(model, small, geom, replace(opts, scale=(1, 1, 1)), desc=desc)
        return upscale_probabilities(probs, volume.shape, scale)
    plan = _Plan.make(volume.shape, geom, opts.overlap)
    weights = blending_weights(geom.output, blending=opts.blending)
    weight_sum = torch.from_numpy(_weight_sum(plan, weights)).to(opts.device)
    weights = torch.from_numpy(weights).to(opts.device)
    model.to(opts.device)
    flips = _FLIPS if opts.tta else ((),)
    with _eval_mode(model), _channels_last(model), torch.inference_mode(), \
            tqdm(total=len(flips) * plan.n_batches(opts.batch_size), desc=desc, unit="batch",
                 disable=not opts.progress) as bar:
        total = None
        for axes in flips:
            flipped = np.flip(volume, axes) if axes else volume
            probs = _tile(model, flipped, geom, plan, weights, opts, bar)
            probs /= weight_sum
            probs = probs[(slice(None),) + plan.crop]
            if axes:
                probs = probs.flip([a + 1 for a in axes])
            total = probs if total is None else total.add_(probs)
        if len(flips) > 1:
            total /= len(flips)
    return total


def _tile(model, volume, geom, plan, weights, opts, bar):
    """Sum of the weighted window probabilities over the plan's grid, (C, *grid), unnormalised."""
    device = opts.device
    padded = torch.from_numpy(reflect_pad(volume, plan.pad)).to(device)
    acc = torch.zeros((model.n_classes,) + plan.grid, dtype=torch.float32, device=device)
    batch = torch.zeros((opts.batch_size,) + geom.input, dtype=torch.float32, device=device)
    forward = torch.compile(model.predict_logits) if opts.compile else model.predict_logits
    dtype = inference_dtype(device, opts.precision)  # None: float32
    for first in range(0, len(plan.starts), opts.batch_size):
        starts = plan.starts[first:first + opts.batch_size]
        windows = torch.stack([padded[_box(s, geom.input)] for s in starts], out=batch[:len(starts)])
        if opts.compile:  # always the full batch (the rest ignored): one shape, one compilation
            windows = batch
        probs = _window_probabilities(forward, model, windows[:, None], geom, device, dtype)
        for p, s in zip(probs, starts):  # in place: no per-window temporaries
            acc[(slice(None),) + _box(s, geom.output)].addcmul_(p, weights)
        bar.update(1)
    return acc


def _window_probabilities(forward, model, batch, geom, device, dtype):
    """Softmax (float32) of the main logits (``forward``: the model's ``predict_logits``,
    possibly compiled; autocast to ``dtype`` unless None) for a batch of (N, 1, z, y, x)
    windows."""
    x = batch[:, :, 0] if model.window_ndim == 2 else batch
    with torch.autocast(device.type, dtype=dtype) if dtype is not None \
            else contextlib.nullcontext():
        logits = forward(x)
    if model.window_ndim == 2:
        logits = logits.unsqueeze(2)
    want = (len(batch), model.n_classes) + tuple(geom.output)
    if tuple(logits.shape) != want:
        raise RuntimeError(f"the model returned logits of shape {tuple(logits.shape)} where its "
                           f"output_window promised {want}; fix the model's output_window")
    return torch.softmax(logits.float(), dim=1)


def _weight_sum(plan, weights):
    """Sum of the blending weights of all windows over the grid (> 0 everywhere), numpy.

    Summed on the host: many small additions are cheaper there than as torch ops.
    """
    total = np.zeros(plan.grid, np.float32)
    for s in plan.starts:
        total[_box(s, weights.shape)] += weights
    return total


def _finish(probs, output, was_2d):
    """Device probabilities (C, z, y, x) -> the numpy result that :func:`predict` returns."""
    if output == "labels":
        if probs.shape[0] > 256:
            raise ValueError(f"uint8 labels hold at most 256 classes, the model has {probs.shape[0]}; "
                             "use output='probabilities' and argmax yourself")
        result = probs.argmax(0).to(torch.uint8).cpu().numpy()
    else:
        result = probs.contiguous().cpu().numpy()
    return result[..., 0, :, :] if was_2d else result


@contextlib.contextmanager
def _eval_mode(model):
    """Put ``model`` in eval mode, restoring its training flag afterwards."""
    was_training = model.training
    model.eval()
    try:
        yield
    finally:
        model.train(was_training)


@contextlib.contextmanager
def _channels_last(model):
    """Store ``model``'s 4D and 5D weights channels-last while it predicts (convolutions
    then run in that layout: 1.2-1.5x faster for the 2D and 2D-3D nets on the project's
    CPU, bench/README.md); the original tensors are put back afterwards."""
    changed = channels_last(model)
    try:
        yield
    finally:
        for t, data in changed:
            t.data = data


def _box(start, shape):
    """Slices of the box of ``shape`` at ``start``."""
    return tuple(slice(s, s + n) for s, n in zip(start, shape))


def _along(values, axis, ndim):
    """Reshape a 1D array to lie along ``axis`` of an ``ndim``-D array."""
    return np.reshape(values, [-1 if a == axis else 1 for a in range(ndim)])
