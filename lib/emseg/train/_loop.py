"""The one training loop: windows -> network -> loss -> Adam(W), with validation,
best/last checkpoints and exact resume.

Everything that varies in time is a pure function of the iteration (the window of
each step, its augmentation, the learning rate), so resuming from ``last.pt``
continues exactly where an uninterrupted run would be.
"""
import contextlib
import dataclasses
import json
import math
import signal
import threading
import time
from pathlib import Path

import numpy as np
import torch

from emseg.atomic import remove_stale_temporaries, write_json
from emseg._validate import check_image, check_labels, check_window_memory
from emseg.checkpoint import load_checkpoint, save_checkpoint
from emseg.data import Volume
from emseg.device import amp_dtype, channels_last
from emseg.models import spec_with_defaults, window_geometry
from emseg.resample import check_scale, downscale_volume
from emseg.train._config import LOSSES, LR_SCHEDULES, OPTIMIZERS, TrainConfig
from emseg.train._distributed import Distributed
from emseg.train._lock import run_lock
from emseg.train._prefetch import Prefetcher
from emseg.train._sampler import WindowSampler

__all__ = ["fit", "check_config", "scheduled_lr", "make_optimizer"]

# settings that may change when a run is resumed; any other change makes the resumed
# run differ from an uninterrupted one, so resuming refuses it
_RESUMABLE_CHANGES = ("iterations", "eval_every", "eval_overlap", "organelle_classes", "amp",
                      "prefetch")
_TRAINING_KEYS = ("model_spec", "model_state", "optimizer_state", "scaler_state", "iteration",
                  "best_metric", "history", "config", "rng_state")


