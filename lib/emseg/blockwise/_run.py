"""predict_large: blockwise prediction of a volume of any size on a dask cluster."""
import hashlib
import math
import os
import threading
import time
from pathlib import Path

import numpy as np

from emseg.blockwise._plan import BlockPlan
from emseg.blockwise._source import open_volume
from emseg.blockwise._store import PredictionStore

__all__ = ["predict_large", "volume_statistics"]

DTYPES = ("float32", "uint8")
NORMALIZATIONS = ("zscore", None)


def predict_large(model, image, target, *, output="probabilities", dtype="float32",
                  block_size=None, halo=None, chunks=None, window=None, overlap=0.25,
                  blending="gaussian", batch_size=4, tta=False, scale=None, normalize="zscore",
                  dataset=None, storage_options=None, client=None, scheduler=None, n_workers=None,
                  device=None, precision="auto", overwrite=False, progress=True):
    """Predict a volume of any size block by block on a dask cluster, into a zarr group.

    Each block is read with a halo, predicted with :func:`emseg.infer.predict` (or
    :func:`~emseg.infer.predict_ensemble`) and cropped to its interior. Block starts and
    halos follow the window grid, so the result equals the in-memory
    ``predict(model, zscore(volume))`` up to float round-off (without ``tta``; see
    Notes), also for networks that work at a coarser resolution (``scale``): blocks
    then follow the binning grid too. Memory per task is one block with its halo,
    whatever the volume's size. One dask task per block; finished blocks are marked, so a
    rerun with the same settings skips them.

    Parameters
    ----------
    model : SegmentationNet, str, Path or list of them
        A network, a checkpoint path (``best.pt``) or a pretrained name; a list is an
        ensemble (mean of probabilities). Paths and names are loaded once per worker;
        network objects are sent to each worker once.
    image : numpy.ndarray, str, Path, zarr.Array or ChunkedVolume
        The (z, y, x) volume or (y, x) image: a numpy array (memmaps are reopened, not
        copied), a TIFF file (memory-mapped when contiguous) or a zarr array (a local
        folder or an fsspec URL); see :func:`emseg.blockwise.open_volume`.
    target : str or Path
        The output zarr group (local folder or fsspec URL). See :mod:`emseg.blockwise`
        for its layout. An existing emseg prediction with the same settings is resumed;
        one with other settings is refused unless ``overwrite=True``; anything else
        there is never overwritten.
    output : {'probabilities', 'labels'}
        Class probabilities (C, z, y, x) or argmax labels (z, y, x, uint8).
    dtype : {'float32', 'uint8'}
        Storage of the probabilities: float32, or uint8 ``round(255 p)`` (4x smaller;
        at most 1/510 off).
    block_size : tuple of int, optional
        Block interior (z, y, x) in voxels of the volume, a multiple of the window step
        (output window x (1 - overlap)) times the working scale's binning factor.
        Default about (32, 512, 512), rounded to the step.
    halo : int or tuple of int, optional
        Voxels of the volume read around each block; default the smallest that gives
        seamless blocks. A given halo must be at least that and a multiple of the step.
    chunks : tuple of int, optional
        Output chunks (z, y, x) dividing the block; default: the block.
    window, overlap, blending, batch_size, tta
        As in :func:`emseg.infer.predict` (``window`` in voxels of the working resolution).
    scale : int or tuple of int, optional
        Working resolution, as in :func:`emseg.infer.predict`: bin the volume by these
        factors (z, y, x), predict, and resample the probabilities back to the volume's
        grid. Default: each network's own ``working_scale`` (the scale it was trained
        at); ensemble members may work at different scales. The scales used are part of
        the settings a rerun must match to resume.
    normalize : {'zscore', None} or (float, float)
        ``'zscore'``: subtract the whole volume's mean and divide by its standard
        deviation (computed in a first chunked pass, as :func:`emseg.data.zscore` does
        in memory); ``None``: use the values as they are; ``(mean, std)``: given.
    dataset : str, optional
        The array inside a zarr group input.
    storage_options : dict, optional
        fsspec options for zarr URLs (input and target).
    client : distributed.Client, optional
        Run on this client's cluster.
    scheduler : str, optional
        Address of a running dask scheduler (``tcp://host:8786``) to connect to.
    n_workers : int, optional
        Without ``client``/``scheduler``: workers of the local cluster that is started
        (and closed at the end). Default: one per GPU; on a CPU, 1 per 2 cores (at most 4).
    device : str, optional
        Device for every worker. Default: a GPU per worker when there are GPUs
        (``cuda:<worker number % GPUs>`` on a local cluster; start one worker per GPU on
        your own cluster), else the CPU.
    precision : {'auto', 'float32', 'bfloat16', 'float16'}
        The network's arithmetic on each worker, as in :func:`emseg.infer.predict`
        (``'auto'`` is resolved for each worker's device). Part of the settings a rerun
        must match to resume.
    overwrite : bool
        Replace an earlier emseg prediction at ``target`` made with other settings.
    progress : bool
        Show progress bars (statistics pass, blocks) on the client.

    Returns
    -------
    dict
        ``target``, ``array`` (name in the group), ``shape``, ``blocks`` (total),
        ``skipped`` (already done), ``predicted``, ``seconds``, ``voxels_per_second``
        (of the blocks predicted now), ``normalization`` (mean, std), ``block_size``,
        ``halo``, ``scales`` (the working scale (z, y, x) of each network), ``workers``.

    Raises
    ------
    ValueError
        For inconsistent block size / halo / chunks (saying what would work), bad
        options, a target that holds something else, or a constant volume with
        ``normalize='zscore'``.
    RuntimeError
        When a block fails on a worker (the blocks that finished stay finished: rerun
        to continue).

    Notes
    -----
    With ``tta=True`` the flipped passes place their windows from the other end of each
    block, so blocks agree with the in-memory TTA result only to the network's seam
    differences; without TTA they agree to float round-off. Scripts that start a local
    cluster must guard their main code with ``if __name__ == "__main__":`` (dask starts
    worker processes that re-import the script).

    Examples
    --------
    >>> from emseg.blockwise import predict_large                    # doctest: +SKIP
    >>> predict_large("runs/unet/checkpoints/best.pt", "big.zarr", "pred.zarr",
    ...               dataset="raw", output="labels", n_workers=2)  # doctest: +SKIP
    """
    from emseg.infer import PredictOptions, check_model, model_scale, overlap_zyx

    if output not in ("probabilities", "labels"):
        raise ValueError(f"unknown output {output!r}; choose 'probabilities' or 'labels'")
    if dtype not in DTYPES:
        raise ValueError(f"unknown dtype {dtype!r}; choose one of {DTYPES}")
    if output == "labels" and dtype != "float32":
        raise ValueError("dtype applies to probabilities; labels are always uint8")
    norm = _check_normalize(normalize)
    if device is not None:
        _check_device_name(device)
    _check_precision(precision, device)
    if n_workers is not None and (isinstance(n_workers, bool) or not isinstance(n_workers, int)
                                  or n_workers < 1):
        raise ValueError(f"n_workers must be a positive integer, got {n_workers!r}")
    if client is not None and scheduler is not None:
        raise ValueError("give client or scheduler, not both")
    volume = open_volume(image, dataset=dataset, storage_options=storage_options)
    squeeze_z = volume.ndim == 2
    shape3 = (1,) + volume.shape if squeeze_z else volume.shape

    refs = list(model) if isinstance(model, (list, tuple)) else [model]
    if not refs:
        raise ValueError("model is an empty list; give a network, a checkpoint or a pretrained name")
    nets = [_load_on_client(r, progress) for r in refs]
    opts = PredictOptions.check(window=window, overlap=overlap, blending=blending, batch_size=batch_size,
                          output=output, tta=tta, scale=scale, device="cpu", progress=False)
    geoms = [check_model(n, opts) for n in nets]
    scales = [model_scale(n, opts) for n in nets]
    classes = {n.n_classes for n in nets}
    if len(classes) != 1:
        raise ValueError(f"ensemble members predict different numbers of classes {sorted(classes)}")
    n_classes = classes.pop()
    if output == "labels" and n_classes > 256:
        raise ValueError(f"uint8 labels hold at most 256 classes, the model has {n_classes}")
    plan = BlockPlan.make(shape3, geoms, overlap_zyx(opts.overlap), scales=scales,
                          block_size=block_size, halo=halo, chunks=chunks)

    # the scales come before block size and halo, which follow from them: a refusal names the cause
    settings = {"input": volume.describe(), "models": [_fingerprint(n) for n in nets],
                "scale": [list(s) for s in scales], "output": output,
                "dtype": "uint8" if output == "labels" else dtype,
                "block_size": list(plan.block), "halo": list(plan.halo), "chunks": list(plan.chunks),
                "window": None if window is None else list(window), "overlap": list(opts.overlap),
                "blending": blending, "tta": bool(tta), "precision": precision,
                "normalize": norm if isinstance(norm, str) or norm is None else list(norm)}
    info = PredictionStore.existing(target, storage_options=storage_options)
    resume = False
    if info is not None:
        # predictions made before scales were recorded were all made at the native grid,
        # and those made before precision was recorded at the default
        before = {"scale": [[1, 1, 1]] * len(nets), "precision": "auto", **info.get("settings", {})}
        differ = [k for k in settings if _canon(before.get(k)) != _canon(settings[k])]
        if differ and not overwrite:
            k = differ[0]
            raise ValueError(
                f"{target} holds a blockwise prediction made with other settings ({k}: was "
                f"{before.get(k)!r}, now {settings[k]!r}); rerun with the same settings "
                "to resume it, choose another target, or pass overwrite=True (CLI: --overwrite)")
        resume = not differ  # same settings: resume, also with overwrite=True

    own_client, own_cluster, workers = _connect(client, scheduler, n_workers, device)
    try:
        n_live = len(own_client.scheduler_info().get("workers", {})) or (n_workers or 1)
        threads = _torch_threads(own_cluster, n_live)
        # in-memory inputs go to the workers once, not with every task
        vol_f = own_client.scatter(volume, hash=False) if volume.kind == "numpy" else volume
        if resume and info.get("normalization") is not None:
            stats = tuple(info["normalization"])
        elif norm == "zscore":
            stats = _statistics(own_client, vol_f, [b.interior for b in plan.blocks()],
                                squeeze_z, progress)
        elif norm is None:
            stats = None
        else:
            stats = tuple(float(v) for v in norm)
        shape_args = dict(shape=shape3, chunks=plan.chunks, grid=plan.grid, n_classes=n_classes,
                          output=output, dtype="uint8" if output == "labels" else dtype,
                          squeeze_z=squeeze_z, storage_options=storage_options)
        if resume:
            store = PredictionStore.resume(target, info=info, **shape_args)
        else:
            store = PredictionStore.create(
                target, info={"settings": settings, "normalization": stats,
                              "shape": list(volume.shape), "n_classes": n_classes}, **shape_args)
        done = store.done_mask(plan.grid)
        todo = [b for b in plan.blocks() if not done[b.index]]
        params = {"window": window, "overlap": opts.overlap, "blending": blending,
                  "batch_size": opts.batch_size, "output": output, "tta": bool(tta),
                  "scale": opts.scale, "scales": [tuple(s) for s in scales],
                  "dtype": dtype, "stats": stats, "squeeze_z": squeeze_z, "device": device,
                  "precision": precision, "threads": threads}
        t0 = time.perf_counter()
        voxels = _run_blocks(own_client, todo, vol_f, refs, settings["models"], store, params, progress,
                             skipped=len(plan) - len(todo))
        seconds = time.perf_counter() - t0
    finally:
        if client is None:  # we made this client (local cluster or --scheduler): close it
            own_client.close()
        if own_cluster is not None:
            own_cluster.close()
    return {"target": str(target), "array": output, "shape": tuple(volume.shape),
            "blocks": len(plan), "skipped": len(plan) - len(todo), "predicted": len(todo),
            "seconds": seconds, "voxels_per_second": voxels / seconds if seconds > 0 and voxels else 0.0,
            "normalization": stats, "block_size": plan.block, "halo": plan.halo,
            "scales": [tuple(s) for s in scales], "workers": workers}


