"""ReIsoSeg vs the 3D U-Net on anisotropic volumes, and the 2D U-Net template on real VNC.

Three parts, each runnable alone with ``--only`` (each a few minutes on a 2-core CPU):

* ``phantom``: the synthetic platelet phantom (``emseg.data``, train/eval/test splits,
  40 x 10 x 10 nm voxels: anisotropy 4, exact ground truth, 7 classes).
* ``real-geometry``: the **real label volumes** of the platelet dataset
  (``../shared/data/platelet``, not in the repository), centre crops of 24 x 256 x 256
  rendered into images by the phantom renderer (as ``bench_claims.py`` does): real
  shapes and class mix, synthetic images, exact ground truth.

  In both, ``unet3d-cpu`` (UNet3D, width 8, depth 3) and ``reisoseg-cpu`` (ReIsoSeg,
  features 8-8-16-16-32, PI module in training) train with the **same budget**: the same
  iterations, batch, window (16 x 64 x 64), data, seed and anisotropy 4 (so the same
  pooling rule); best checkpoint on the eval split; per-class IoU on the test split,
  side by side with the ratio ReIsoSeg / UNet3D. ReIsoSeg's inference uses only its
  anisotropic branch, so its test prediction costs no PI module: the script prints
  both networks' inference times and ReIsoSeg's parameters with and without the PI
  module.
* ``vnc``: the real *Drosophila* VNC ssTEM stack (``../shared/data/vnc``, stack 1,
  loader :func:`emseg.data.load_vnc`), mitochondria vs rest: sections 0-15 for training,
  16-19 for testing (the dataset README's 80/20 suggestion). They are written as the
  template folder layout (``train/images``, ``train/labels``, ``test/images``, ``test/labels``) and trained
  with the **unet2d template** (``emseg/templates/unet2d.toml``) through
  :func:`emseg.templates.train_from_config` and :func:`~emseg.templates.predict_from_config`,
  made CPU-sized with config overrides (those of the ``unet2d-cpu`` preset: width 16,
  'same' padding, 128 x 128 windows, batch 4); no validation split, the last checkpoint
  is tested.

Finished runs are reused (a run whose history reaches the requested iterations) and
interrupted ones resume exactly, as in ``bench_claims.py``. Results go to
``OUT/<part>/results.json``; without ``--only`` every part runs and everything is printed.

    python bench/bench_reisoseg.py --only phantom
    python bench/bench_reisoseg.py --only real-geometry --shared ../shared/data
    python bench/bench_reisoseg.py --only vnc --shared ../shared/data
    python bench/bench_reisoseg.py            # all three, or print the finished ones
"""
import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch

from emseg.checkpoint import load_model
from emseg.templates import (apply_overrides, load_config, predict_from_config,
                          train_from_config)
from emseg.data import CLASS_NAMES, ORGANELLE_CLASSES, load_platelet_splits, load_vnc, write_volume
from emseg.data.datasets.platelet import render_real_geometry
from emseg.device import describe, pick_device
from emseg.infer import predict
from emseg.metrics import segmentation_report
from emseg.models import count_parameters
from emseg.train import PRESETS, fit

PARTS = ("phantom", "real-geometry", "vnc")
ARMS = {"UNet3D": "unet3d-cpu", "ReIsoSeg": "reisoseg-cpu"}
CROP = (24, 256, 256)  # as bench_claims.py
SPLIT_SEEDS = {"train": 0, "eval": 1, "test": 2}
OVERLAP = 0.5
VNC_TRAIN, VNC_TEST = slice(0, 16), slice(16, 20)
# the unet2d template made CPU-sized (the unet2d-cpu preset's network and recipe)
VNC_OVERRIDES = ["model.width=16", "model.depth=4", 'model.padding="same"',
                 "train.window=[128, 128]", "train.batch_size=4", "train.lr=0.001",
                 "train.spacing=[1, 42, 42]", "predict.window=[256, 256]",
                 'data.validation="none"', 'data.class_names=["rest", "mitochondrion"]']