def fit(model, train, val=None, *, config=None, output_dir=None, resume=False, overwrite=False,
        device=None, progress=True):
    """Train a network on labelled volumes.

    Parameters
    ----------
    model : emseg.models.SegmentationNet
        The network (``UNet2D``, ``Net2D3D``, ...). Trained in place and moved to ``device``.
    train : Volume or tuple or list of them
        Training volume(s): :class:`emseg.data.Volume` or ``(image, labels[, weights])``
        with (z, y, x) arrays. Either all or none of them have error weights.
    val : Volume or tuple or list of them, optional
        Validation volume(s), predicted with tiling every ``config.eval_every`` iterations.
    config : TrainConfig, optional
        Settings (default: the original 2D-3D recipe; see ``emseg.train.PRESETS``).
    output_dir : str or Path, optional
        Where ``checkpoints/best.pt``, ``checkpoints/last.pt`` and ``history.json`` go.
        ``best`` is the checkpoint with the highest validation MIoU over all classes
        (higher is better).
    resume : bool
        Continue from ``output_dir/checkpoints/last.pt`` if it exists. With the same
        config (``iterations`` may grow) a resumed run on the CPU reproduces the
        uninterrupted run's losses exactly.
    overwrite : bool
        Allow a new run (``resume=False``) to replace the checkpoints of an earlier run
        in ``output_dir``. By default that is refused, so no trained model is lost.
    device : str or torch.device, optional
        Default: CUDA if available, else CPU. Mixed precision on CUDA (``config.amp``), and
        bfloat16 on a CPU with native bf16 when ``config.cpu_bf16`` (2D networks only).
    progress : bool
        Show a tqdm progress bar and the validation results.

    Returns
    -------
    dict
        The history: ``iteration``, ``loss``, ``loss_main``, ``loss_aux``, ``seconds``
        (since the start), ``data_seconds`` (how long the step waited for its batch of
        windows; one entry each per iteration) and ``val`` (a list of dicts with
        ``iteration``, ``miou_all``, ``accuracy``, ``ari`` and, if configured,
        ``miou_organelle``).

    Notes
    -----
    With ``config.scale`` the training volumes are binned to the working resolution
    (:func:`emseg.resample.downscale_volume`) and the network's ``working_scale`` is set,
    so that validation, :func:`emseg.infer.predict` and the saved checkpoint predict at
    that resolution and return results on the input grid.

    Ctrl-C (``KeyboardInterrupt``) finishes the current iteration, saves
    ``checkpoints/last.pt`` and then stops, so ``resume=True`` loses nothing; a second
    Ctrl-C stops at once.

    Several GPUs: start the script that calls ``fit`` with ``torchrun --nproc_per_node N``.
    Each process then trains on its own GPU (``cuda:LOCAL_RANK``; NCCL, or gloo on CPUs)
    with DistributedDataParallel: every step takes ``batch_size`` different windows per
    process (an effective batch of ``N x batch_size``), gradients are averaged, the
    recorded losses are the mean over processes, and only rank 0 validates, writes the
    checkpoints and shows progress. Resume with the same number of processes.
    """
    cfg = check_config(config)
    if resume and output_dir is None:
        raise ValueError("resume=True needs the output_dir of the run to resume")
    if output_dir is not None and Path(output_dir).exists() and not Path(output_dir).is_dir():
        raise ValueError(f"output_dir {output_dir} is a file; give a folder for the run "
                         f"(checkpoints/, history.json)")
    trains = [_as_volume(t, f"train[{i}]", model) for i, t in enumerate(_as_list(train))]
    vals = [_as_volume(v, f"val[{i}]", model) for i, v in enumerate(_as_list(val))]
    if not trains:
        raise ValueError("train is empty: give at least one training volume")
    if all(v.weights is None for v in trains):  # the network's own weights, if it needs any
        trains = [v if (w := model.default_weights(v.labels)) is None
                  else dataclasses.replace(v, weights=np.asarray(w, np.float32)) for v in trains]
    if len({v.weights is None for v in trains}) > 1:
        raise ValueError("some training volumes have error weights and some do not; give weights "
                         "for all of them (e.g. emseg.data.error_weights(labels)) or for none")
    if cfg.class_weights is not None and len(cfg.class_weights) != model.n_classes:
        raise ValueError(f"config.class_weights has {len(cfg.class_weights)} values but the network "
                         f"has {model.n_classes} classes; give one weight per class")
    scale = check_scale(cfg.scale, ndim=model.window_ndim)
    trains = [downscale_volume(v, scale) for v in trains]  # (native: unchanged)
    model.working_scale = scale  # validation and prediction run at the same resolution
    ckpt_dir = None if output_dir is None else Path(output_dir) / "checkpoints"
    dist = Distributed.setup()  # torchrun: join the process group; else one process, rank 0
    if resume and not (ckpt_dir / "last.pt").exists():
        raise ValueError(f"resume=True (CLI: --resume) but {ckpt_dir} holds no run to resume "
                         f"(no last.pt); check the output folder, or start a new run without "
                         f"resume")
    if ckpt_dir is not None:
        model.spec()  # fail now, not after the first eval_every iterations, if it cannot be saved
    geometry = window_geometry(model, cfg.window)
    check_window_memory(geometry.input, cfg.batch_size, what="config.window")
    _warn_small_volumes(trains, geometry)
    lock = run_lock(ckpt_dir.parent) if ckpt_dir is not None and dist.is_main \
        else contextlib.nullcontext()
    with lock:
        return _fit(model, trains, vals, cfg, geometry, ckpt_dir=ckpt_dir, dist=dist,
                    resume=resume, overwrite=overwrite, device=device, progress=progress)


def _warn_small_volumes(trains, geometry):
    """Warn when the network's output window is larger than a training volume: its labels
    are then partly mirror images of the volume's (a valid network's wider input window
    is mirrored context by design, and not warned about)."""
    import warnings
    for i, vol in enumerate(trains):
        if any(w > s for w, s in zip(geometry.output, vol.image.shape)):
            warnings.warn(f"the training window's output {geometry.output} (z, y, x) is larger "
                          f"than train[{i}] {vol.image.shape} (at the working scale): its "
                          f"windows are filled by mirroring the volume; use a smaller window "
                          f"or more data", stacklevel=3)


