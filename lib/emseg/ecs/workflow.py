"""ECS-Net workflows: train a variant, predict ECS probabilities, score them, segment a folder.

The functions behind example 4, ``python -m emseg ecs ...`` and ``bench/bench_ecs.py``,
so that the three do the same thing::

    train = ecs_phantom((4, 256, 256), seed=0)
    val = ecs_phantom((1, 256, 256), seed=1)
    model, history = train_ecs(train, val, preset="cpu", variant="ecsnet", output_dir="runs/ecs")
    prob = predict_ecs(model, val.image)                       # (z, y, x) float32 in [0, 1]
    scores = evaluate_ecs(val.labels, prob, voxel_size=val.voxel_size)   # Dice, IoU, ..., HD95 (nm)
    segment_ecs(model, "my_sections/", "result/")             # <name>_probability.tif, _labels.tif

Training is :func:`emseg.train.fit` (the one loop) with ``PRESETS["ecsnet-<preset>"]``;
the variant is one of :data:`emseg.models.ecsnet.ABLATIONS` (``unet``, ``shape``,
``contrastive``, ``ecsnet``). Shape weights (:func:`emseg.losses.shape_weight_map`) are
computed once per training volume when the variant uses them and the volume has none.
"""
import dataclasses
import time
from pathlib import Path

import numpy as np

from emseg.atomic import check_output
from emseg._validate import check_mask
from emseg.data import Volume, zscore
from emseg.data.io import binary_labels

__all__ = ["ecs_preset", "with_shape_weights", "train_ecs", "predict_ecs", "ecs_mask",
           "evaluate_ecs", "segment_ecs", "write_results"]


def ecs_preset(preset="cpu"):
    """``PRESETS["ecsnet-" + preset]`` (``'cpu'`` or ``'original'``), with a clear error."""
    from emseg.train import PRESETS
    key = f"ecsnet-{preset}"
    if key not in PRESETS:
        raise ValueError(f"unknown ECS-Net preset {preset!r}; choose 'cpu' (small, for a laptop) "
                         f"or 'original' (the paper's; use a GPU)")
    return PRESETS[key]


def _volumes(data, name):
    """A list of Volumes with binary labels from a Volume, an (image, labels) pair or a list."""
    if isinstance(data, Volume) or (isinstance(data, (tuple, list)) and len(data) in (2, 3)
                                    and hasattr(data[0], "ndim")):
        data = [data]
    out = []
    for i, item in enumerate(data):
        vol = item if isinstance(item, Volume) else Volume(*[np.asarray(a) for a in item],
                                                           name=f"{name}[{i}]")
        if vol.labels is None:
            raise ValueError(f"{name} volume {vol.name or i} has no labels; ECS training and "
                             "evaluation need binary ECS masks")
        check_mask(vol.labels, name=f"{name} labels of {vol.name or i}", ndim=(3,))
        out.append(vol)
    if not out:
        raise ValueError(f"{name} is empty: give at least one volume")
    return out


def with_shape_weights(volumes):
    """The volumes with ECS-Net's shape weights as ``weights`` (kept where already there)."""
    from emseg.losses import shape_weight_map
    return [v if v.weights is not None else dataclasses.replace(v, weights=shape_weight_map(v.labels))
            for v in _volumes(volumes, "train")]


