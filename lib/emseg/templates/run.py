"""Train and predict from a config: the network and TrainConfig a config describes
(:func:`build_from_config`), :func:`train_from_config` on its data folder and
:func:`predict_from_config` on its test folder (see :mod:`emseg.templates`)."""
import dataclasses
import re
import time
from pathlib import Path

import numpy as np

from emseg.data.io import legacy_layout, read_folder_pair
from emseg.templates.schema import NONE, ConfigError, RunConfig, dump_config, load_config, suggest

__all__ = ["build_from_config", "train_from_config", "predict_from_config"]


def _split_volumes(config, split, *, labels=True):
    """The volumes of ``<folder>/<split>``, checked against ``data.n_classes``."""
    root = config.resolve(config.data.folder) / split
    x, y = legacy_layout(root)
    vols = read_folder_pair(root / x, root / y if labels else None,
                            label_values=config.data.label_values)
    for vol in vols:
        if vol.labels is not None and int(vol.labels.max()) >= config.data.n_classes:
            hint = (" or list the raw values in data.label_values (e.g. [0, 255])"
                    if config.data.label_values is None else "")
            raise ConfigError(f"labels of {split}/{vol.name} go up to {int(vol.labels.max())}, "
                              f"but data.n_classes = {config.data.n_classes}: set n_classes{hint}",
                              path=config.path)
    return vols


def _model_class(name, config=None):
    from emseg.models import model_class
    try:
        return model_class(name)
    except ValueError as err:
        raise ConfigError(str(err), path=getattr(config, "path", None)) from None


def build_from_config(config):
    """The network and :class:`~emseg.train.TrainConfig` a config describes.

    Returns
    -------
    (SegmentationNet, TrainConfig)
    """
    import torch
    from emseg.augment import AugmentConfig
    from emseg.models import model_options
    from emseg.train import PRESETS, TrainConfig

    t = config.train
    name, kwargs, base = config.model.name, {}, TrainConfig()
    if t.preset is not None:
        if t.preset not in PRESETS:
            raise ConfigError(f"unknown preset {t.preset!r}; choose one of {sorted(PRESETS)}",
                              path=config.path)
        preset = PRESETS[t.preset]
        kwargs, base = dict(preset.model_kwargs), preset.config
        if name is None or _model_class(name, config) is _model_class(preset.model, config):
            name = preset.model
        else:
            kwargs = {}  # another network: the preset's network options do not apply
    kwargs.update(config.model.options)
    cls = _model_class(name, config)
    accepted = list(model_options(cls))
    for key in kwargs:
        if key not in accepted:
            raise ConfigError(f"[model] option {key!r} is not an option of {cls.__name__}"
                              f"{suggest(key, accepted)}; its options are "
                              f"{', '.join(a for a in accepted if a != 'n_classes')}",
                              path=config.path, line=config.lines.get(("model", key)))
    torch.manual_seed(t.seed)  # the same config builds the same initial weights
    try:
        model = cls(n_classes=config.data.n_classes, **kwargs)
    except (TypeError, ValueError) as err:
        raise ConfigError(f"[model] {cls.__name__}: {err}", path=config.path) from None
    changes = {f.name: getattr(t, f.name) for f in dataclasses.fields(TrainConfig)
               if f.name != "augment" and getattr(t, f.name, None) is not None}
    changes = {k: None if v == NONE else v for k, v in changes.items()}  # "none": cleared
    if isinstance(t.augment, dict):  # the given fields change the preset's augmentation
        changes["augment"] = dataclasses.replace(base.augment or AugmentConfig(), **t.augment)
    elif t.augment is not None:  # true: the preset's augmentation (else the defaults)
        changes["augment"] = (dataclasses.replace(base.augment or AugmentConfig())
                              if t.augment else None)
    if t.organelle_classes is None and base.organelle_classes is not None \
            and config.data.n_classes != 7:
        changes["organelle_classes"] = None  # the presets' organelles are the platelet classes
    return model, _checked_train_config(base.replace(**changes), model, config)


