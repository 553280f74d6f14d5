"""Our CPU presets vs a plain MONAI recipe, side by side on real EM (issue: the training recipe).

Cases (real data from ``../shared/data``, not in the repository; each case skips with a
message when its data are absent):

* ``vnc-mito``, ``vnc-membranes``, ``vnc-ecs``: the *Drosophila* VNC ssTEM stack 1
  (Gerhard et al. 2013, 4.6 x 4.6 nm pixels), mitochondria / membranes / class 159
  (glia + extracellular space, the real ECS proxy) vs the rest; sections 0-15 train,
  16-19 test.
* ``platelet``: the real platelet label geometry (``render_real_geometry``: real
  labels, rendered images, 7 classes): the whole train (50 x 800 x 800) and eval
  (24 x 800 x 800) volumes and the central 48 sections of the test volume (48 x 609 x 400).
  (The 24 x 256 x 256 centre crops other benchmarks use hold no mitochondria in train.)

Arms, all on the same data, threads and test sections:

* ``ours``: the case's preset (``unet2d-cpu`` for the VNC cases and the platelet; also
  ``net2d3d-cpu`` for the platelet, arm ``ours-net2d3d``) through :func:`emseg.train.fit`
  and :func:`emseg.infer.predict` (best checkpoint when the case has an eval split). For
  the VNC cases with ``scale=2`` (the 4.6 nm pixels binned to 9.2 nm, the presets' advice
  for data finer than about 8 nm); the platelet data (10 nm) are used as they are.
* ``monai``: the plain peer script the issue describes: MONAI ``BasicUNet`` with
  features (16, 32, 64, 128, 256, 16) (BatchNorm), ``DiceCELoss(softmax=True,
  to_onehot_y=True)``, Adam 1e-3, random flips and 90-degree rotations, uniformly drawn
  windows of the preset's window size at the native grid, the preset's batch size and
  iterations; ``sliding_window_inference`` with Gaussian blending (overlap 0.25).
* ``monai-time``: the same script trained for the wall time ``ours`` took (same seed).
* ``monai-scaled``: the MONAI script on the same binned grid as ``ours`` (its prediction
  resampled back as ours are): separates the gain of the working resolution from the
  rest of the recipe.
* ``ours-bf16``: ``ours`` trained in bfloat16 (``cpu_bf16=True``, the default since
  2026-12-05; the other ours arms and ``legacy`` pin float32, as when they were first
  measured; issue 19's accuracy
  check: the test score within 0.01 of ``ours`` at the same iterations). Every ours arm
  is scored with float32 inference (``main``) and with the default ``precision="auto"``
  (``main_auto``, and ``labels_equal_auto``: the share of test voxels with the same label).
* ``legacy``: the ``*-cpu`` presets as they were before the recipe change
  (``unet2d-cpu-legacy``), for the before/after figures (native grid).

Each (case, arm, seed) is one resumable part: its result is written atomically to
``OUT/<case>/<arm>-seed<k>.json`` and reused on a rerun; ``ours``/``legacy`` runs
resume from their checkpoints if interrupted. The table prints mean +- sd over the
seeds that are done and the ratios ours / MONAI.

    python bench/bench_recipe.py --cases vnc-mito --seeds 0 1 2
    python bench/bench_recipe.py --cases vnc-mito --arms ours monai --iterations 600
    python bench/bench_recipe.py --cases platelet --arms ours --scale 2 --out runs/bench_recipe_scale2
    python bench/bench_recipe.py --print            # the table of what is done
"""
import argparse
import json
import math
import time
from pathlib import Path

import numpy as np
import torch

from emseg.checkpoint import load_checkpoint
from emseg.data import load_vnc
from emseg.data.datasets.platelet import render_real_geometry
from emseg.device import describe, pick_device
from emseg.infer import predict
from emseg.metrics import segmentation_report
from emseg.models import count_parameters
from emseg.train import PRESETS, fit

ROOT = Path(__file__).resolve().parents[1]
CASES = ("vnc-mito", "vnc-membranes", "vnc-ecs", "platelet")
ARMS = ("ours", "ours-bf16", "ours-net2d3d", "monai", "monai-time", "monai-scaled", "legacy")
VNC_TARGETS = {"vnc-mito": "mitochondria", "vnc-membranes": "membranes",
               "vnc-ecs": "extracellular"}
VNC_TRAIN, VNC_TEST = slice(0, 16), slice(16, 20)
PLATELET_CROP = {"train": (50, 800, 800), "eval": (24, 800, 800), "test": (48, 609, 400)}
PLATELET_SEEDS = {"train": 0, "eval": 1, "test": 2}
ORGANELLES = (2, 3, 4, 5, 6)
PRESET_OF = {"ours": "unet2d-cpu", "ours-bf16": "unet2d-cpu", "ours-net2d3d": "net2d3d-cpu",
             "legacy": "unet2d-cpu-legacy"}
