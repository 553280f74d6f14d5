"""ECS-Net vs a plain U-Net on real EM: the VNC ssTEM stack's glia/extracellular class (159).

The ECS-Net paper claims that its cascade with the shape-aware focal loss and the
contrastive loss beats a U-Net at ECS segmentation. Its data are not public; the real
proxy here is class 159 (glia/extracellular space) of the segmented Drosophila VNC stack
(Gerhard et al. 2013, CC BY-NC-SA 3.0), 20 sections of 1024 x 1024 at 4.6 nm:

* train on sections 0-15, evaluate on sections 16-19 (no validation: the last weights);
* each variant (:data:`emseg.models.ecsnet.ABLATIONS`) with the same preset, window,
  batch, iterations and seed, through :func:`emseg.ecs.train_ecs`;
* scores at probability > 0.5 (the original's threshold): Dice, IoU, precision, recall,
  HD95 (nm) over the 4 test sections; the threshold-free average precision; and Dice/IoU
  at a threshold tuned on 4 training sections (focal losses with alpha = 0.25 on a rare
  class give low probabilities, so 0.5 can miss everything); each variant's ratio to
  the U-Net.

    python bench/bench_ecs.py                          # U-Net and ECS-Net, ecsnet-cpu preset
    python bench/bench_ecs.py --variants unet shape contrastive ecsnet --iterations 500
    python bench/bench_ecs.py --quick                  # a smoke run: 2 crops, 10 iterations

The data are read from ``../shared/data/vnc`` next to the repository (or ``--data``);
they are not part of the repository. Single runs: expect seed-to-seed noise.
"""
import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DATA = Path(os.environ.get("EMSEG_SHARED_DATA", ROOT.parent / "shared" / "data")) / "vnc"