def train_ecs(train, val=None, *, preset="cpu", variant="ecsnet", iterations=None, seed=0,
              output_dir=None, overwrite=False, device=None, progress=False, config_changes=None,
              **model_options):
    """Train one ECS-Net variant with the one training loop.

    Parameters
    ----------
    train, val : Volume or list of Volume
        Training and validation data with binary ECS labels (1 = ECS), (z, y, x)
        (e.g. :func:`emseg.data.phantoms.ecs`, :func:`emseg.data.read_image_label_folder`).
    preset : {'cpu', 'original'}
        ``PRESETS['ecsnet-cpu']`` (width 8, 128 x 128 windows) or ``'ecsnet-original'``.
    variant : str
        A key of :data:`emseg.models.ecsnet.ABLATIONS`: ``'unet'`` (one stage, focal
        loss), ``'shape'`` (+ shape-aware weights), ``'contrastive'`` (+ contrastive
        loss), ``'ecsnet'`` (+ the cascade: the full ECS-Net).
    iterations : int, optional
        Override the preset's number of iterations.
    seed : int
        Seeds the initial weights (``torch.manual_seed``) and the training windows.
    output_dir : str or Path, optional
        Checkpoints and history (see :func:`emseg.train.fit`); with ``val``, the best
        checkpoint (highest validation MIoU of background and ECS) is returned.
    overwrite : bool
        Replace an earlier run in ``output_dir`` (by default that is refused, so no
        trained network is lost; the notebook passes True to re-run).
    device : str, optional
        None: CUDA if available, else CPU.
    progress : bool
        Show the progress bar.
    config_changes : dict, optional
        Other :class:`~emseg.train.TrainConfig` settings of the run, e.g.
        ``{"cpu_bf16": False}`` for float32 training on a CPU with bfloat16.
    **model_options
        Other ECSNet options (e.g. ``width=16``), over the preset's and the variant's.

    Returns
    -------
    tuple
        ``(model, history)``: the trained ECSNet (best checkpoint when validated and
        saved) and the :func:`~emseg.train.fit` history, with ``seconds_total``.

    Raises
    ------
    ValueError
        For an unknown preset or variant, labels that are not binary, or a training
        image smaller than one training window.
    """
    from emseg.checkpoint import load_model
    from emseg.models.ecsnet import ABLATIONS
    from emseg.train import fit

    chosen = ecs_preset(preset)
    if variant not in ABLATIONS:
        raise ValueError(f"unknown variant {variant!r}; choose one of {', '.join(ABLATIONS)}")
    kwargs = {**ABLATIONS[variant], **model_options}
    model, config = chosen.build(2, seed=seed, iterations=iterations, model_options=kwargs,
                                 **(config_changes or {}))
    trains = _volumes(train, "train")
    vals = _volumes(val, "val") if val is not None else []
    window = tuple(config.window)
    for v in trains:
        if any(s < w for s, w in zip(v.image.shape[1:], window)):
            raise ValueError(f"training image {v.name or ''} is {v.image.shape[1]}x{v.image.shape[2]} "
                             f"pixels, smaller than one {window[0]}x{window[1]} training window; use "
                             f"larger images or a smaller window")
    if kwargs.get("shape_loss", True):
        trains = with_shape_weights(trains)
    else:
        trains = [dataclasses.replace(v, weights=None) for v in trains]
    t0 = time.perf_counter()
    history = fit(model, trains, vals or None, config=config, output_dir=output_dir,
                  overwrite=overwrite, device=device, progress=progress)
    history["seconds_total"] = time.perf_counter() - t0
    best = None if output_dir is None else Path(output_dir) / "checkpoints" / "best.pt"
    if vals and best is not None and best.exists():
        model = load_model(best, device=device)
    return model, history


def predict_ecs(model, image, *, window=None, overlap=0.25, device=None, precision="auto",
                progress=False):
    """ECS probability of an image or volume by overlapping tiles (:func:`emseg.infer.predict`).

    ``image`` is (y, x) or (z, y, x), z-scored as in training; the result is float32
    of the same shape, values in [0, 1] (stage 2's sigmoid for ECS-Net). Images
    smaller than one window are reflection-padded by the tiler. ``precision`` as in
    :func:`emseg.infer.predict`.
    """
    from emseg.infer import predict
    probs = predict(model, image, window=window, overlap=overlap, output="probabilities",
                    device=device, precision=precision, progress=progress)
    if probs.shape[0] != 2:
        raise ValueError(f"predict_ecs needs a two-class (background, ECS) network, got "
                         f"{probs.shape[0]} classes")
    return probs[1]


