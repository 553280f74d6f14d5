"""Saving and loading networks and training state, atomically.

A checkpoint is a dict saved with ``torch.save``:

* ``model_spec`` -- ``{"name": "Net2D3D", "kwargs": {...}}``, enough to rebuild the net;
* ``model_state`` -- its ``state_dict``;
* ``working_scale`` -- the binning (z, y, x) it works at (``TrainConfig.scale``; absent
  in older files: native);
* for training checkpoints also ``optimizer_state``, ``scaler_state``, ``iteration``,
  ``rng_state`` (torch CPU/CUDA generators), ``history``, ``config`` and ``best_metric``.

Files are written to a temporary file in the same folder and then renamed over the
target, so an interrupted save never leaves a half-written checkpoint behind.
"""
import os
from pathlib import Path

import torch

from emseg.atomic import atomic_path, check_output

__all__ = ["save_checkpoint", "load_checkpoint", "save_model", "load_model", "model_from_checkpoint",
           "export_model", "read_bioimageio"]


def save_checkpoint(checkpoint, path):
    """Write a checkpoint dict atomically (temp file, flushed to disk, then renamed); returns the path."""
    if "model_spec" not in checkpoint or "model_state" not in checkpoint:
        raise ValueError("a checkpoint needs 'model_spec' and 'model_state' entries")
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as fh:
            torch.save(checkpoint, fh)
            fh.flush()
            os.fsync(fh.fileno())
    return Path(path)