# settings an arm changes in its preset: the recipe's arms train in float32, as they did when
# they were first measured (cpu_bf16 became the default later); ours-bf16 in bfloat16
CHANGES = {"ours": {"cpu_bf16": False}, "ours-net2d3d": {"cpu_bf16": False},
           "legacy": {"cpu_bf16": False}, "ours-bf16": {"cpu_bf16": True}}
CASE_SCALE = {"vnc-mito": (1, 2, 2), "vnc-membranes": (1, 2, 2), "vnc-ecs": (1, 2, 2)}


# --------------------------------------------------------------------------- data

def load_case(case, shared):
    """``(train, val or None, test, n_classes, class_names)`` of a case."""
    shared = Path(shared)
    if case in VNC_TARGETS:
        path = shared / "vnc"
        if not path.is_dir():
            raise FileNotFoundError(f"{path} is missing")
        train = load_vnc(target=VNC_TARGETS[case], sections=VNC_TRAIN, path=path)
        test = load_vnc(target=VNC_TARGETS[case], sections=VNC_TEST, path=path)
        return train, None, test, 2, ["rest", VNC_TARGETS[case]]
    labels = shared / "platelet"
    if not (labels / "train-labels.tif").is_file():
        raise FileNotFoundError(f"{labels} is missing")
    split = {s: render_real_geometry(labels / f"{s}-labels.tif", crop=PLATELET_CROP[s],
                                     seed=PLATELET_SEEDS[s], weights=False)
             for s in ("train", "eval", "test")}
    from emseg.data import CLASS_NAMES
    return split["train"], split["eval"], split["test"], 7, list(CLASS_NAMES)


def score(true, pred, n_classes, names):
    """Per-class IoU, foreground IoU (binary) or organelle MIoU (platelet)."""
    organelles = ORGANELLES if n_classes == 7 else None
    rep = segmentation_report(true, pred, n_classes=n_classes, class_names=names,
                              organelle_classes=organelles)
    out = {"iou": rep["iou"], "miou_all": rep["miou_all"], "class_names": names}
    out["main"] = rep["miou_organelle"] if organelles else rep["iou"][1]
    return out


# --------------------------------------------------------------------------- arms

def run_ours(preset_name, data, folder, seed, iterations, device, scale=None, changes=None):
    """Train a preset with fit (resuming an interrupted run); predict the test volume."""
    train, val, test, n_classes, names = data
    settings = {"scale": scale, **(changes or {})}
    if n_classes != 7:
        settings["organelle_classes"] = None
    model, cfg = PRESETS[preset_name].build(n_classes, seed=seed, iterations=iterations or None,
                                            **settings)
    resume = (folder / "checkpoints" / "last.pt").is_file()
    t0 = time.perf_counter()
    history = fit(model, train, val, config=cfg, output_dir=folder, resume=resume,
                  overwrite=not resume, device=device, progress=False)
    wall = time.perf_counter() - t0
    if val is not None:
        from emseg.checkpoint import load_model
        model = load_model(folder / "checkpoints" / "best.pt", device=device)
    t1 = time.perf_counter()
    pred = predict(model, test.image, window=cfg.window, overlap=0.25, output="labels",
                   device=device, precision="float32", progress=False)
    infer_seconds = time.perf_counter() - t1
    auto = predict(model, test.image, window=cfg.window, overlap=0.25, output="labels",
                   device=device, precision="auto", progress=False)
    result = score(test.labels, pred, n_classes, names)
    result.update(main_auto=score(test.labels, auto, n_classes, names)["main"],
                  labels_equal_auto=float(np.mean(auto == pred)),
                  precision=load_checkpoint(folder / "checkpoints" / "last.pt").get("precision"),
                  changes=changes or {})
    result.update(preset=preset_name, iterations=cfg.iterations, batch_size=cfg.batch_size,
                  window=list(cfg.window), scale=list(model.working_scale),
                  train_seconds=float(history["seconds"][-1]), wall_seconds_this_call=wall,
                  infer_seconds=infer_seconds, parameters=count_parameters(model),
                  curve=_curve(history))
    return result


def _curve(history):
    """Training loss, mean over 10 % bins (to judge a plateau), and the validation record."""
    loss = np.asarray(history["loss"], float)
    bins = np.array_split(loss, min(10, len(loss)))
    return {"loss_bins": [float(b.mean()) for b in bins], "val": history["val"]}


