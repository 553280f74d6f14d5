"""The one training loop: windows -> network -> weighted loss -> Adam, with validation,
best/last checkpoints and exact resume."""
import dataclasses
import json
import os
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from emseg.augment import AugmentConfig
from emseg.checkpoint import load_checkpoint, save_checkpoint
from emseg.data._volume import Volume
from emseg.device import amp_dtype, autocast, pick_device
from emseg.losses import segmentation_loss
from emseg.models import window_geometry
from emseg.train._sampler import WindowSampler

__all__ = ["TrainConfig", "fit", "PRESETS"]


@dataclass
class TrainConfig:
    """Training settings. Defaults are the original 2D-3D recipe (Guay et al. 2021)."""
    iterations: int = 4140             # original example 2: 5 epochs x 828 windows
    batch_size: int = 1                # original: 1
    lr: float = 1e-3                   # Adam learning rate, constant (U-Net original: 10**-3.3)
    betas: tuple = (1 - 10 ** -1.5, 1 - 10 ** -2.1)  # original Adam betas (0.9684, 0.99206)
    eps: float = 1e-7                  # Adam epsilon (TensorFlow's default)
    window: tuple = None               # input window (z, y, x) or (y, x); None: the model's default
    spacing: tuple = None              # bin width of the window grid; None: output // 3 (z: out // 2)
    aux_weight: float = 0.33           # weight of the auxiliary 2D loss (Net2D3D)
    weight_floor: float = 0.01         # added to every error weight
    augment: AugmentConfig = field(default_factory=AugmentConfig)  # None: no augmentation
    eval_every: int = 1000             # validate (and checkpoint) every N iterations and at the end
    eval_overlap: float = 0.25         # tiled-prediction overlap for validation
    organelle_classes: tuple = None    # also report MIoU over these classes (platelet: 2..6)
    seed: int = 0                      # data/augmentation seed (weights: seed the model yourself)
    amp: bool = True                   # mixed precision on CUDA (no effect on the CPU)

    def replace(self, **changes):
        """A copy with some fields changed (unknown names raise ``TypeError``)."""
        return dataclasses.replace(self, **changes)


PRESETS = {
    # the original notebooks' settings
    "2d3d-original": TrainConfig(),
    "unet-original": TrainConfig(iterations=36000, lr=10 ** -3.3, spacing=(1, 80, 80),
                                 eval_every=1800),
    # a few minutes on a laptop CPU; pair it with a small network and window, e.g.
    # UNet2D(7, width=16, padding="same") and window (128, 128) as in `python -m emseg demo`
    "cpu": TrainConfig(iterations=1000, batch_size=4, eval_every=250),
}


def _as_volume(item, name):
    if isinstance(item, Volume):
        vol = item
    elif isinstance(item, (tuple, list)) and len(item) in (2, 3):
        vol = Volume(np.asarray(item[0]), np.asarray(item[1]),
                     None if len(item) == 2 or item[2] is None else np.asarray(item[2]), name=name)
    else:
        raise TypeError(f"{name} must be a Volume or an (image, labels[, weights]) tuple, "
                        f"got {type(item).__name__}")
    from emseg._validate import check_image, check_labels
    check_image(vol.image, name=f"{name} image")
    if vol.labels is None:
        raise ValueError(f"{name} has no labels; training and validation need labels")
    check_labels(vol.labels, name=f"{name} labels", shape=vol.image.shape)
    if vol.weights is not None:
        w = check_image(vol.weights, name=f"{name} weights")
        if w.shape != vol.image.shape:
            raise ValueError(f"{name} weights shape {w.shape} does not match the image shape "
                             f"{vol.image.shape}")
    return vol


def _atomic_json(obj, path):
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    with os.fdopen(fd, "w") as fh:
        json.dump(obj, fh, indent=1)
    os.replace(tmp, path)


def _collate(windows, device, spatial_ndim):
    imgs, labs, wgts = zip(*windows)
    x = torch.from_numpy(np.stack(imgs))[:, None]
    y = torch.from_numpy(np.stack(labs).astype(np.int64))
    w = None if wgts[0] is None else torch.from_numpy(np.stack(wgts))
    if spatial_ndim == 2:  # windows are (1, y, x): drop z for 2D networks
        x, y = x[:, :, 0], y[:, 0]
        w = None if w is None else w[:, 0]
    return x.to(device), y.to(device), None if w is None else w.to(device)