def load_checkpoint(path):
    """Read a checkpoint dict (on the CPU).

    A ``.zip`` is read as a bioimage.io model package of an emseg network (see
    :func:`read_bioimageio`). Raises ``FileNotFoundError`` for a missing file and
    ``ValueError`` for a file that is not an emseg checkpoint.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no checkpoint at {path}")
    if path.suffix.lower() == ".zip":
        return read_bioimageio(path)
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=True)  # no arbitrary code
    except Exception as exc:  # pickle/zip errors differ between torch versions
        import zipfile
        with open(path, "rb") as fh:
            pickled = zipfile.is_zipfile(path) or fh.read(1) == b"\x80"
        if not pickled:
            raise ValueError(f"{path} is not a readable PyTorch checkpoint (truncated, or another "
                             f"kind of file); give a .pt file written by emseg (training's "
                             f"best.pt or last.pt, or emseg.checkpoint.save_model)") from None
        if "weights_only" in str(exc):  # torch's advice to unpickle arbitrary code: not ours
            raise ValueError(f"{path} is not an emseg network file: it holds Python objects "
                             f"other than tensors and plain values, which emseg does not load "
                             f"(loading them could run code). Save networks with "
                             f"emseg.checkpoint.save_model or train with emseg.train.fit") from None
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ValueError(f"{path} is not a readable PyTorch checkpoint (truncated or another "
                         f"kind of file: {first})") from None
    if not isinstance(ckpt, dict) or "model_spec" not in ckpt or "model_state" not in ckpt:
        raise ValueError(f"{path} is not an emseg checkpoint (no 'model_spec'/'model_state'); "
                         "save networks with emseg.checkpoint.save_model or train with emseg.train.fit")
    return ckpt


def save_model(model, path, *, overwrite=False, **extra):
    """Save a network (spec + weights + working scale, plus any ``extra`` entries) atomically.

    An existing ``path`` is replaced only with ``overwrite=True``. Returns the path.
    """
    check_output(path, overwrite=overwrite)
    ckpt = {"model_spec": model.spec(), "model_state": model.state_dict(),
            "working_scale": list(getattr(model, "working_scale", (1, 1, 1))), **extra}
    if getattr(model, "trained_window", None):  # a network loaded from training keeps it
        ckpt.setdefault("trained_window", list(model.trained_window))
    return save_checkpoint(ckpt, path)


def load_model(path, *, device=None):
    """Rebuild a network from a checkpoint written by :func:`save_model` or training.

    Parameters
    ----------
    path : str or Path
        Checkpoint file (``best.pt``, ``last.pt`` or a saved model).
    device : str or torch.device, optional
        Where to put the network (default: CUDA if available, else CPU).

    Returns
    -------
    SegmentationNet
        The network in eval mode.
    """
    return model_from_checkpoint(load_checkpoint(path), device=device)


def model_from_checkpoint(ckpt, *, device=None):
    """The network (in eval mode) of an already loaded checkpoint dict (see :func:`load_model`)."""
    from emseg.device import pick_device
    from emseg.models import build_model

    from emseg.resample import check_scale

    spec = ckpt["model_spec"]
    model = build_model(spec["name"], **spec["kwargs"])
    try:
        model.load_state_dict(ckpt["model_state"])
    except RuntimeError:  # missing/unexpected keys or shapes: say it in words
        have = set(ckpt["model_state"])
        want = set(model.state_dict())
        missing, extra = sorted(want - have), sorted(have - want)
        detail = (f"{len(missing)} weight(s) missing (e.g. {missing[0]})" if missing else
                  f"{len(extra)} unexpected weight(s) (e.g. {extra[0]})" if extra else
                  "weight shapes that differ from the network's")
        raise ValueError(f"the checkpoint's weights do not fit its network {spec['name']} "
                         f"{spec['kwargs']}: {detail}. The file is damaged or was edited; use "
                         f"the checkpoint as training wrote it") from None
    # the resolution it was trained at (TrainConfig.scale); predict bins its input by it
    scale = ckpt.get("working_scale", (ckpt.get("config") or {}).get("scale"))
    model.working_scale = check_scale(scale, ndim=model.window_ndim)
    # the window it was trained and validated with becomes its default window, so that
    # every prediction (predict, predict --config, predict-large, ensembles) uses it
    window = (ckpt.get("config") or {}).get("window") or ckpt.get("trained_window")
    if window:
        model.default_window = model.trained_window = tuple(int(w) for w in window)
    return model.to(pick_device(device)).eval()


def export_model(path, target, *, half=False, **extra):
    """Write a network-only copy of a checkpoint (no optimizer or training state).

    Parameters
    ----------
    path : str or Path
        A checkpoint from training (``best.pt``) or :func:`save_model`.
    target : str or Path
        The file to write (atomically).
    half : bool
        Store floating-point weights as float16 (half the size; :func:`load_model`
        loads them back into the float32 network). Values change by at most one
        float16 rounding step (relative 2**-11).
    **extra
        Entries to store with it (e.g. ``source={...}`` provenance).

    Returns
    -------
    Path
        ``target``.
    """
    ckpt = load_checkpoint(path)
    state = {k: (v.half() if half and v.is_floating_point() else v)
             for k, v in ckpt["model_state"].items()}
    keep = {k: ckpt[k] for k in ("history", "working_scale") if k in ckpt}
    if "config" in ckpt:
        keep["config"] = ckpt["config"]
    return save_checkpoint({"model_spec": ckpt["model_spec"], "model_state": state,
                            "stored_dtype": "float16" if half else "float32", **keep, **extra},
                           target)


def read_bioimageio(path):
    """The checkpoint dict of a bioimage.io model package that emseg exported
    (:func:`emseg.bioimageio.to_bioimageio`), with its PyTorch weights checked against the
    SHA-256 the package records. Needs no bioimage.io library.

    Raises
    ------
    ValueError
        For a zip that is not a bioimage.io model package, a package in a format other
        than 0.5, a package another tool made (no ``config.emseg``), or weights that do
        not match their recorded SHA-256 (a changed or damaged file).
    """
    import hashlib
    import io
    import zipfile

    import yaml

    path = Path(path)
    if not zipfile.is_zipfile(path):
        raise ValueError(f"{path} is not a zip file; a bioimage.io package is a .zip")
    with zipfile.ZipFile(path) as zf:
        names = set(zf.namelist())
        rdf_name = "rdf.yaml" if "rdf.yaml" in names else next(
            (n for n in sorted(names) if n.endswith("bioimageio.yaml")), None)
        if rdf_name is None:
            raise ValueError(f"{path} is a zip but not a bioimage.io package (no rdf.yaml)")
        rdf = yaml.safe_load(zf.read(rdf_name)) or {}
        version = str(rdf.get("format_version", ""))
        if rdf.get("type") != "model" or not version.startswith("0.5."):
            raise ValueError(f"{path} is a bioimage.io {rdf.get('type', '?')} package in format "
                             f"{version or '?'}; emseg reads model packages in format 0.5")
        emseg = (rdf.get("config") or {}).get("emseg")
        weights = (rdf.get("weights") or {}).get("pytorch_state_dict") or {}
        if not emseg or "model_spec" not in emseg or "source" not in weights:
            raise ValueError(f"{path} is a bioimage.io model made by another tool (it has no emseg "
                             f"network); run it with bioimageio.core or the tool that made it")
        source = weights["source"]
        if source not in names:
            raise ValueError(f"{path}: the weights {source} named in {rdf_name} are missing")
        data = zf.read(source)
    if hashlib.sha256(data).hexdigest() != weights.get("sha256"):
        raise ValueError(f"{path}: the weights {source} do not match the SHA-256 recorded in "
                         f"{rdf_name} (the file was changed or damaged); use the package as exported")
    state = torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)
    return {"model_spec": emseg["model_spec"],
            "model_state": {k.removeprefix("net."): v for k, v in state.items()},
            "working_scale": [1, 1, 1], "trained_window": emseg.get("window")}