def _fit(model, trains, vals, cfg, geometry, *, ckpt_dir, dist, resume, overwrite, device,
         progress):
    """:func:`fit` once its arguments are checked and the run folder is locked."""
    from tqdm.auto import tqdm

    if ckpt_dir is not None and dist.is_main:  # what an earlier process left half-written
        for folder in (ckpt_dir, ckpt_dir.parent):
            remove_stale_temporaries(folder)
    if ckpt_dir is not None:
        earlier = [p.name for p in (ckpt_dir / "last.pt", ckpt_dir / "best.pt") if p.exists()]
        if earlier and not resume and not overwrite:
            raise ValueError(f"{ckpt_dir} already holds a training run ({', '.join(earlier)}); "
                             "continue it with resume=True (CLI: --resume), choose another "
                             "output_dir, or pass overwrite=True (CLI: --overwrite) to replace it")
        if earlier and not resume and dist.is_main:  # overwrite: the new run replaces the old one's
            for old in (ckpt_dir / "last.pt", ckpt_dir / "best.pt", ckpt_dir.parent / "history.json"):
                old.unlink(missing_ok=True)

    device = dist.device(device)
    sampler = WindowSampler(trains, geometry, spacing=cfg.spacing, seed=cfg.seed, augment=cfg.augment,
                            oversample=cfg.oversample)
    model.to(device).train()
    optimizer = make_optimizer(model, cfg)
    # bfloat16 on a CPU: not for 3D convolutions (torch 2.13's CPU bf16 Conv3d backward crashed
    # on a 2 x 16 x 5 x 128 x 128 batch; bench/README.md)
    cpu_bf16 = cfg.cpu_bf16 and not any(isinstance(m, (torch.nn.Conv3d, torch.nn.ConvTranspose3d))
                                         for m in model.modules())
    dtype = amp_dtype(device, cpu_bf16=cpu_bf16)
    use_amp = dtype is not None and (cfg.amp or device.type == "cpu")
    precision = str(dtype).removeprefix("torch.") if use_amp else "float32"
    scaler = torch.amp.GradScaler("cuda", enabled=use_amp and dtype == torch.float16)

    history = {"iteration": [], "loss": [], "loss_main": [], "loss_aux": [], "seconds": [],
               "data_seconds": [], "val": []}
    start, best = 0, -np.inf
    if resume and (ckpt_dir / "last.pt").exists():
        ckpt = load_checkpoint(ckpt_dir / "last.pt")
        _check_resumable(ckpt, model, cfg, ckpt_dir / "last.pt")
        if ckpt.get("world_size", 1) != dist.world_size:
            raise ValueError(f"cannot resume exactly: the run in {ckpt_dir} was trained by "
                             f"{ckpt.get('world_size', 1)} process(es), this is {dist.world_size}; "
                             "resume with the same torchrun --nproc_per_node")
        model.load_state_dict(ckpt["model_state"])
        optimizer.load_state_dict(ckpt["optimizer_state"])
        if ckpt["scaler_state"] and scaler.is_enabled():
            scaler.load_state_dict(ckpt["scaler_state"])
        _restore_rng(ckpt["rng_state"], device)
        start, best, history = ckpt["iteration"], ckpt["best_metric"], ckpt["history"]
        history.setdefault("data_seconds", [None] * len(history["iteration"]))  # older runs
        if start > cfg.iterations:
            raise ValueError(f"the run in {ckpt_dir} is already at iteration {start}, past "
                             f"config.iterations={cfg.iterations}; ask for more iterations to continue")

    def save(name, iteration):
        if ckpt_dir is None or not dist.is_main:  # torchrun: rank 0 writes
            return
        save_checkpoint({
            "model_spec": model.spec(), "model_state": model.state_dict(),
            "working_scale": list(model.working_scale),
            "optimizer_state": optimizer.state_dict(), "scaler_state": scaler.state_dict(),
            "iteration": iteration, "best_metric": float(best), "history": history,
            "config": _config_dict(cfg), "world_size": dist.world_size, "precision": precision,
            "rng_state": {"torch": torch.get_rng_state(),
                          "cuda": torch.cuda.get_rng_state(device) if device.type == "cuda" else None},
        }, ckpt_dir / f"{name}.pt")
        write_json(ckpt_dir.parent / "history.json", history)  # a NaN loss as null

    def make_batch(it):  # in the prefetch thread: a pure function of `it`
        return _collate([sampler.window(k) for k in dist.window_indices(it, cfg.batch_size)],
                        model.window_ndim)

    layout = channels_last(model) if cfg.channels_last else []  # before DDP sees the weights
    net = dist.wrap(model, device)  # DistributedDataParallel under torchrun, else the model
    bar = tqdm(total=cfg.iterations, initial=start, disable=not progress or not dist.is_main,
               desc="train", unit="it")
    t0 = time.perf_counter() - (history["seconds"][-1] if history["seconds"] else 0.0)
    with bar, _deferred_interrupt() as interrupt, \
            Prefetcher(make_batch, start, cfg.iterations, depth=cfg.prefetch) as batches, \
            _restore_layout(layout):
        for it in range(start, cfg.iterations):
            batch, waited = batches.get(it)
            x, y, w = (None if t is None else t.to(device, non_blocking=True) for t in batch)
            for group in optimizer.param_groups:  # a pure function of `it`: resumes exactly
                group["lr"] = scheduled_lr(cfg, it)
            with (torch.autocast(device.type, dtype=dtype) if use_amp else contextlib.nullcontext()):
                out = net(x)  # the precision was chosen once, before the loop
            loss, l_main, l_aux = model.training_loss(out, y, w, config=cfg)
            optimizer.zero_grad(set_to_none=True)
            scaler.scale(loss).backward()
            if cfg.grad_clip is not None:
                scaler.unscale_(optimizer)
                torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip)
            scaler.step(optimizer)
            scaler.update()
            record = {"iteration": it + 1, "loss": loss.item(), "loss_main": l_main.item(),
                      "loss_aux": None if l_aux is None else l_aux.item(),
                      "seconds": time.perf_counter() - t0, "data_seconds": waited}
            if dist.enabled:  # mean losses over processes; a Ctrl-C seen by one stops all
                means = dist.mean([record["loss"], record["loss_main"], record["loss_aux"] or 0.0,
                                   float(interrupt.requested)], device)
                record.update(loss=means[0], loss_main=means[1],
                              loss_aux=None if l_aux is None else means[2])
                interrupt.requested = means[3] > 0
            for key, value in record.items():
                history[key].append(value)
            bar.update(1)
            bar.set_postfix(loss=f"{record['loss']:.4f}")
            if (it + 1) % cfg.eval_every == 0 or it + 1 == cfg.iterations:
                if vals and dist.is_main:
                    metrics = _validate(model, vals, cfg, device, precision)
                    history["val"].append({"iteration": it + 1, **metrics})
                    if progress:
                        bar.write(f"iteration {it + 1}: "
                                  + ", ".join(f"{k} {v:.4f}" for k, v in metrics.items()))
                    if metrics["miou_all"] > best:
                        best = metrics["miou_all"]
                        save("best", it + 1)
                save("last", it + 1)
            elif interrupt.requested:
                save("last", it + 1)
            if interrupt.requested:
                if ckpt_dir is None:
                    bar.write(f"interrupted after iteration {it + 1}; nothing was saved "
                              "(no output_dir)")
                else:
                    bar.write(f"interrupted: saved the state after iteration {it + 1} in {ckpt_dir}; "
                              "continue with resume=True")
                dist.barrier()  # torchrun: no process exits before rank 0 has written last.pt
                raise KeyboardInterrupt
    dist.close()  # torchrun: wait for rank 0's last checkpoint, leave the process group
    return history