def ecs_mask(prediction, *, threshold=0.5, name="prediction"):
    """An ECS prediction or mask as a bool mask: the one reading of "ECS probabilities or
    a binary mask" (:func:`evaluate_ecs`, ``python -m emseg ecs evaluate|quantify``).

    Parameters
    ----------
    prediction : array_like
        ECS probabilities (floats in [0, 1], thresholded at ``threshold``), or a binary
        mask: bool, 0/1, or 0/255 as most painting tools save masks.
    threshold : float
        Probability above which a pixel is ECS.
    name : str
        What the array is (a file name, say), for the messages.

    Returns
    -------
    numpy.ndarray of bool

    Raises
    ------
    ValueError
        For floats outside [0, 1] (or not finite) and for masks with other values.

    Examples
    --------
    >>> ecs_mask(np.array([[0.2, 0.7]])).tolist(), ecs_mask(np.array([[0, 255]])).tolist()
    ([[False, True]], [[False, True]])
    """
    p = np.asarray(prediction)
    if np.issubdtype(p.dtype, np.floating) and not np.all(np.isin(np.unique(p), (0, 1))):
        if not np.all(np.isfinite(p)) or p.min() < 0 or p.max() > 1:
            raise ValueError(f"{name} holds floats outside [0, 1]: give ECS probabilities or a "
                             f"binary mask")
        p = p > threshold
    elif p.size:
        p = binary_labels(p, name)  # 0/1, 0/255 or bool, else an error naming the values
    return check_mask(p, name=name)  # (y, x) or (z, y, x), not empty


def evaluate_ecs(true, prediction, *, threshold=0.5, voxel_size=None):
    """Dice, IoU, precision, recall and HD95 of an ECS prediction.

    Parameters
    ----------
    true : array_like
        Binary ECS mask (y, x) or (z, y, x).
    prediction : array_like
        ECS probabilities (floats in [0, 1], thresholded at ``threshold``) or a binary mask.
    threshold : float
        Probability above which a pixel is ECS (original: 0.5).
    voxel_size : tuple of float, optional
        (z, y, x) or (y, x) nm: HD95 in nm (``hd95_nm``); otherwise in pixels (``hd95_px``).

    Returns
    -------
    dict
        :func:`emseg.metrics.binary_metrics` plus ``hd95_nm`` or ``hd95_px``.
    """
    from emseg.metrics import binary_metrics

    t = check_mask(true, name="true")
    p = ecs_mask(prediction, threshold=threshold, name="prediction")
    if p.shape != t.shape:
        raise ValueError(f"prediction shape {p.shape} does not match the labels' {t.shape}")
    spacing = (1.0, 1.0) if voxel_size is None else tuple(float(v) for v in voxel_size)[-2:]
    out = binary_metrics(t, p, spacing=spacing)
    out["hd95_px" if voxel_size is None else "hd95_nm"] = out["hd95"]
    return out


