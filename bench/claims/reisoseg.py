"""Claim 3 (Guo et al. 2024): ReIsoSeg segments anisotropic volumes better than a 3D U-Net,
through its isotropic (PI) branch.

Settings as claim 1 (``platelet.data``): the synthetic platelet phantom and the real
platelet label geometry rendered as images, anisotropy 4, 7 classes.

Arms (the same iterations, batch, window 16 x 64 x 64, data and seeds): ``unet3d``
(``unet3d-cpu``), ``reisoseg`` (``reisoseg-cpu``: PI branch in training, alpha 0.5) and
``reisoseg-alpha1`` (the same network with alpha = 1: the PI branch gets no loss weight, so
the comparison with ``reisoseg`` isolates the PI branch from ReIsoSeg's other differences
to the U-Net: residual blocks, deep supervision, its own widths). Best checkpoint on the
eval split, per-class IoU on the test split.
"""
import time

import common
import platelet

NAME = "reisoseg"
TITLE = "ReIsoSeg vs 3D U-Net at anisotropy 4, and the PI branch (alpha = 1 control)"
PAPER = "Guo et al. 2024"
SETTINGS = platelet.SETTINGS
ARMS = ("unet3d", "reisoseg", "reisoseg-alpha1")
PRESET_OF = {"unet3d": "unet3d-cpu", "reisoseg": "reisoseg-cpu", "reisoseg-alpha1": "reisoseg-cpu"}
DEFAULT_ITERATIONS = 1000
MARGIN = 0.01
STEPS = (("reisoseg", "unet3d"), ("reisoseg", "reisoseg-alpha1"), ("reisoseg-alpha1", "unet3d"))
available = platelet.available


def run_part(setting, arm, seed, *, shared, iterations=DEFAULT_ITERATIONS, device=None,
             redo=False):
    import torch

    from emseg.checkpoint import load_model
    from emseg.device import describe, pick_device
    from emseg.infer import predict
    from emseg.train import PRESETS, fit

    device = pick_device(device)
    train, val, test = platelet.data(setting, shared)
    preset = PRESETS[PRESET_OF[arm]]
    config = preset.config.replace(iterations=iterations, seed=seed,
                                   eval_every=max(1, iterations // 10))
    folder = common.run_folder(NAME, setting, arm, seed)
    resume = common.resume_run(folder, iterations, redo)
    torch.manual_seed(seed)
    net = preset.build_model(n_classes=7, **({"alpha": 1.0} if arm == "reisoseg-alpha1" else {}))
    history = fit(net, train, val, config=config, output_dir=folder, resume=resume,
                  overwrite=not resume, device=device, progress=False)
    train_s = common.train_seconds(history)
    best = load_model(folder / "checkpoints" / "best.pt", device=device)
    t1 = time.perf_counter()
    pred = predict(best, test.image, output="labels", device=device, progress=False)
    curve = common.validation_curve(history, "miou_organelle")
    return {"claim": NAME, "setting": setting, "arm": arm, "seed": seed,
            "preset": PRESET_OF[arm], "iterations": iterations, "device": describe(device),
            "train_seconds": train_s, "test_seconds": time.perf_counter() - t1, "curve": curve,
            "plateau": common.plateau(curve), **platelet.score(test.labels, pred)}


def summarise(parts):
    if not parts:
        return None
    tables, verdicts, seeds_all = [], [], set()
    for setting in SETTINGS:
        mine = {k: v for k, v in parts.items() if k[0] == setting}
        if not mine:
            continue
        seeds_all |= {k[2] for k in mine}
        names = next(iter(mine.values()))["class_names"]
        rows = []
        for arm in ARMS:
            done = {k[2]: p for k, p in mine.items() if k[1] == arm}
            if not done:
                continue
            rows.append([arm, str(len(done)),
                         common.fmt(*common.mean_sd(p["miou_organelle"] for p in done.values())),
                         *[common.fmt(*common.mean_sd(p["iou"][c] for p in done.values()))
                           for c in range(len(names))],
                         f"{sum(p['plateau']['met'] for p in done.values())} of {len(done)}",
                         f"{sum(p['train_seconds'] for p in done.values()) / len(done):.0f}"])
        tables.append({"caption": f"`{setting}`: test IoU, mean ± sd over seeds",
                       "header": ["arm", "seeds", "organelle MIoU", *names, "plateau met", "train s"],
                       "rows": rows})
        for a, b in STEPS:
            sa = {k[2]: p for k, p in mine.items() if k[1] == a}
            sb = {k[2]: p for k, p in mine.items() if k[1] == b}
            cmp = common.paired({s: p["miou_organelle"] for s, p in sa.items()
                                 if p["miou_organelle"] is not None},
                                {s: p["miou_organelle"] for s, p in sb.items()
                                 if p["miou_organelle"] is not None})
            if not cmp["n"]:
                continue
            plateaus = [d[s]["plateau"]["met"] for d in (sa, sb) for s in cmp["seeds"]]
            word, why = common.verdict(cmp, margin=MARGIN, plateaus=plateaus)
            verdicts.append({"statement": f"`{setting}`: {a} beats {b} on test organelle MIoU "
                                          f"(mean gain {cmp['mean']:+.3f}, {cmp['wins']} of "
                                          f"{cmp['n']} seeds)",
                             "verdict": word, "reason": why, "comparison": cmp})
    first = next(iter(parts.values()))
    return {
        "name": NAME, "title": TITLE, "paper": PAPER,
        "setting": "as the platelet claim, anisotropy 4 (16x64x64 windows)",
        "budget": f"unet3d-cpu and reisoseg-cpu, {first['iterations']} iterations per net",
        "command": "python bench/claims/run.py reisoseg --seeds " + " ".join(map(str, sorted(seeds_all))),
        "device": first["device"],
        "wall_seconds": float(sum(p["train_seconds"] + p["test_seconds"] for p in parts.values())),
        "seeds": sorted(seeds_all), "tables": tables, "verdicts": verdicts,
    }
