"""The platelet paper's two central claims, measured with our own CPU-preset runs.

1. The 2D-3D net segments organelles better than the 2D U-Net (test organelle MIoU).
2. The ensemble of four 2D-3D nets beats its best single net (the paper: +7.1 % organelle
   MIoU on the real test volume).

Two settings, same code, same presets (``net2d3d-cpu`` for the four 2D-3D nets with seeds
0-3, ``unet2d-cpu`` seed 0 for the U-Net):

* ``phantom``: the synthetic platelet phantom (train/eval/test splits of emseg.data);
* ``real-geometry``: the **real label volumes** of the platelet dataset
  (``../shared/data/platelet``, not in the repository), rendered into images by the
  phantom renderer, so that the shapes and the class mix are real while the images
  are synthetic. Centre crops of 24 x 256 x 256 voxels keep it CPU-sized.

Each net's run folder is ``OUT/<setting>/<name>``; a finished run (``best.pt`` with the
requested iterations in its history) is reused, so a second call only evaluates, and an
interrupted one (``last.pt``) is resumed exactly. The
phantom nets shipped with emseg (``phantom-2d3d_N``) were the phantom setting's 2D-3D
runs when ``net2d3d-cpu`` still had the old recipe (today ``net2d3d-cpu-legacy``; see
``lib/emseg/weights/README.md``), exported at half precision. Prints a table and writes ``OUT/<setting>/claims.json``.

    python bench/bench_claims.py --setting phantom
    python bench/bench_claims.py --setting real-geometry --shared ../shared/data
"""
import argparse
import json
import time
from pathlib import Path

import numpy as np

from emseg.checkpoint import load_model
from emseg.data import CLASS_NAMES, ORGANELLE_CLASSES, load_platelet_splits
from emseg.data.datasets.platelet import render_real_geometry
from emseg.device import describe, pick_device
from emseg.infer import predict
from emseg.metrics import compare_reports, segmentation_report
from emseg.train import PRESETS, fit

CROP = (24, 256, 256)
SPLIT_SEEDS = {"train": 0, "eval": 1, "test": 2}


def real_geometry(split, shared):
    """A centre crop of the real labels of ``split``, rendered by the phantom renderer."""
    return render_real_geometry(Path(shared) / "platelet" / f"{split}-labels.tif", crop=CROP,
                                seed=SPLIT_SEEDS[split], weights=split == "train")


def volumes(setting, shared):
    if setting == "phantom":
        return list(load_platelet_splits(source="phantom"))
    return [real_geometry(s, shared) for s in ("train", "eval", "test")]


def train_or_reuse(name, preset_name, seed, train, val, folder, device):
    # float32 (cpu_bf16=False) as when these runs were first made; the weights seeded as
    # `python -m emseg train --seed N` seeds them (Preset.build)
    model, config = PRESETS[preset_name].build(7, seed=seed, cpu_bf16=False)
    best = folder / "checkpoints" / "best.pt"
    history = folder / "history.json"
    if best.is_file() and history.is_file():
        done = json.loads(history.read_text())["iteration"]
        if done and done[-1] == config.iterations:
            print(f"{name}: reusing {folder}")
            return load_model(best, device=device)
    resume = (folder / "checkpoints" / "last.pt").is_file()  # an interrupted run continues
    t0 = time.perf_counter()
    fit(model, train, val, config=config, output_dir=folder, resume=resume,
        overwrite=not resume, device=device, progress=False)
    print(f"{name}: trained {config.iterations} iterations in {time.perf_counter() - t0:.0f} s")
    return load_model(best, device=device)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--setting", choices=["phantom", "real-geometry"], required=True)
    parser.add_argument("--shared", default=str(Path(__file__).resolve().parents[2] / "shared" / "data"),
                        help="folder holding platelet/*-labels.tif (real-geometry setting)")
    parser.add_argument("--out", default="runs/claims")
    parser.add_argument("--nets", type=int, default=4, help="2D-3D nets in the ensemble")
    parser.add_argument("--device", default=None)
    parser.add_argument("--only", default=None,
                        help="train just one run (net2d3d_seedN or unet2d_seed0) and exit, so that "
                             "several runs can train in parallel processes")
    args = parser.parse_args()
    device = pick_device(args.device)
    folder = Path(args.out) / args.setting
    train, val, test = volumes(args.setting, args.shared)
    print(f"setting {args.setting}: train {train.shape}, eval {val.shape}, test {test.shape}; "
          f"device {describe(device)}")

    if args.only:
        name, seed = args.only.rsplit("_seed", 1)
        preset = {"net2d3d": "net2d3d-cpu", "unet2d": "unet2d-cpu"}[name]
        train_or_reuse(args.only, preset, int(seed), train, val, folder / args.only, device)
        return

    def report(pred):
        return segmentation_report(test.labels, pred, n_classes=7, class_names=list(CLASS_NAMES),
                                   organelle_classes=ORGANELLE_CLASSES)

    reports, probs = {}, []
    for seed in range(args.nets):
        name = f"2D-3D seed {seed}"
        net = train_or_reuse(name, "net2d3d-cpu", seed, train, val,
                             folder / f"net2d3d_seed{seed}", device)
        p = predict(net, test.image, output="probabilities", device=device, progress=False)
        probs.append(p)
        reports[name] = report(p.argmax(0))
    reports["2D-3D ensemble"] = report(np.mean(probs, axis=0).argmax(0))
    unet = train_or_reuse("2D U-Net", "unet2d-cpu", 0, train, val, folder / "unet2d_seed0", device)
    window = PRESETS["unet2d-cpu"].config.window
    reports["2D U-Net"] = report(predict(unet, test.image, window=window, output="labels",
                                         device=device, progress=False))

    print(compare_reports(reports))
    singles = [f"2D-3D seed {s}" for s in range(args.nets)]
    organelle = {k: r["miou_organelle"] for k, r in reports.items()}
    best = max(singles, key=organelle.get)
    gain = organelle["2D-3D ensemble"] - organelle[best]
    mean_single = float(np.mean([organelle[s] for s in singles]))
    print(f"\nclaim 1, 2D-3D vs 2D U-Net (organelle MIoU): mean single 2D-3D {mean_single:.4f}, "
          f"best single {organelle[best]:.4f}, ensemble {organelle['2D-3D ensemble']:.4f}; "
          f"U-Net {organelle['2D U-Net']:.4f} "
          f"(ratio mean 2D-3D / U-Net {mean_single / max(organelle['2D U-Net'], 1e-9):.2f})")
    print(f"claim 2, ensemble vs best single net: {gain:+.4f} "
          f"({100 * gain / max(organelle[best], 1e-9):+.1f} %; paper: +7.1 % on real data)")
    summary = {"setting": args.setting, "device": describe(device), "test_shape": list(test.shape),
               "organelle_miou": organelle,
               "all_miou": {k: r["miou_all"] for k, r in reports.items()},
               "ensemble_gain": gain, "best_single": best}
    (folder / "claims.json").write_text(json.dumps(summary, indent=1, default=float))


if __name__ == "__main__":
    main()