@contextlib.contextmanager
def _deferred_interrupt():
    """Let Ctrl-C finish the current iteration: the first SIGINT sets a flag the loop
    checks; a second one interrupts at once.

    Only possible in the main thread and when SIGINT is not ignored; otherwise
    Ctrl-C behaves as usual (the last checkpoint written at an evaluation stays valid).
    """
    class Flag:
        requested = False

    flag = Flag()
    if threading.current_thread() is not threading.main_thread() \
            or signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
        yield flag
        return

    def handler(signum, frame):
        if flag.requested:
            raise KeyboardInterrupt
        flag.requested = True

    previous = signal.signal(signal.SIGINT, handler)
    try:
        yield flag
    finally:
        signal.signal(signal.SIGINT, previous if previous is not None else signal.default_int_handler)


def check_config(config):
    """``config`` (None: the default TrainConfig) checked setting by setting.

    Raises
    ------
    TypeError
        If it is not a :class:`TrainConfig`.
    ValueError
        For a setting out of range or not among its choices, naming it.
    """
    cfg = config or TrainConfig()
    if not isinstance(cfg, TrainConfig):
        raise TypeError(f"config must be a TrainConfig, got {type(cfg).__name__}")
    for name in ("iterations", "batch_size", "eval_every"):
        v = getattr(cfg, name)
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 1:
            raise ValueError(f"config.{name} must be a positive integer, got {v!r}")
    if isinstance(cfg.warmup, bool) or not isinstance(cfg.warmup, (int, np.integer)) \
            or cfg.warmup < 0:
        raise ValueError(f"config.warmup must be a number of iterations >= 0, got {cfg.warmup!r}")
    if isinstance(cfg.prefetch, bool) or not isinstance(cfg.prefetch, (int, np.integer)) \
            or cfg.prefetch < 0:
        raise ValueError(f"config.prefetch must be a number of batches >= 0 (0: no background "
                         f"thread), got {cfg.prefetch!r}")
    if not cfg.lr > 0:
        raise ValueError(f"config.lr must be positive, got {cfg.lr!r}")
    for name, choices in (("lr_schedule", LR_SCHEDULES), ("optimizer", OPTIMIZERS),
                          ("loss", LOSSES)):
        if getattr(cfg, name) not in choices:
            raise ValueError(f"config.{name} must be one of {choices}, got {getattr(cfg, name)!r}")
    if not cfg.weight_decay >= 0:
        raise ValueError(f"config.weight_decay must be >= 0, got {cfg.weight_decay!r}")
    if cfg.grad_clip is not None and not cfg.grad_clip > 0:
        raise ValueError(f"config.grad_clip must be positive (or None: no clipping), got "
                         f"{cfg.grad_clip!r}")
    if not 0 <= cfg.oversample <= 1:
        raise ValueError(f"config.oversample must be a fraction in [0, 1], got {cfg.oversample!r}")
    if not cfg.weight_floor >= 0:
        raise ValueError(f"config.weight_floor must be >= 0, got {cfg.weight_floor!r}")
    check_scale(cfg.scale)
    return cfg