def run_monai(data, *, window, batch_size, iterations, seed, device, seconds=None, scale=None):
    """The plain MONAI script; ``seconds`` trains for that wall time instead of iterations;
    ``scale`` runs it on the binned grid (prediction resampled back to the test grid)."""
    from monai.inferers import sliding_window_inference
    from monai.losses import DiceCELoss
    from monai.networks.nets import BasicUNet

    from emseg.resample import check_scale, downscale_volume, upscale_probabilities

    train, _, test_native, n_classes, names = data
    scale = check_scale(scale)
    train, test = downscale_volume(train, scale), downscale_volume(test_native, scale)
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    net = BasicUNet(spatial_dims=2, in_channels=1, out_channels=n_classes,
                    features=(16, 32, 64, 128, 256, 16)).to(device)
    loss_fn = DiceCELoss(softmax=True, to_onehot_y=True)
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    image, labels = train.image, train.labels
    wy, wx = window
    z, h, w = image.shape
    done, t0 = 0, time.perf_counter()
    net.train()
    while (done < iterations) if seconds is None else (time.perf_counter() - t0 < seconds):
        xs, ys = [], []
        for _ in range(batch_size):
            k, y0, x0 = rng.integers(z), rng.integers(h - wy + 1), rng.integers(w - wx + 1)
            img = image[k, y0:y0 + wy, x0:x0 + wx]
            lab = labels[k, y0:y0 + wy, x0:x0 + wx]
            turns = int(rng.integers(4))
            img, lab = np.rot90(img, turns), np.rot90(lab, turns)
            for axis in (0, 1):
                if rng.random() < 0.5:
                    img, lab = np.flip(img, axis), np.flip(lab, axis)
            xs.append(np.ascontiguousarray(img))
            ys.append(np.ascontiguousarray(lab))
        x = torch.from_numpy(np.stack(xs)[:, None]).float().to(device)
        y = torch.from_numpy(np.stack(ys)[:, None].astype(np.int64)).to(device)
        opt.zero_grad(set_to_none=True)
        loss = loss_fn(net(x), y)
        loss.backward()
        opt.step()
        done += 1
    train_seconds = time.perf_counter() - t0
    net.eval()
    t1 = time.perf_counter()
    preds = []
    with torch.no_grad():
        for k in range(test.image.shape[0]):
            x = torch.from_numpy(test.image[k][None, None]).float().to(device)
            logits = sliding_window_inference(x, tuple(window), 4, net, overlap=0.25,
                                              mode="gaussian")
            probs = torch.softmax(logits[0], 0)[:, None]  # (C, 1, y, x)
            probs = upscale_probabilities(probs, (1,) + test_native.image.shape[1:], scale)
            preds.append(probs.argmax(0)[0].cpu().numpy().astype(np.uint8))
    result = score(test_native.labels, np.stack(preds), n_classes, names)
    result.update(iterations=done, batch_size=batch_size, window=list(window), scale=list(scale),
                  train_seconds=train_seconds, infer_seconds=time.perf_counter() - t1,
                  parameters=sum(p.numel() for p in net.parameters()))
    return result


# --------------------------------------------------------------------------- driver

def _save(path, result):
    from emseg.atomic import atomic_path
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(result, indent=1))


def run_part(case, arm, seed, args, device, data):
    folder = Path(args.out) / case
    path = folder / f"{arm}-seed{seed}.json"
    if path.is_file():
        return json.loads(path.read_text())
    if arm == "ours-net2d3d" and case != "platelet":
        return None
    ours_preset = PRESETS[PRESET_OF["ours"]]
    window = tuple(ours_preset.config.window)[-2:]
    batch = ours_preset.config.batch_size
    iterations = args.iterations or ours_preset.config.iterations
    print(f"{case} / {arm} / seed {seed}: training ...", flush=True)
    if arm in PRESET_OF:
        result = run_ours(PRESET_OF[arm], data, folder / f"{arm}-seed{seed}", seed,
                          args.iterations, device,
                          scale=None if arm == "legacy" else
                          (1, args.scale, args.scale) if args.scale else CASE_SCALE.get(case),
                          changes=CHANGES.get(arm))
    elif arm in ("monai", "monai-scaled"):
        result = run_monai(data, window=window, batch_size=batch, iterations=iterations,
                           seed=seed, device=device,
                           scale=CASE_SCALE.get(case) if arm == "monai-scaled" else None)
    else:  # monai-time: the wall time of ours with the same seed
        ours = folder / f"ours-seed{seed}.json"
        if not ours.is_file():
            print(f"  {case} / monai-time / seed {seed}: needs the ours run first; skipped")
            return None
        seconds = json.loads(ours.read_text())["train_seconds"]
        result = run_monai(data, window=window, batch_size=batch, iterations=iterations,
                           seed=seed, device=device, seconds=seconds)
    result.update(case=case, arm=arm, seed=seed, device=describe(device),
                  threads=torch.get_num_threads())
    _save(path, result)
    print(f"  {case} / {arm} / seed {seed}: main score {result['main']:.4f}, "
          f"{result['iterations']} iterations in {result['train_seconds']:.0f} s", flush=True)
    return result