def _validate(model, volumes, config, device):
    from emseg.infer import predict
    from emseg.metrics import segmentation_report

    reports = []
    for vol in volumes:
        pred = predict(model, vol.image, window=config.window, overlap=config.eval_overlap,
                       output="labels", device=device, progress=False)
        reports.append(segmentation_report(vol.labels, pred, n_classes=model.n_classes,
                                           organelle_classes=config.organelle_classes))
    model.train()
    keys = ["miou_all", "accuracy", "ari"] + (["miou_organelle"] if config.organelle_classes else [])
    return {k: float(np.mean([r[k] for r in reports])) for k in keys}


def fit(model, train, val=None, *, config=None, output_dir=None, resume=False, device=None,
        progress=True):
    """Train a network on labelled volumes.

    Parameters
    ----------
    model : emseg.models.SegmentationNet
        The network (``UNet2D``, ``Net2D3D``, ...). Trained in place.
    train : Volume or tuple or list of them
        Training volume(s): :class:`emseg.data.Volume` or ``(image, labels[, weights])``.
    val : Volume or tuple or list of them, optional
        Validation volume(s), predicted with tiling every ``config.eval_every`` iterations.
    config : TrainConfig, optional
        Settings (default: the original 2D-3D recipe; see ``PRESETS``).
    output_dir : str or Path, optional
        Where ``checkpoints/best.pt``, ``checkpoints/last.pt`` and ``history.json`` go.
        ``best`` is the checkpoint with the highest validation MIoU (higher is better).
    resume : bool
        Continue from ``output_dir/checkpoints/last.pt`` if it exists. On the CPU with the
        same config the resumed run reproduces the uninterrupted run's losses exactly.
    device : str or torch.device, optional
        Default: CUDA if available, else CPU. Mixed precision is used on CUDA.
    progress : bool
        Show a tqdm progress bar.

    Returns
    -------
    dict
        The history: ``iteration``, ``loss``, ``loss_main``, ``loss_aux``, ``seconds`` (one
        entry per iteration) and ``val`` (a list of dicts with ``iteration``, ``miou_all``,
        ``accuracy``, ``ari`` and, if configured, ``miou_organelle``).
    """
    from tqdm.auto import tqdm

    cfg = config or TrainConfig()
    if not isinstance(cfg, TrainConfig):
        raise TypeError(f"config must be a TrainConfig, got {type(cfg).__name__}")
    for name in ("iterations", "batch_size", "eval_every"):
        v = getattr(cfg, name)
        if isinstance(v, bool) or not isinstance(v, int) or v < 1:
            raise ValueError(f"config.{name} must be a positive integer, got {v!r}")
    if resume and output_dir is None:
        raise ValueError("resume=True needs the output_dir of the run to resume")
    trains = [_as_volume(t, f"train[{i}]") for i, t in enumerate(_as_list(train))]
    vals = [_as_volume(v, f"val[{i}]") for i, v in enumerate(_as_list(val))]
    for vol in trains + vals:
        if int(vol.labels.max()) >= model.n_classes:
            raise ValueError(f"labels of {vol.name or 'a volume'} reach {int(vol.labels.max())} but the "
                             f"model has {model.n_classes} classes")

    device = pick_device(device)
    geometry = window_geometry(model, cfg.window)
    sampler = WindowSampler(trains, geometry, spacing=cfg.spacing, seed=cfg.seed, augment=cfg.augment)
    model.to(device).train()
    optimizer = torch.optim.Adam(model.parameters(), lr=cfg.lr, betas=tuple(cfg.betas), eps=cfg.eps)
    use_amp = cfg.amp and amp_dtype(device) is not None
    scaler = torch.amp.GradScaler("cuda", enabled=use_amp and amp_dtype(device) == torch.float16)

    history = {"iteration": [], "loss": [], "loss_main": [], "loss_aux": [], "seconds": [], "val": []}
    start, best, elapsed = 0, -np.inf, 0.0
    ckpt_dir = None if output_dir is None else Path(output_dir) / "checkpoints"
    if ckpt_dir is not None:
        ckpt_dir.mkdir(parents=True, exist_ok=True)
        if resume and (ckpt_dir / "last.pt").exists():
            ckpt = load_checkpoint(ckpt_dir / "last.pt")
            _check_resumable(ckpt, model, cfg)
            model.load_state_dict(ckpt["model_state"])
            optimizer.load_state_dict(ckpt["optimizer_state"])
            scaler.load_state_dict(ckpt["scaler_state"])
            torch.set_rng_state(ckpt["rng_state"]["torch"])
            if torch.cuda.is_available() and ckpt["rng_state"].get("cuda"):
                torch.cuda.set_rng_state_all(ckpt["rng_state"]["cuda"])
            start, best, history = ckpt["iteration"], ckpt["best_metric"], ckpt["history"]
            elapsed = history["seconds"][-1] if history["seconds"] else 0.0

    def checkpoint(name, iteration):
        if ckpt_dir is None:
            return
        save_checkpoint(ckpt_dir / f"{name}.pt", {
            "model_spec": model.spec(), "model_state": model.state_dict(),
            "optimizer_state": optimizer.state_dict(), "scaler_state": scaler.state_dict(),
            "iteration": iteration, "best_metric": best, "history": history,
            "config": dataclasses.asdict(cfg),
            "rng_state": {"torch": torch.get_rng_state(),
                          "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else []},
        })
        _atomic_json(history, ckpt_dir.parent / "history.json")

    bar = tqdm(total=cfg.iterations, initial=start, disable=not progress, desc="train", unit="it")
    t0 = time.perf_counter() - elapsed
    it = start
    try:
        for it in range(start, cfg.iterations):
            windows = [sampler.window(k) for k in range(it * cfg.batch_size, (it + 1) * cfg.batch_size)]
            x, y, w = _collate(windows, device, model.window_ndim)
            with autocast(device, enabled=use_amp):
                out = model(x)
            loss, l_main, l_aux = segmentation_loss(out, y, w, floor=cfg.weight_floor,
                                                    aux_weight=cfg.aux_weight)
            optimizer.zero_grad(set_to_none=True)
            scaler.scale(loss).backward()
            scaler.step(optimizer)
            scaler.update()
            history["iteration"].append(it + 1)
            history["loss"].append(loss.item())
            history["loss_main"].append(l_main.item())
            history["loss_aux"].append(None if l_aux is None else l_aux.item())
            history["seconds"].append(time.perf_counter() - t0)
            bar.update(1)
            bar.set_postfix(loss=f"{history['loss'][-1]:.4f}")
            if (it + 1) % cfg.eval_every == 0 or it + 1 == cfg.iterations:
                if vals:
                    metrics = _validate(model, vals, cfg, device)
                    history["val"].append({"iteration": it + 1, **metrics})
                    bar.write(f"iteration {it + 1}: " + ", ".join(f"{k} {v:.4f}" for k, v in metrics.items()))
                    if metrics["miou_all"] > best:
                        best = metrics["miou_all"]
                        checkpoint("best", it + 1)
                checkpoint("last", it + 1)
    except KeyboardInterrupt:
        done = len(history["iteration"]) and history["iteration"][-1]
        checkpoint("last", done)
        bar.write(f"interrupted: saved the state after iteration {done}; resume with resume=True")
        raise
    finally:
        bar.close()
    return history


def _as_list(x):
    if x is None:
        return []
    if isinstance(x, Volume) or (isinstance(x, tuple) and len(x) in (2, 3)
                                 and isinstance(x[0], np.ndarray)):
        return [x]
    return list(x)


def _check_resumable(ckpt, model, cfg):
    if ckpt["model_spec"] != model.spec():
        raise ValueError(f"cannot resume: the checkpoint is for {ckpt['model_spec']}, "
                         f"not {model.spec()}; use a new output_dir or the same model")
    saved = ckpt.get("config", {})
    for key in ("batch_size", "window", "spacing", "seed"):
        now = dataclasses.asdict(cfg)[key]
        then = saved.get(key)
        if (list(now) if isinstance(now, tuple) else now) != (list(then) if isinstance(then, tuple) else then):
            raise ValueError(f"cannot resume exactly: config.{key} was {then!r} and is now {now!r}")
