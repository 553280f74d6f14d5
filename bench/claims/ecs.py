"""Claim 2 (Yang et al. 2025): each ingredient of ECS-Net adds accuracy; the full ECS-Net
beats a plain U-Net at extracellular-space segmentation.

Settings:

* ``vnc``: real EM, the *Drosophila* VNC ssTEM stack 1 (Gerhard et al. 2013, 4.6 nm
  pixels), class 159 (glia + extracellular space, the real ECS proxy) vs the rest;
  sections 0-13 train, 14-15 validate (best checkpoint and the plateau rule), 16-19 test;
* ``phantom``: the synthetic ECS phantom of example 4 (train 4 x 256 x 256, validation
  1 x 256 x 256, test 2 x 512 x 512; phantom seeds 0, 1, 2 for every net).

Arms (``ecsnet-cpu`` preset, the same data, windows, batch and iterations): the ablation
``unet`` (one stage, focal + Dice), ``shape`` (+ shape-aware weights), ``contrastive``
(+ contrastive loss, InfoNCE form), ``ecsnet`` (+ the cascade: the full ECS-Net), and the
contrastive variants with the original's cosine form, ``contrastive-cosine`` and
``ecsnet-cosine``. Seed ``s`` sets the initial weights and the training windows.
Scores on the test sections: IoU at p > 0.5 (the original's fixed threshold) and the
threshold-free average precision (AP).
"""
import time
from pathlib import Path

import numpy as np

import common

NAME = "ecs"
TITLE = "ECS-Net's ablation: U-Net, + shape-aware loss, + contrastive loss, + cascade"
PAPER = "Yang et al. 2025"
SETTINGS = ("vnc", "phantom")
ARMS = ("unet", "shape", "contrastive", "ecsnet", "contrastive-cosine", "ecsnet-cosine")
DESCRIPTION = {"vnc": "real VNC class 159 (train sections 0-13, validation 14-15, test 16-19)",
               "phantom": "the synthetic ECS phantom"}
DEFAULT_ITERATIONS = 4000  # neither 1,000 nor 2,000 met the plateau rule on VNC (parts/ecs/vnc-1000it, vnc-2000it)
MARGIN = 0.01  # IoU
STEPS = (("shape", "unet"), ("contrastive", "shape"), ("ecsnet", "contrastive"),
         ("ecsnet", "unet"), ("contrastive-cosine", "shape"), ("ecsnet-cosine", "unet"),
         # which contrastive form to keep as the default: InfoNCE against the original's cosine
         ("contrastive", "contrastive-cosine"), ("ecsnet", "ecsnet-cosine"))


# the comparisons of the two contrastive forms, said in words (the arm names are terse)
FORM_STEPS = {("contrastive", "contrastive-cosine"): "the one-stage net",
              ("ecsnet", "ecsnet-cosine"): "the full ECS-Net"}
ARMS_NOTE = ("arms: unet = one stage, focal + Dice; shape = + shape-aware weights; contrastive "
             "= + contrastive loss, InfoNCE form; ecsnet = + the cascade, the full ECS-Net; "
             "-cosine = the same with the original's cosine contrastive form")


def available(shared, settings=SETTINGS):
    """None when the data of ``settings`` are there, else why not."""
    folder = Path(shared) / "vnc" / "stack1"
    if "vnc" in settings and not folder.is_dir():
        return f"no VNC stack at {folder} (the phantom setting needs none: --settings phantom)"
    return None


def data(setting, shared):
    """``(train, val, test)`` Volumes of a setting."""
    from emseg.data import ECS_VOXEL_SIZE, ecs_phantom, load_vnc

    if setting == "vnc":
        path = Path(shared) / "vnc"
        return tuple(load_vnc(target="extracellular", path=path, sections=s)
                     for s in (slice(0, 14), slice(14, 16), slice(16, 20)))
    return (ecs_phantom((4, 256, 256), seed=0, voxel_size=ECS_VOXEL_SIZE),
            ecs_phantom((1, 256, 256), seed=1, voxel_size=ECS_VOXEL_SIZE),
            ecs_phantom((2, 512, 512), seed=2, voxel_size=ECS_VOXEL_SIZE))