def _mean_sd(values):
    values = [v for v in values if v is not None and not math.isnan(v)]
    if not values:
        return "-"
    if len(values) == 1:
        return f"{values[0]:.3f}"
    return f"{np.mean(values):.3f} +- {np.std(values, ddof=1):.3f}"


def print_table(out):
    """Mean +- sd per case and arm, per-class IoU and the ratios ours / MONAI."""
    rows = []
    for case in CASES:
        results = [json.loads(p.read_text()) for p in sorted((Path(out) / case).glob("*-seed*.json"))]
        if not results:
            continue
        by_arm = {}
        for r in results:
            by_arm.setdefault(r["arm"], []).append(r)
        what = "organelle MIoU" if case == "platelet" else "foreground IoU"
        print(f"\n{case} ({what}; {results[0]['device']}, {results[0]['threads']} threads)")
        print(f"{'arm':14s} {'seeds':>5s} {'score':>17s} {'iterations':>10s} {'train s':>8s} "
              "per-class IoU")
        for arm in ARMS:
            rs = by_arm.get(arm)
            if not rs:
                continue
            per_class = np.mean([r["iou"] for r in rs], axis=0)
            print(f"{arm:14s} {len(rs):5d} {_mean_sd([r['main'] for r in rs]):>17s} "
                  f"{int(np.mean([r['iterations'] for r in rs])):10d} "
                  f"{np.mean([r['train_seconds'] for r in rs]):8.0f} "
                  + " ".join(f"{v:.3f}" for v in per_class))
        for peer in ("monai", "monai-time"):
            pairs = [(o["main"], p["main"]) for o in by_arm.get("ours", [])
                     for p in by_arm.get(peer, []) if o["seed"] == p["seed"]]
            if pairs:
                ratios = [a / b if b else math.inf for a, b in pairs]
                wins = sum(a >= b for a, b in pairs)
                print(f"ours / {peer}: ratio {_mean_sd(ratios)} over {len(pairs)} paired seed(s); "
                      f"ours >= peer in {wins} of {len(pairs)}")
        pairs = [(b["main"] - o["main"], b["main_auto"] - o["main"], b["labels_equal_auto"])
                 for o in by_arm.get("ours", []) for b in by_arm.get("ours-bf16", [])
                 if o["seed"] == b["seed"] and "main_auto" in b]
        if pairs:
            d, d_auto, same = zip(*pairs)
            print(f"ours-bf16 - ours: {_mean_sd(d)} (float32 inference), {_mean_sd(d_auto)} "
                  f"(bf16 trained and inferred) over {len(pairs)} paired seed(s); bf16 inference "
                  f"labels equal to float32 on {100 * min(same):.2f}-{100 * max(same):.2f} % of voxels")
        rows.append(case)
    if not rows:
        print(f"no results under {out} yet")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--cases", nargs="+", default=list(CASES), choices=CASES)
    parser.add_argument("--arms", nargs="+", default=["ours", "monai", "monai-time"],
                        choices=ARMS)
    parser.add_argument("--seeds", nargs="+", type=int, default=[0])
    parser.add_argument("--iterations", type=int, default=None,
                        help="override the presets' iterations (the same for every arm)")
    parser.add_argument("--scale", type=int, default=None,
                        help="working scale (x/y binning) of the ours arms instead of the "
                             "case's (VNC: 2, platelet: 1), e.g. --scale 2 for the platelet; "
                             "use another --out")
    parser.add_argument("--shared", default=str(ROOT.parent / "shared" / "data"))
    parser.add_argument("--out", default=str(ROOT / "runs" / "bench_recipe"))
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--device", default=None)
    parser.add_argument("--print", action="store_true", help="only print the table")
    args = parser.parse_args()
    if args.print:
        print_table(args.out)
        return
    torch.set_num_threads(args.threads)
    device = pick_device(args.device)
    for case in args.cases:
        try:
            data = load_case(case, args.shared)
        except FileNotFoundError as err:
            print(f"{case}: skipped ({err}; pass --shared FOLDER)")
            continue
        for seed in args.seeds:
            for arm in args.arms:
                run_part(case, arm, seed, args, device, data)
    print_table(args.out)


if __name__ == "__main__":
    main()