def segment_ecs(model, images, output, *, window=None, overlap=0.25, threshold=0.5, device=None,
                overwrite=False, progress=False):
    """Segment EM sections and write ``<name>_probability.tif`` and ``<name>_labels.tif`` per input.

    The counterpart of the original's ``result/`` folder (there: 8-bit PNG tiles stitched
    onto a fixed canvas; here: whole sections by overlapping tiles, float32 probability
    and uint8 0/1 labels).

    Parameters
    ----------
    model : ECSNet
        A trained network (e.g. ``emseg.checkpoint.load_model("best.pt")``).
    images : str or Path or list
        A TIFF/PNG file, a folder of them (each file one section or stack), or a list
        of paths. Each image is z-scored, as in training.
    output : str or Path
        The results folder (created).
    window, overlap, threshold, device, progress
        See :func:`predict_ecs` and :func:`write_results`.
    overwrite : bool
        Replace results that exist in ``output`` (by default refused before any image is
        segmented). A result never replaces one of the input images.

    Returns
    -------
    list of dict
        Per input: ``name``, ``probability`` and ``labels`` paths, ``shape``, ``seconds``.
    """
    from emseg.data.io import SLICE_SUFFIXES, list_image_files, read_image_file

    if isinstance(images, (str, Path)):
        src = Path(images)
        if not src.exists():
            raise FileNotFoundError(f"{src} does not exist: give an image file or a folder of "
                                    f"{'/'.join(SLICE_SUFFIXES)} images")
        files = [src] if src.is_file() else list_image_files(src)
        if not files:
            raise ValueError(f"{src} holds no {'/'.join(SLICE_SUFFIXES)} images")
    else:
        files = [Path(p) for p in images]
        if not files:
            raise ValueError("images is empty: give at least one image path")
    stems = [f.stem for f in files]
    twins = sorted({s for s in stems if stems.count(s) > 1})
    if twins:
        raise ValueError(f"several images share the name {twins[0]!r} (e.g. .tif and .png); their "
                         f"results <name>_probability.tif would overwrite each other: rename them")
    for f in files:  # refuse before anything is computed or written
        for kind in ("probability", "labels"):
            check_output(Path(output) / f"{f.stem}_{kind}.tif", overwrite=overwrite,
                         inputs=files, what="result", how="overwrite=True (CLI: --overwrite)")
    done = []
    for f in files:
        img = read_image_file(f)
        if img.dtype == bool or not (np.issubdtype(img.dtype, np.integer)
                                     or np.issubdtype(img.dtype, np.floating)):
            raise ValueError(f"image {f.name} has dtype {img.dtype}; give grayscale numeric images")
        t0 = time.perf_counter()
        prob = predict_ecs(model, zscore(img.astype(np.float32)), window=window, overlap=overlap,
                           device=device, progress=progress)
        paths = write_results(output, prob[0] if prob.shape[0] == 1 else prob,
                              threshold=threshold, name=f.stem, overwrite=overwrite)
        done.append({"name": f.stem, **paths, "shape": tuple(img.shape),
                     "seconds": time.perf_counter() - t0})
    return done


def write_results(folder, probability, *, threshold=0.5, name="ecs", overwrite=False):
    """Save an ECS probability map and its thresholded labels as TIFFs (atomic writes).

    The counterpart of the original's ``result/`` folder: ``<name>_probability.tif``
    (float32, 0..1; the original wrote 8-bit PNGs of 255 x p per tile) and
    ``<name>_labels.tif`` (uint8, 1 = ECS where ``p > threshold``, else 0).

    Parameters
    ----------
    folder : str or Path
        Output folder (created if missing).
    probability : array_like
        ECS probability, (y, x) or (z, y, x), values in [0, 1]; or the (2, z, y, x)
        output of ``emseg.infer.predict`` with an ECSNet (class 1 is used). For a 2D
        prediction, pass ``predict(...)[1]``.
    threshold : float
        Probability above which a pixel is ECS (original: 0.5).
    name : str
        File name prefix.
    overwrite : bool
        Replace an existing file (by default an existing file is refused:
        nothing you made is replaced unless you ask).

    Returns
    -------
    dict
        ``{"probability": Path, "labels": Path}``.
    """
    from emseg.data.io import write_volume

    p = np.asarray(probability)
    if p.ndim == 4:
        if p.shape[0] != 2:
            raise ValueError(f"a 4D probability must be predict's (2, z, y, x) output, got {p.shape}")
        p = p[1]
    if p.ndim not in (2, 3) or p.size == 0 or not np.issubdtype(p.dtype, np.floating):
        raise ValueError(f"probability must be a float (y, x) or (z, y, x) ECS probability map, "
                         f"got dtype {p.dtype} and shape {p.shape}")
    if not np.all(np.isfinite(p)) or p.min() < 0 or p.max() > 1:
        raise ValueError("probability values must lie in [0, 1] (apply a sigmoid/softmax first)")
    if not 0 < threshold < 1:
        raise ValueError(f"threshold must be in (0, 1), got {threshold!r}")
    if not isinstance(name, str) or not name or "/" in name or "\\" in name:
        raise ValueError(f"name must be a plain file-name prefix, got {name!r}")
    folder = Path(folder)
    paths = {"probability": folder / f"{name}_probability.tif", "labels": folder / f"{name}_labels.tif"}
    for path in paths.values():  # refuse before writing either file
        check_output(path, overwrite=overwrite)
    write_volume(paths["probability"], p.astype(np.float32, copy=False), overwrite=overwrite)
    write_volume(paths["labels"], (p > threshold).astype(np.uint8), overwrite=overwrite)
    return paths