def _checked_train_config(train_config, model, config):
    """``train_config`` if :func:`emseg.train.fit` will accept it, else a ConfigError
    naming the ``[train]`` key and its line (before any data are read)."""
    from emseg.resample import check_scale
    from emseg.train import check_config

    def fail(err, key):
        raise ConfigError(str(err), path=config.path,
                          line=config.lines.get(("train", key))) from None

    try:
        check_config(train_config)
    except ValueError as err:  # its messages name config.<field>
        key = m[1] if (m := re.search(r"config\.(\w+)", str(err))) else None
        fail(re.sub(r"config\.(\w+)", r"train.\1", str(err), count=1), key)
    try:
        check_scale(train_config.scale, ndim=model.window_ndim)
    except ValueError as err:
        fail(f"train.scale: {err}", "scale")
    return train_config


# --------------------------------------------------------------------------- train / predict

def _as_config(config):
    if isinstance(config, RunConfig):
        return config
    if isinstance(config, (str, Path)):
        return load_config(config)
    raise TypeError(f"config must be a RunConfig or the path of a .toml file, got "
                    f"{type(config).__name__}")


def train_from_config(config, *, device=None, progress=True):
    """Train the network a config describes on its data folder.

    Parameters
    ----------
    config : RunConfig or str or Path
        A config, or the path of a TOML file (or a template name).
    device : str or torch.device, optional
        Default: CUDA if available, else CPU.
    progress : bool
        Show the training progress bar.

    Returns
    -------
    dict
        ``output`` (the run folder), ``checkpoint`` (``best.pt``, or ``last.pt`` without
        validation), ``history`` (as :func:`emseg.train.fit` returns it), ``metrics``
        (what ``metrics.json`` holds).

    Notes
    -----
    Writes into ``train.output``: ``checkpoints/best.pt`` and ``last.pt``,
    ``history.json`` (by :func:`emseg.train.fit`), ``metrics.json`` (final loss, last
    and best validation scores, time, parameter count), ``training-curve.png``
    (:func:`emseg.plot.plot_history`) and ``config.toml`` (the config as used).
    Validation (``data.validation``): ``auto`` uses ``val/`` when present, else none.
    """
    from emseg.atomic import write_json
    from emseg.device import describe, pick_device
    from emseg.models import count_parameters, window_geometry
    from emseg.plot import plot_history
    from emseg.train import fit

    config = _as_config(config)
    device = pick_device(device)
    model, train_config = build_from_config(config)
    window_geometry(model, train_config.window)  # a window that does not fit fails now
    train = _split_volumes(config, "train")
    val_split = _validation_split(config)
    val = _split_volumes(config, val_split) if val_split else None
    out = config.resolve(config.train.output)
    t0 = time.perf_counter()
    history = fit(model, train, val, config=train_config, output_dir=out,
                  resume=config.train.resume, overwrite=config.train.overwrite, device=device,
                  progress=progress)
    dump_config(config.override({"data": {"folder": str(config.resolve(config.data.folder))},
                                 "train": {"output": str(out)}}), out / "config.toml")
    plot_history(history, out / "training-curve.png", title=model.spec()["name"],
                 overwrite=True)  # the run folder's own figure (fit checked the folder)
    losses = history["loss"]
    metrics = {
        "model": model.spec(), "parameters": count_parameters(model),
        "iterations": history["iteration"][-1] if history["iteration"] else 0,
        "final_loss": losses[-1] if losses else None,
        "mean_loss_last_10": float(np.mean(losses[-10:])) if losses else None,
        "validation_split": val_split,
        "last_validation": history["val"][-1] if history["val"] else None,
        "best_validation": max(history["val"], key=lambda v: v["miou_all"])
        if history["val"] else None,
        "seconds": time.perf_counter() - t0, "device": describe(device),
        "train_volumes": {v.name: list(v.shape) for v in train},
    }
    write_json(out / "metrics.json", metrics)
    best = out / "checkpoints" / "best.pt"
    return {"output": out, "checkpoint": best if best.exists() else out / "checkpoints/last.pt",
            "history": history, "metrics": metrics}


def _validation_split(config):
    choice = config.data.validation
    if choice == "none":
        return None
    if choice == "auto":
        return "val" if (config.resolve(config.data.folder) / "val").is_dir() else None
    return choice