def main(argv=None):
    from emseg.atomic import atomic_path
    from emseg.data import load_vnc
    from emseg.device import describe, pick_device
    from emseg.ecs import evaluate_ecs, predict_ecs, train_ecs
    from emseg.metrics import average_precision, binary_metrics
    from emseg.models import count_parameters
    from emseg.models.ecsnet import ABLATION_LABELS, ABLATIONS

    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA, help="the VNC folder (stack1/...)")
    ap.add_argument("--variants", nargs="+", default=["unet", "ecsnet"], choices=list(ABLATIONS))
    ap.add_argument("--preset", default="cpu", choices=["cpu", "original"])
    ap.add_argument("--iterations", type=int, default=None, help="default: the preset's")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--quick", action="store_true", help="smoke run: 256 x 256 crops, 10 iterations")
    ap.add_argument("--output", type=Path, default=ROOT / "runs" / "bench_ecs",
                    help="checkpoints and results.json")
    ap.add_argument("--device", default=None)
    args = ap.parse_args(argv)

    if not (args.data / "stack1").is_dir():
        print(f"no VNC data at {args.data} (expects stack1/raw and stack1/labels): skipped")
        return 0
    dev = pick_device(args.device)
    torch.set_num_threads(min(torch.get_num_threads(), os.cpu_count() or 1))
    train = load_vnc(target="extracellular", path=args.data, sections=slice(0, 16))
    test = load_vnc(target="extracellular", path=args.data, sections=slice(16, 20))
    iterations = args.iterations
    if args.quick:
        train, test = train.crop((2, 256, 256)), test.crop((1, 256, 256))
        iterations = 10
    print(f"VNC stack 1, class 159 (glia/extracellular) as ECS: train {train.shape} "
          f"(ECS {train.labels.mean():.3f}), test {test.shape} (ECS {test.labels.mean():.3f}); "
          f"{describe(dev)}, torch {torch.__version__}, {torch.get_num_threads()} threads")

    rows, results = [], {}
    for variant in args.variants:
        t0 = time.perf_counter()
        model, history = train_ecs(train, None, preset=args.preset, variant=variant,
                                   iterations=iterations, seed=args.seed,
                                   output_dir=args.output / variant, overwrite=True, device=dev)
        train_s = time.perf_counter() - t0
        t1 = time.perf_counter()
        prob = predict_ecs(model, test.image, device=dev)
        predict_s = time.perf_counter() - t1
        scores = evaluate_ecs(test.labels, prob, voxel_size=test.voxel_size)
        # a threshold tuned on training sections (0, 4, 8, 12), not on the test sections
        tune = train.image[::4]
        tune_prob = predict_ecs(model, tune, device=dev)
        grid = np.round(np.linspace(0.02, 0.98, 49), 2)
        tune_true = train.labels[::4].astype(bool)

        def iou(t):  # counts only: binary_metrics would also compute HD95 49 times
            pred = tune_prob > t
            union = np.count_nonzero(tune_true | pred)
            return np.count_nonzero(tune_true & pred) / union if union else 1.0

        tuned = max(grid, key=iou)
        at_tuned = binary_metrics(test.labels, prob > tuned)
        results[variant] = {**{k: scores[k] for k in ("dice", "iou", "precision", "recall", "hd95_nm")},
                            "average_precision": average_precision(test.labels, prob),
                            "tuned_threshold": float(tuned), "iou_tuned": at_tuned["iou"],
                            "dice_tuned": at_tuned["dice"],
                            "predicted_fraction": float((prob > 0.5).mean()),
                            "parameters": count_parameters(model), "iterations": len(history["loss"]),
                            "train_seconds": train_s, "predict_seconds": predict_s,
                            "final_loss": float(np.mean(history["loss"][-50:]))}
        r = results[variant]
        print(f"{variant}: {r['iterations']} iterations in {train_s:.0f} s, test IoU {r['iou']:.4f}",
              flush=True)
        rows.append(variant)

    base = results.get("unet")

    def ratio(r, key):
        return f"{r[key] / base[key]:.2f}" if base and base[key] > 0 else "-"

    print()
    print("At p > 0.5 (the original's threshold):")
    print("| variant | parameters | iterations | train s | Dice | IoU | precision | recall | "
          "HD95 nm | ECS predicted | IoU / U-Net | Dice / U-Net |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for v in rows:
        r = results[v]
        print(f"| {ABLATION_LABELS[v]} | {r['parameters']:,} | {r['iterations']} | "
              f"{r['train_seconds']:.0f} | {r['dice']:.4f} | {r['iou']:.4f} | {r['precision']:.4f} | "
              f"{r['recall']:.4f} | {r['hd95_nm']:.0f} | {r['predicted_fraction']:.4f} | "
              f"{ratio(r, 'iou')} | {ratio(r, 'dice')} |")
    print()
    print("Threshold-free (average precision) and at a threshold tuned on 4 training sections:")
    print("| variant | average precision | AP / U-Net | tuned threshold | Dice | IoU | IoU / U-Net |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for v in rows:
        r = results[v]
        print(f"| {ABLATION_LABELS[v]} | {r['average_precision']:.4f} | {ratio(r, 'average_precision')} | "
              f"{r['tuned_threshold']:.2f} | {r['dice_tuned']:.4f} | {r['iou_tuned']:.4f} | "
              f"{ratio(r, 'iou_tuned')} |")
    print(f"\ntrue ECS fraction of the test sections: {test.labels.mean():.4f}")
    if base and "ecsnet" in results:
        for key, what in (("iou", "IoU at p > 0.5"), ("iou_tuned", "IoU at the tuned threshold"),
                          ("average_precision", "average precision")):
            e, u = results["ecsnet"][key], base[key]
            verdict = "beats" if e > u else ("ties with" if e == u else "does not beat")
            print(f"ECS-Net {verdict} the U-Net on test {what} ({e:.4f} vs {u:.4f})")
    args.output.mkdir(parents=True, exist_ok=True)
    with atomic_path(args.output / "results.json") as tmp:
        tmp.write_text(json.dumps(
            {"data": "VNC stack1 class 159, train 0-15, test 16-19"
                     + (" (quick crops)" if args.quick else ""),
             "device": describe(dev), "preset": args.preset, "seed": args.seed, "results": results},
            indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