def make_optimizer(model, cfg):
    """Adam, or AdamW with ``cfg.weight_decay`` on the weights of convolutions and linear
    layers only (not on biases and normalisation parameters, which are 1-D)."""
    params = [p for p in model.parameters() if p.requires_grad]
    betas = tuple(cfg.betas)
    if cfg.optimizer == "adamw":
        groups = [{"params": [p for p in params if p.ndim > 1], "weight_decay": cfg.weight_decay},
                  {"params": [p for p in params if p.ndim <= 1], "weight_decay": 0.0}]
        return torch.optim.AdamW(groups, lr=cfg.lr, betas=betas, eps=cfg.eps)
    return torch.optim.Adam(params, lr=cfg.lr, betas=betas, eps=cfg.eps,
                            weight_decay=cfg.weight_decay)


def scheduled_lr(cfg, iteration):
    """Learning rate of 0-based ``iteration``: a pure function, so resuming is exact.

    ``cfg.lr`` times the schedule's factor at ``t = iteration / cfg.iterations``:
    1 ('constant'), ``0.05 + 0.95 * (1 + cos(pi t)) / 2`` ('cosine') or ``(1 - t)**0.9``
    ('poly'); during the first ``cfg.warmup`` iterations also times
    ``(iteration + 1) / (cfg.warmup + 1)``.

    Examples
    --------
    >>> cfg = TrainConfig(iterations=100, lr=1.0, lr_schedule="poly", warmup=4)
    >>> [round(scheduled_lr(cfg, i), 3) for i in (0, 3, 4, 50)]
    [0.2, 0.778, 0.964, 0.536]
    """
    t = iteration / cfg.iterations
    if cfg.lr_schedule == "cosine":
        factor = 0.05 + 0.475 * (1 + math.cos(math.pi * t))
    elif cfg.lr_schedule == "poly":
        factor = max(0.0, 1 - t) ** 0.9
    else:
        factor = 1.0
    if iteration < cfg.warmup:
        factor *= (iteration + 1) / (cfg.warmup + 1)
    return cfg.lr * factor


def _as_list(x):
    if x is None:
        return []
    if isinstance(x, Volume) or (isinstance(x, (tuple, list)) and len(x) in (2, 3)
                                 and hasattr(x[0], "ndim")):
        return [x]  # one (image, labels[, weights]) pair
    return list(x)