def volume_statistics(image, *, plan=None, block_size=(32, 512, 512), client=None, progress=True):
    """Mean and standard deviation of a volume of any size, in one chunked pass on dask.

    Float64 per block, combined exactly (Chan et al.'s pairwise update), so the values
    agree with ``numpy.mean``/``numpy.std`` of the whole volume to float64 round-off.

    Parameters
    ----------
    image : ChunkedVolume or anything :func:`open_volume` takes
    plan : BlockPlan, optional
        Read the volume by this plan's blocks (interiors); else by ``block_size``.
    block_size : tuple of int
        Boxes read per task when no plan is given.
    client : distributed.Client, optional
        Default: the current client (``distributed.get_client()``).
    progress : bool

    Returns
    -------
    (float, float)
        Mean and standard deviation.
    """
    from distributed import get_client

    volume = open_volume(image)
    client = client or get_client()
    shape3 = ((1,) + volume.shape) if volume.ndim == 2 else volume.shape
    if plan is None:
        boxes = [tuple(slice(i * b, min(n, (i + 1) * b)) for i, b, n in zip(idx, block_size, shape3))
                 for idx in np.ndindex(*(-(-n // b) for n, b in zip(shape3, block_size)))]
    else:
        boxes = [b.interior for b in plan.blocks()]
    vol_f = client.scatter(volume, hash=False) if volume.kind == "numpy" else volume
    return _statistics(client, vol_f, boxes, volume.ndim == 2, progress)


def _statistics(client, vol_f, boxes, squeeze_z, progress):
    from distributed import as_completed
    from tqdm.auto import tqdm

    futures = [client.submit(_moments, vol_f, box, squeeze_z, pure=False) for box in boxes]
    order = {fut.key: k for k, fut in enumerate(futures)}
    parts = {}
    with tqdm(total=len(futures), desc="statistics", unit="block", disable=not progress) as bar:
        for fut in as_completed(futures):
            parts[order[fut.key]] = fut.result()
            bar.update(1)
    n, mean, m2 = 0, 0.0, 0.0
    for k in range(len(boxes)):  # fixed order: reproducible
        nb, mb, m2b = parts[k]
        if nb == 0:
            continue
        delta = mb - mean
        total = n + nb
        mean += delta * nb / total
        m2 += m2b + delta * delta * n * nb / total
        n = total
    std = math.sqrt(m2 / n)
    if not np.isfinite(mean) or not np.isfinite(std):
        raise ValueError("the volume holds NaN or infinite values; clean them before predicting")
    if std == 0:
        raise ValueError("the volume is constant (standard deviation 0); it cannot be z-scored")
    return float(mean), float(std)


# --------------------------------------------------------------------------- client helpers

def _check_normalize(normalize):
    if normalize in NORMALIZATIONS:
        return normalize
    if isinstance(normalize, (tuple, list)) and len(normalize) == 2 and all(
            isinstance(v, (int, float, np.integer, np.floating)) and np.isfinite(v) for v in normalize) \
            and normalize[1] > 0:
        return (float(normalize[0]), float(normalize[1]))
    raise ValueError(f"normalize must be 'zscore', None or (mean, std) with std > 0, got {normalize!r}")


def _check_device_name(device):
    import torch
    try:
        torch.device(device)
    except (RuntimeError, TypeError) as exc:
        raise ValueError(f"device {device!r} is not a device name (cpu, cuda, cuda:1, ...)") from exc


def _check_precision(precision, device):
    """Refuse an unknown precision now, and one the given device cannot run; with
    ``device=None`` each worker resolves it for its own device (a GPU worker may run
    float16 where this client cannot)."""
    from emseg.device import PRECISIONS, inference_dtype
    if precision not in PRECISIONS:
        raise ValueError(f"unknown precision {precision!r}; choose one of {PRECISIONS}")
    if device is not None:
        inference_dtype(device, precision)


def _load_on_client(ref, progress):
    if hasattr(ref, "predict_logits"):
        return ref
    if isinstance(ref, (str, Path)):
        from emseg.pretrained import load_pretrained
        return load_pretrained(str(ref), device="cpu", progress=progress)
    raise TypeError(f"model must be a network, a checkpoint path or a pretrained name, "
                    f"got {type(ref).__name__}")


def _fingerprint(net):
    """The network's class, settings and a hash of its weights (to refuse resuming with another)."""
    h = hashlib.sha256()
    for name, tensor in sorted(net.state_dict().items()):
        h.update(name.encode())
        h.update(tensor.detach().cpu().contiguous().numpy().tobytes())
    spec = net.spec() if hasattr(net, "spec") else {"name": type(net).__name__}
    return {"spec": spec, "sha256": h.hexdigest()}


def _canon(value):
    import json
    return json.dumps(value, sort_keys=True, default=str)


def _connect(client, scheduler, n_workers, device):
    """(client, cluster we started or None, number of workers)."""
    from distributed import Client, LocalCluster

    if client is not None or scheduler is not None:
        c = client if client is not None else Client(scheduler)
        try:
            c.wait_for_workers(1, timeout=60)
        except Exception as exc:  # TimeoutError (distributed versions differ in its type)
            if client is None:
                c.close()
            raise ValueError(f"the dask cluster at {c.scheduler.address} has no workers after 60 s; "
                             "start some (dask worker ADDRESS) and try again") from exc
        return c, None, len(c.scheduler_info().get("workers", {}))
    n = n_workers or _default_workers(device)
    # GPU workers get a second thread, so that one block is read and written while another
    # is predicted (predictions themselves are serialised per worker)
    threads = 2 if _uses_gpu(device) else 1
    # this machine only: the scheduler and its dashboard listen on the loopback interface
    cluster = LocalCluster(n_workers=n, threads_per_worker=threads, processes=True,
                           host="127.0.0.1", dashboard_address="127.0.0.1:0")
    return Client(cluster), cluster, n


def _uses_gpu(device):
    import torch
    return (device is None or str(device).startswith("cuda")) and torch.cuda.is_available()


def _default_workers(device):
    import torch
    if _uses_gpu(device):
        return torch.cuda.device_count()
    return max(1, min(4, (os.cpu_count() or 2) // 2))


def _torch_threads(cluster, n_workers):
    """CPU threads per worker of a local cluster (the cores shared out); None elsewhere."""
    if cluster is None:
        return None
    return max(1, (os.cpu_count() or 1) // max(1, n_workers))


def _run_blocks(client, todo, vol_f, refs, fingerprints, store, params, progress, *, skipped):
    from distributed import as_completed
    from tqdm.auto import tqdm

    if not todo:
        return 0
    objects = [r for r in refs if not isinstance(r, (str, Path))]
    # paths travel with their weights' hash: a worker of a long-lived cluster reloads a
    # checkpoint that changed since it last loaded it
    models = [(str(r), f["sha256"]) if isinstance(r, (str, Path)) else r
              for r, f in zip(refs, fingerprints)]
    if objects:  # network objects: sent to every worker once, not with every task
        models = client.scatter(models, broadcast=True, hash=False)
    futures = [client.submit(_predict_block, b, vol_f, models, store, params, pure=False,
                             key=f"emseg-block-{'-'.join(map(str, b.index))}-{os.urandom(4).hex()}")
               for b in todo]
    where = {fut.key: block.index for fut, block in zip(futures, todo)}
    voxels = 0
    desc = "blocks" + (f" ({skipped} done before)" if skipped else "")
    try:
        with tqdm(total=len(futures), desc=desc, unit="block", disable=not progress) as bar:
            for fut in as_completed(futures):
                if fut.status == "error":
                    index = where[fut.key]
                    exc = fut.exception()
                    raise RuntimeError(
                        f"block {index} failed on a worker: {type(exc).__name__}: {exc}. "
                        f"Finished blocks are kept; rerun with the same settings to continue") from exc
                voxels += fut.result()
                bar.update(1)
    except BaseException:
        client.cancel(futures)
        raise
    return voxels


def _read(volume, box, squeeze_z):
    return volume[box[1:]][None] if squeeze_z else volume[box]


def _moments(volume, box, squeeze_z):
    x = _read(volume, box, squeeze_z).astype(np.float64)
    if x.size == 0:
        return 0, 0.0, 0.0
    mean = float(x.mean())
    return int(x.size), mean, float(np.square(x - mean).sum())


# --------------------------------------------------------------------------- worker side

_WORKER = {"lock": threading.Lock(), "models": {}, "device": None, "threads_set": False}


def _worker_device(requested):
    """This worker's device: the requested one, else a GPU by worker number, else the CPU."""
    import torch
    if requested is not None:
        return torch.device(requested)
    if not torch.cuda.is_available():
        return torch.device("cpu")
    try:
        from distributed import get_worker
        name = get_worker().name
        return torch.device(f"cuda:{int(name) % torch.cuda.device_count()}")
    except (ValueError, TypeError):  # a worker without a numeric name: its default GPU
        return torch.device("cuda")


def _worker_models(models, device):
    from emseg.pretrained import load_pretrained

    nets = []
    for ref in models:
        if isinstance(ref, tuple):  # (path or pretrained name, hash of the weights)
            key = (*ref, str(device))
            if key not in _WORKER["models"]:
                _WORKER["models"][key] = load_pretrained(ref[0], device=device, progress=False)
            nets.append(_WORKER["models"][key])
        else:
            nets.append(ref)
    return nets


def _check_worker_scales(nets, params):
    """Refuse to predict when a network loaded here works at another scale than planned."""
    from emseg.resample import check_scale

    for k, (net, planned) in enumerate(zip(nets, params["scales"])):
        scale = params["scale"] or check_scale(getattr(net, "working_scale", None))
        if tuple(scale) != tuple(planned):
            raise ValueError(f"network {k + 1} works at scale {tuple(scale)} on this worker, but the "
                             f"blocks were planned for {tuple(planned)} (has the checkpoint changed?)")


def _predict_block(block, volume, models, store, params):
    """One task: read the block with its halo, normalise, predict, crop, write, mark done."""
    import torch

    from emseg.infer import predict, predict_ensemble

    region = _read(volume, block.region, params["squeeze_z"])  # reading overlaps others' predicting
    image = region.astype(np.float32)  # as emseg.data.zscore: float32, then - mean, / std
    del region
    if params["stats"] is not None:
        mean, std = params["stats"]
        image -= np.float32(mean)
        image /= np.float32(std)
    with _WORKER["lock"]:  # one prediction at a time per worker process (its GPU / CPU threads)
        if params["threads"] and not _WORKER["threads_set"]:
            torch.set_num_threads(params["threads"])
            _WORKER["threads_set"] = True
        device = _worker_device(params["device"])
        nets = _worker_models(models, device)
        _check_worker_scales(nets, params)
        opts = dict(window=params["window"], overlap=params["overlap"], blending=params["blending"],
                    batch_size=params["batch_size"], output=params["output"], tta=params["tta"],
                    scale=params["scale"], device=device,
                    precision=params.get("precision", "auto"), progress=False)
        result = predict(nets[0], image, **opts) if len(nets) == 1 else predict_ensemble(nets, image, **opts)
    del image
    if params["output"] == "labels":
        data = result[block.crop]
    else:
        data = result[(slice(None),) + block.crop]
        if params["dtype"] == "uint8":
            data = np.clip(np.rint(data * 255), 0, 255).astype(np.uint8)
    store.write_block(block, np.ascontiguousarray(data))
    return int(math.prod(s.stop - s.start for s in block.interior))