def run_part(setting, arm, seed, *, shared, iterations=DEFAULT_ITERATIONS, device=None,
             redo=False, folder=None):
    """Train one variant at one seed and score it on the setting's test sections (always
    afresh: ``train_ecs`` does not resume; a part takes minutes). ``folder``: as
    :func:`platelet.run_part`."""
    import torch

    from emseg.device import describe, pick_device
    from emseg.ecs import evaluate_ecs, predict_ecs, train_ecs
    from emseg.metrics import average_precision

    device = pick_device(device)
    train, val, test = data(setting, shared)
    variant, _, form = arm.partition("-")
    t0 = time.perf_counter()
    model, history = train_ecs(train, val, preset="cpu", variant=variant, iterations=iterations,
                               seed=seed, output_dir=common.run_folder(NAME, folder or setting, arm, seed),
                               overwrite=True, device=device, contrastive_form=form or "infonce",
                               config_changes={"cpu_bf16": False,  # float32, as every part
                                               "eval_every": max(1, iterations // common.EVALUATIONS)})
    train_s = time.perf_counter() - t0
    t1 = time.perf_counter()
    prob = predict_ecs(model, test.image, device=device, precision="float32")  # as every part
    scores = evaluate_ecs(test.labels, prob, voxel_size=test.voxel_size)
    curve = common.validation_curve(history, "miou_all")
    return {"claim": NAME, "setting": setting, "arm": arm, "seed": seed, "preset": "ecsnet-cpu",
            "iterations": iterations, "device": describe(device), "cpu": common.cpu_model(),
            "torch": torch.__version__,
            "inference_precision": "float32", "training_precision": "float32",
            "train_seconds": train_s,
            "test_seconds": time.perf_counter() - t1, "curve": curve,
            "plateau": common.plateau(curve),
            "iou": scores["iou"], "dice": scores["dice"], "precision": scores["precision"],
            "recall": scores["recall"], "average_precision": average_precision(test.labels, prob),
            "predicted_fraction": float((prob > 0.5).mean()),
            "true_fraction": float(np.mean(test.labels))}


def _scores(parts, setting, arm, key):
    return {k[2]: p[key] for k, p in parts.items() if k[0] == setting and k[1] == arm
            and p[key] is not None}


def summarise(parts):
    if not parts:
        return None
    tables, verdicts, seeds_all = [], [], set()
    # a setting's folder, or another budget of it (e.g. vnc-1000it; see common.folder_kind)
    found = common.setting_folders(parts, SETTINGS)
    for setting in found:
        mine = {k: v for k, v in parts.items() if k[0] == setting}
        seeds_all |= {k[2] for k in mine}
        rows = []
        for arm in ARMS:
            done = {k: p for k, p in mine.items() if k[1] == arm}
            if not done:
                continue
            cells = [arm, str(len(done))]
            for key in ("iou", "dice", "average_precision", "recall", "predicted_fraction"):
                cells.append(common.fmt(*common.mean_sd(_scores(mine, setting, arm, key).values())))
            cells.append(common.plateau_cell(list(done.values())))
            cells.append(f"{np.mean([p['train_seconds'] for p in done.values()]):.0f}")
            rows.append(cells)
        truth = sorted({round(p["true_fraction"], 3) for p in mine.values() if "true_fraction" in p})
        tables.append({"caption": f"`{setting}` ({common.budget_caption(mine)}): "
                                  f"test scores, mean ± sd over seeds (IoU, Dice at p > 0.5; AP "
                                  f"threshold-free; predicted ECS: the fraction of test pixels "
                                  f"predicted as ECS"
                                  + (f", against {', '.join(f'{t:.3f}' for t in truth)} in the "
                                     f"ground truth" if truth else "") + f"; {ARMS_NOTE})",
                       "header": ["arm", "seeds", "IoU", "Dice", "AP", "recall", "predicted ECS",
                                  "plateau met", "train s"], "rows": rows})
        kind = common.folder_kind(setting, SETTINGS, DEFAULT_ITERATIONS)
        tables[-1]["caption"] += common.folder_note(setting, SETTINGS, DEFAULT_ITERATIONS)
        if kind == "record":  # an earlier budget: tables only, no verdicts
            continue
        moved = kind == "budget" and common.budget_table(
            parts, setting, SETTINGS, ARMS, "iou", "IoU", budget=DEFAULT_ITERATIONS, steps=STEPS)
        if moved:
            tables.append(moved)
        for a, b in STEPS:
            if kind == "longer" and not common.ran(mine, a, b):
                continue
            claim = ("{a} beats {b}" if (a, b) not in FORM_STEPS else
                     f"the InfoNCE form beats the original's cosine form in {FORM_STEPS[a, b]} "
                     "({a} vs {b})")
            for key, what in (("iou", "IoU"), ("average_precision", "AP")):
                entry = common.compare(mine, a, b, key, margin=MARGIN,
                                       statement=f"`{setting}`: {claim} on test {what} "
                                                 "(mean gain {mean:+.3f}, {wins} of {n} seeds)")
                if entry:
                    verdicts.append(entry)
    verdicts += common.awaiting(found, SETTINGS, DEFAULT_ITERATIONS,
                                "python bench/claims/run.py ecs")
    return {
        "name": NAME, "title": TITLE, "paper": PAPER,
        "setting": "; ".join(DESCRIPTION[x] for x in SETTINGS
                             if x in {common.setting_of(f, SETTINGS) for f in found}),
        "budget": "ecsnet-cpu, " + common.budget_line(parts, SETTINGS, DEFAULT_ITERATIONS),
        # what the verdicts were run with; the claim's defaults where no verdict folder has parts
        "command": "python bench/claims/run.py ecs --settings "
                   + " ".join([x for x in SETTINGS if x in found] or SETTINGS) + " --arms "
                   + " ".join([a for a in ARMS if any(k[1] == a and k[0] in SETTINGS for k in parts)]
                              or ARMS)
                   + " --seeds " + " ".join(map(str, sorted({k[2] for k in parts if k[0] in SETTINGS})
                                               or (0, 1, 2))),
        "device": common.device_line(parts.values()),
        "wall_seconds": float(sum(p["train_seconds"] + p["test_seconds"] for p in parts.values())),
        "seeds": sorted(seeds_all), "tables": tables, "verdicts": verdicts,
    }