def real_geometry(split, shared):
    """A centre crop of the real labels of ``split``, rendered by the phantom renderer."""
    return render_real_geometry(Path(shared) / "platelet" / f"{split}-labels.tif", crop=CROP,
                                seed=SPLIT_SEEDS[split], weights=split == "train")


def platelet_volumes(part, shared):
    if part == "phantom":
        return list(load_platelet_splits(source="phantom"))
    return [real_geometry(s, shared) for s in ("train", "eval", "test")]


def _finished(folder, iterations, checkpoint="best.pt"):
    """Whether the run in ``folder`` wrote ``checkpoint`` and reached ``iterations``."""
    history = folder / "history.json"
    if not (folder / "checkpoints" / checkpoint).is_file() or not history.is_file():
        return False
    done = json.loads(history.read_text())["iteration"]
    return bool(done) and done[-1] == iterations


def train_or_reuse(name, preset_name, train, val, folder, iterations, device):
    """Train one arm (or reuse a finished run); return (model, train seconds)."""
    # the same seed for both arms
    model, config = PRESETS[preset_name].build(7, seed=0, iterations=iterations,
                                               eval_every=max(1, iterations // 2))
    if _finished(folder, iterations):
        print(f"{name}: reusing {folder}")
    else:
        resume = (folder / "checkpoints" / "last.pt").is_file()
        t0 = time.perf_counter()
        fit(model, train, val, config=config, output_dir=folder, resume=resume,
            overwrite=not resume, device=device, progress=False)
        print(f"{name}: trained {iterations} iterations in {time.perf_counter() - t0:.0f} s")
    seconds = np.asarray(json.loads((folder / "history.json").read_text())["seconds"])
    # the median step excludes the validations (they fall between two iterations)
    per_it = float(np.median(np.diff(seconds))) if len(seconds) > 1 else float(seconds[-1])
    model = load_model(folder / "checkpoints" / "best.pt", device=device)
    return model, float(seconds[-1]), per_it, config


def pi_cost(model, window, device, repeats=3):
    """Seconds of one no-grad forward of a batch-2 window: (eval mode, both branches)."""
    x = torch.zeros((2, 1, *window), device=device)
    times = {"ani": [], "both": []}
    with torch.no_grad():
        for _ in range(repeats):
            for key, fn in (("ani", model.predict_logits), ("both", model.forward_branches)):
                t0 = time.perf_counter()
                fn(x)
                times[key].append(time.perf_counter() - t0)
    return float(np.median(times["ani"])), float(np.median(times["both"]))


def run_platelet_part(part, args, device):
    train, val, test = platelet_volumes(part, args.shared)
    print(f"{part}: train {train.shape}, eval {val.shape}, test {test.shape}; anisotropy 4 "
          f"(40 x 10 x 10 nm voxels); {args.iterations} iterations per network; device "
          f"{describe(device)}, {torch.get_num_threads()} thread(s)")
    rows = {}
    for arm, preset_name in ARMS.items():
        model, train_s, per_it, config = train_or_reuse(arm, preset_name, train, val,
                                                Path(args.out) / part / arm.lower(),
                                                args.iterations, device)
        t0 = time.perf_counter()
        labels = predict(model, test.image, window=config.window, overlap=OVERLAP,
                         output="labels", device=device, progress=False)
        infer_s = time.perf_counter() - t0
        report = segmentation_report(test.labels, labels, n_classes=7,
                                     class_names=list(CLASS_NAMES),
                                     organelle_classes=ORGANELLE_CLASSES)
        total = count_parameters(model)
        inference = total - (count_parameters(model.pi) if hasattr(model, "pi") else 0)
        rows[arm] = {"iou": [float(v) for v in report["iou"]], "miou_all": report["miou_all"],
                     "miou_organelle": report["miou_organelle"],
                     "train_seconds": train_s, "s_per_iteration": per_it,
                     "inference_seconds": infer_s, "parameters": total,
                     "inference_parameters": inference, "pools": [list(p) for p in model.pools],
                     "voxels": [int(v) for v in report["voxels"]]}
        if hasattr(model, "forward_branches"):
            rows[arm]["forward_ani_s"], rows[arm]["forward_both_s"] = pi_cost(
                model.eval(), config.window, device)
    result = {"part": part, "device": describe(device), "threads": torch.get_num_threads(),
              "iterations": args.iterations, "test_shape": list(test.shape),
              "window": list(PRESETS["unet3d-cpu"].config.window),
              "batch_size": PRESETS["unet3d-cpu"].config.batch_size, "arms": rows}
    _save(Path(args.out) / part / "results.json", result)
    return result


def _vnc_folder(folder, shared):
    """VNC stack 1 in the template layout: train/images, train/labels (16 sections), test/..."""
    for split, sections in (("train", VNC_TRAIN), ("test", VNC_TEST)):
        vol = load_vnc(target="mitochondria", sections=sections, path=Path(shared) / "vnc")
        write_volume(folder / split / "images" / "vnc.tif", vol.image, overwrite=True)
        write_volume(folder / split / "labels" / "vnc.tif", vol.labels, overwrite=True)
    return folder


def run_vnc(args, device):
    out = Path(args.out) / "vnc"
    data = _vnc_folder(out / "data", args.shared)
    config = apply_overrides(load_config("unet2d"), VNC_OVERRIDES + [
        f"train.iterations={args.vnc_iterations}", f"train.eval_every={args.vnc_iterations}",
        f'data.folder="{data.resolve()}"', f'train.output="{(out / "unet2d").resolve()}"'])
    run = config.resolve(config.train.output)
    if _finished(run, args.vnc_iterations, checkpoint="last.pt"):
        print(f"VNC 2D U-Net: reusing {run}")
        train_s = json.loads((run / "history.json").read_text())["seconds"][-1]
    else:
        resume = (run / "checkpoints" / "last.pt").is_file()
        config = apply_overrides(config, [f"train.resume={'true' if resume else 'false'}",
                                          f"train.overwrite={'false' if resume else 'true'}"])
        print(f"VNC: train {VNC_TRAIN.stop - VNC_TRAIN.start} sections, test "
              f"{VNC_TEST.stop - VNC_TEST.start}; unet2d template + {VNC_OVERRIDES}, "
              f"{args.vnc_iterations} iterations; device {describe(device)}")
        train_s = train_from_config(config, device=device, progress=False)["metrics"]["seconds"]
    pred = predict_from_config(config, device=device, progress=False, overwrite=True)
    overall = pred["metrics"]["overall"]
    result = {"part": "vnc", "device": describe(device), "threads": torch.get_num_threads(),
              "iterations": args.vnc_iterations, "overrides": VNC_OVERRIDES,
              "train_sections": [VNC_TRAIN.start, VNC_TRAIN.stop],
              "test_sections": [VNC_TEST.start, VNC_TEST.stop], "iou": overall["iou"],
              "dice": overall["dice"], "voxels": overall["voxels"],
              "accuracy": overall["accuracy"], "train_seconds": train_s,
              "inference_seconds": pred["metrics"]["seconds"], "predictions": str(pred["output"])}
    _save(out / "results.json", result)
    return result


def _save(path, result):
    from emseg.atomic import atomic_path
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(result, indent=1, default=float))


def _fmt(v):
    return "—" if v is None or not np.isfinite(v) else f"{v:.4f}"


def _ratio(a, b):
    return "—" if a is None or b is None or not np.isfinite(a) or not np.isfinite(b) or b == 0 \
        else f"{a / b:.2f}"


def print_platelet(result):
    a, b = result["arms"]["UNet3D"], result["arms"]["ReIsoSeg"]
    print(f"\n### {result['part']}: test {tuple(result['test_shape'])}, {result['iterations']} "
          f"iterations of batch {result['batch_size']} x {tuple(result['window'])}, "
          f"{result['device']}, {result['threads']} thread(s)\n")
    print("| class | test voxels | UNet3D IoU | ReIsoSeg IoU | ratio ReIsoSeg/UNet3D |")
    print("|---|---:|---:|---:|---:|")
    for k, name in enumerate(CLASS_NAMES):
        print(f"| {name} | {a['voxels'][k]:,} | {_fmt(a['iou'][k])} | {_fmt(b['iou'][k])} | "
              f"{_ratio(b['iou'][k], a['iou'][k])} |")
    for key, label in (("miou_all", "MIoU (all classes)"), ("miou_organelle", "MIoU (organelles 2-6)")):
        print(f"| **{label}** | | {_fmt(a[key])} | {_fmt(b[key])} | {_ratio(b[key], a[key])} |")
    print("\n| | UNet3D | ReIsoSeg | ratio |\n|---|---:|---:|---:|")
    print(f"| parameters (training) | {a['parameters']:,} | {b['parameters']:,} | "
          f"{b['parameters'] / a['parameters']:.2f} |")
    print(f"| parameters (inference) | {a['inference_parameters']:,} | "
          f"{b['inference_parameters']:,} | {b['inference_parameters'] / a['inference_parameters']:.2f} |")
    print(f"| training s/iteration (median) | {a['s_per_iteration']:.3f} | {b['s_per_iteration']:.3f} | "
          f"{b['s_per_iteration'] / a['s_per_iteration']:.2f} |")
    print(f"| test inference s | {a['inference_seconds']:.2f} | {b['inference_seconds']:.2f} | "
          f"{b['inference_seconds'] / a['inference_seconds']:.2f} |")
    print(f"| training wall time, s (with validation) | {a['train_seconds']:.0f} | "
          f"{b['train_seconds']:.0f} | {b['train_seconds'] / a['train_seconds']:.2f} |")
    print(f"| pools | {a['pools']} | {b['pools']} | |")
    if "forward_ani_s" in b:
        print(f"\nReIsoSeg, one no-grad forward of 2 x {tuple(result['window'])}: anisotropic "
              f"branch only (what inference runs) {b['forward_ani_s']:.3f} s, with the PI "
              f"branch {b['forward_both_s']:.3f} s "
              f"({b['forward_both_s'] / b['forward_ani_s']:.2f}x)")


def print_vnc(result):
    print(f"\n### VNC stack 1 (real ssTEM), 2D U-Net template: train sections "
          f"{result['train_sections'][0]}-{result['train_sections'][1] - 1}, test "
          f"{result['test_sections'][0]}-{result['test_sections'][1] - 1}; "
          f"{result['iterations']} iterations, {result['device']}, {result['threads']} "
          f"thread(s)\n")
    print("| class | test pixels | IoU | Dice |\n|---|---:|---:|---:|")
    for k, name in enumerate(("rest", "mitochondrion")):
        print(f"| {name} | {result['voxels'][k]:,} | {_fmt(result['iou'][k])} | "
              f"{_fmt(result['dice'][k])} |")
    print(f"\nmitochondria IoU {_fmt(result['iou'][1])}; training {result['train_seconds']:.0f} s, "
          f"test prediction {result['inference_seconds']:.1f} s")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", choices=PARTS, help="run one part (default: all)")
    parser.add_argument("--shared", default=str(Path(__file__).resolve().parents[2] / "shared" / "data"),
                        help="folder holding platelet/*-labels.tif and vnc/ (real-geometry, vnc)")
    parser.add_argument("--out", default="runs/reisoseg")
    parser.add_argument("--iterations", type=int, default=400,
                        help="training iterations of each 3D network (equal budget)")
    parser.add_argument("--vnc-iterations", type=int, default=2500,
                        help="training iterations of the VNC 2D U-Net (at 1000 it still "
                             "predicted background only: mitochondria are 4.5 %% of the pixels)")
    parser.add_argument("--threads", type=int, default=1,
                        help="torch CPU threads (1: steady timings on a shared machine)")
    parser.add_argument("--device", default=None)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    device = pick_device(args.device)
    for part in ([args.only] if args.only else PARTS):
        if part == "vnc":
            print_vnc(run_vnc(args, device))
        else:
            print_platelet(run_platelet_part(part, args, device))


if __name__ == "__main__":
    main()