def predict_from_config(config, *, device=None, progress=True, overwrite=False):
    """Predict the test folder with the trained network; write TIFFs and metrics.

    Parameters
    ----------
    config : RunConfig or str or Path
        A config, or the path of a TOML file.
    device : str or torch.device, optional
        Default: CUDA if available, else CPU.
    progress : bool
        Show progress bars.
    overwrite : bool
        Replace the results of an earlier prediction in the output folder (by default
        refused before anything is predicted; CLI: ``--overwrite``).

    Returns
    -------
    dict
        ``output`` (folder), ``checkpoint``, ``predictions`` (``{name: path}``) and
        ``metrics`` (what ``metrics.json`` holds; reports only where labels exist).

    Notes
    -----
    For each volume of ``<data.folder>/<predict.split>/images`` it writes
    ``<name>-prediction.tif`` (uint8 class ids) and, with ``predict.probabilities``,
    ``<name>-probabilities.tif`` (float32, class first). When ``y`` exists,
    ``metrics.json`` holds :func:`emseg.metrics.segmentation_report` per volume and
    over all volumes together (``overall``).
    """
    from emseg.atomic import check_output, write_json
    from emseg.data import write_volume
    from emseg.infer import predict
    from emseg.checkpoint import load_checkpoint, model_from_checkpoint
    from emseg.metrics import report_from_confusion, segmentation_report

    config = _as_config(config)
    p = config.predict
    run = config.resolve(config.train.output)
    ckpt = config.resolve(p.checkpoint) if p.checkpoint else run / "checkpoints" / "best.pt"
    if not p.checkpoint and not ckpt.exists():
        ckpt = run / "checkpoints" / "last.pt"
    if not ckpt.exists():
        raise FileNotFoundError(f"no checkpoint at {ckpt}: train first (train_from_config) or "
                                f"set [predict] checkpoint")
    saved = load_checkpoint(ckpt)
    model = model_from_checkpoint(saved, device=device)
    # by default the network's own window: the one it was trained with (load_model's rule)
    window = p.window
    split_dir = config.resolve(config.data.folder) / p.split
    x, y = legacy_layout(split_dir)
    vols = _split_volumes(config, p.split, labels=(split_dir / y).is_dir())
    out = config.resolve(p.output) if p.output else run / "predictions"
    sources = [f for kind in (x, y) if (split_dir / kind).is_dir()
               for f in (split_dir / kind).iterdir()]
    how = "overwrite=True (CLI: --overwrite)"
    for vol in vols:  # refuse before anything is predicted
        for kind in ("prediction", "probabilities")[:2 if p.probabilities else 1]:
            check_output(out / f"{vol.name}-{kind}.tif", overwrite=overwrite, inputs=sources,
                         what="result", how=how)
    check_output(out / "metrics.json", overwrite=overwrite, inputs=sources, what="result", how=how)
    n, names = config.data.n_classes, config.data.class_names
    paths, reports, total = {}, {}, np.zeros((n, n), np.int64)
    t0 = time.perf_counter()
    for vol in vols:
        probs = predict(model, vol.image, window=window, overlap=p.overlap,
                        blending=p.blending, batch_size=p.batch_size, tta=p.tta,
                        precision=p.precision, device=device, progress=progress)
        pred = np.argmax(probs, axis=0).astype(np.uint8)
        paths[vol.name] = write_volume(out / f"{vol.name}-prediction.tif", pred,
                                       overwrite=overwrite)
        if p.probabilities:
            write_volume(out / f"{vol.name}-probabilities.tif", probs, overwrite=overwrite)
        if vol.labels is not None:
            reports[vol.name] = segmentation_report(vol.labels, pred, n_classes=n,
                                                    class_names=names)
            total += np.asarray(reports[vol.name]["confusion"], dtype=np.int64)
    metrics = {"checkpoint": str(ckpt), "split": p.split, "seconds": time.perf_counter() - t0,
               "volumes": reports,
               "overall": report_from_confusion(total, class_names=names) if reports else None}
    write_json(out / "metrics.json", metrics)
    return {"output": out, "checkpoint": ckpt, "predictions": paths, "metrics": metrics}