def _as_volume(item, name, model):
    if isinstance(item, Volume):
        vol = item
    elif isinstance(item, (tuple, list)) and len(item) in (2, 3):
        arrays = [None if a is None else np.asarray(a) for a in item] + [None]
        vol = Volume(arrays[0], arrays[1], arrays[2], name=name)
    else:
        raise TypeError(f"{name} must be a Volume or an (image, labels[, weights]) tuple of numpy "
                        f"arrays, got {type(item).__name__}")
    check_image(vol.image, name=f"{name} image")
    if vol.labels is None:
        raise ValueError(f"{name} has no labels; training and validation need labels")
    check_labels(vol.labels, name=f"{name} labels", shape=vol.image.shape, n_classes=model.n_classes)
    if vol.weights is not None:
        check_image(vol.weights, name=f"{name} weights")
        if vol.weights.shape != vol.image.shape:
            raise ValueError(f"{name} weights shape {vol.weights.shape} does not match the image "
                             f"shape {vol.image.shape}")
        low = float(np.min(vol.weights))
        if low < 0:
            raise ValueError(f"{name} weights hold negative values (min {low:g}); error weights "
                             f"scale each voxel's loss and must be >= 0 (a negative weight "
                             f"would make training maximise that voxel's error)")
    return vol


def _collate(windows, spatial_ndim):
    """A batch of host tensors (image, labels, weights or None) from sampled windows."""
    imgs, labs, wgts = zip(*windows)
    x = torch.from_numpy(np.stack(imgs))[:, None]
    y = torch.from_numpy(np.stack(labs).astype(np.int64))
    w = None if wgts[0] is None else torch.from_numpy(np.stack(wgts))
    if spatial_ndim == 2:  # windows are (1, y, x): drop z for 2D networks
        x, y = x[:, :, 0], y[:, 0]
        w = None if w is None else w[:, 0]
    return x, y, w


@contextlib.contextmanager
def _restore_layout(changed):
    """Give the trained weights their layout back when the loop ends (values kept)."""
    try:
        yield
    finally:
        for t, _ in changed:
            t.data = t.data.contiguous()


def _validate(model, volumes, config, device, precision):
    from emseg.infer import predict
    from emseg.metrics import segmentation_report

    reports = []
    for vol in volumes:
        pred = predict(model, vol.image, window=config.window, overlap=config.eval_overlap,
                       output="labels", device=device, precision=precision, progress=False)
        reports.append(segmentation_report(vol.labels, pred, n_classes=model.n_classes,
                                           organelle_classes=config.organelle_classes))
    model.train()
    keys = ["miou_all", "accuracy", "ari"] + (["miou_organelle"] if config.organelle_classes else [])
    return {k: float(np.mean([r[k] for r in reports])) for k in keys}


def _config_dict(cfg):
    """The config as plain lists/dicts/numbers (loadable with torch.load(weights_only=True))."""
    return json.loads(json.dumps(dataclasses.asdict(cfg)))


def _check_resumable(ckpt, model, cfg, path):
    missing = [k for k in _TRAINING_KEYS if k not in ckpt]
    if missing:
        raise ValueError(f"cannot resume from {path}: it is not a training checkpoint (it lacks "
                         f"{', '.join(missing)}); start a new run in another output_dir")
    if spec_with_defaults(ckpt["model_spec"]) != spec_with_defaults(model.spec()):
        raise ValueError(f"cannot resume: the checkpoint is for {ckpt['model_spec']}, "
                         f"not {model.spec()}; use a new output_dir or the same model")
    now, then = _comparable(_config_dict(cfg)), _comparable(ckpt["config"])
    for key in now:
        if key not in _RESUMABLE_CHANGES and then[key] != now[key]:
            raise ValueError(f"cannot resume exactly: config.{key} was {then[key]!r} and is now "
                             f"{now[key]!r}; use the same settings or a new output_dir")
    if now["lr_schedule"] != "constant" and then["iterations"] != now["iterations"]:
        raise ValueError(f"cannot resume exactly: the {now['lr_schedule']} learning-rate "
                         f"schedule spans config.iterations, which was {then['iterations']} and is now "
                         f"{now['iterations']} (the rate would jump); resume with the same "
                         f"iterations, or start a new run in another output_dir")


def _comparable(saved):
    """A saved config with the settings added to TrainConfig later (also inside
    ``augment``) at their defaults, and ``scale`` as (z, y, x): equal settings compare equal."""
    defaults = _config_dict(TrainConfig())
    out = {**defaults, **saved}
    if isinstance(out.get("augment"), dict):
        out["augment"] = {**defaults["augment"], **out["augment"]}
    out["scale"] = list(check_scale(out["scale"]))
    return out


def _restore_rng(state, device):
    torch.set_rng_state(state["torch"])
    if device.type == "cuda" and state.get("cuda") is not None:
        torch.cuda.set_rng_state(state["cuda"], device)
