"""Claim 4 (Huang et al. 2021): VoxResNet + voxel scooping traces neurons better than a
skeletonisation baseline as the signal falls.

Setting ``real``: the five real morphologies of ``../shared/data/neurons`` (hemibrain DA1
projection neurons), each rendered in its densest 48 x 128 x 128 box at (1.0, 0.5, 0.5) um
at 1, 0.5, 0.25 and 0.125 x signal. Seed ``s`` sets the network's initial weights, its
training stacks (``neuron_pool(12, seed=s)``, 6 chosen by DHPR as example 5 does), its
validation stacks (``neuron_pool(3, seed=1000 + s)``, for the plateau rule only) and the
noise of the test renders (render seed ``10 s + k`` for neuron ``k``), so the three methods
of one seed see the same test stacks.

Methods, all on the same test stacks:

* ``pipeline``: the VoxResNet probability map traced by voxel scooping at p >= 0.5;
* ``pipeline-tuned``: the same map at a threshold chosen on the network's own training
  stacks (the value of :data:`THRESHOLDS` with the best mean tracing F1 there; the test
  stacks play no part): the remedy tried for the "fat" probability maps of the earlier
  400-iteration net (foreground about 1.9 x the true mask on these neurons, recall
  0.55-0.68). At the plateau the maps are no longer fat (1.0-1.3 x), and the tuning picked
  the grid's lowest value, 0.3, for every seed (a fatter foreground), changing F1 by
  less than 0.005;
* ``baseline``: the raw image smoothed and thresholded at median + 5 robust sigma, then
  skeletonised (``raw_foreground`` + ``trace_skeleton``).

The network scored is the run's last checkpoint (``last.pt``: the validation stacks only
check the plateau). Scores at 2 voxels: F1, recall, ESA and PDS. A trace that fails (no foreground, or fewer
than two nodes) gets F1 and recall 0 and is **counted** in the mean ESA and PDS at their
worst values: ESA = the box diagonal (187 voxels), PDS = 1.
"""
import time
from pathlib import Path

import numpy as np

import common

NAME = "tracing"
TITLE = "Tracing under low signal: VoxResNet + voxel scooping vs a skeleton baseline"
PAPER = "Huang et al. 2021"
SETTINGS = ("real",)
ARMS = ("voxresnet",)
DEFAULT_ITERATIONS = 1200  # the voxresnet-cpu preset's budget
LEVELS = (1.0, 0.5, 0.25, 0.125)
SHAPE = (48, 128, 128)
VS = (1.0, 0.5, 0.5)
DIAGONAL = float(np.sqrt(sum(s * s for s in SHAPE)))
METHODS = ("pipeline", "pipeline-tuned", "baseline")
THRESHOLDS = (0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9)
MARGIN = 0.02  # F1


def available(shared, settings=SETTINGS):
    """None when the data are there, else why not."""
    folder = Path(shared) / "neurons"
    return None if sorted(folder.glob("*.swc")) else f"no SWC files in {folder}"


def run_part(setting, arm, seed, *, shared, iterations=DEFAULT_ITERATIONS, device=None,
             redo=False, folder=None):
    """Train one VoxResNet (seed ``seed``) and score the three methods on the test stacks."""
    from emseg.data.dhpr import select_dhpr
    from emseg.data.phantoms.neuron import neuron_pool, render_densest
    from emseg.device import pick_device
    from emseg.tracing import (normalize_stack, probability_map, raw_foreground, read_swc,
                               trace_and_score, trace_voxel_scooping)
    from emseg.tracing.baseline import trace_skeleton

    device = pick_device(device)
    stacks, _ = neuron_pool(12, shape=SHAPE, voxel_size=VS, seed=seed)
    sel = select_dhpr([s.image for s in stacks], [s.mask for s in stacks], n_select=6, seed=seed)
    chosen = [stacks[i] for i in sel.indices]
    train = [(normalize_stack(s.image), s.mask.astype(np.uint8)) for s in chosen]
    vals, _ = neuron_pool(3, shape=SHAPE, voxel_size=VS, seed=1000 + seed)
    val = [(normalize_stack(s.image), s.mask.astype(np.uint8)) for s in vals]
    trained = common.train_arm(NAME, folder or setting, arm, seed, "voxresnet-cpu", train, val,
                               n_classes=2, iterations=iterations, metric="miou_all",
                               device=device, redo=redo, checkpoint="last.pt")
    net = trained["model"]

    # the threshold chosen on the training stacks (their own trees), never on the test stacks
    train_probs = [probability_map(net, s.image, device=device) for s in chosen]
    tune = {}
    for t in THRESHOLDS:
        f1s = [trace_and_score(trace_voxel_scooping, p >= t, s.tree, voxel_size=VS)[1]["f1"]
               for p, s in zip(train_probs, chosen)]
        tune[t] = float(np.mean(f1s))
    tuned = max(THRESHOLDS, key=lambda t: (tune[t], -abs(t - 0.5)))

    rows = []
    t1 = time.perf_counter()
    for k, path in enumerate(sorted((Path(shared) / "neurons").glob("*.swc"))):
        tree = read_swc(path).scaled(0.008)
        for level in LEVELS:
            (image, mask, truth), offset = render_densest(tree, shape=SHAPE, voxel_size=VS,
                                                          seed=10 * seed + k, intensity=level)
            prob = probability_map(net, image, device=device)
            found = {
                "pipeline": prob >= 0.5,
                "pipeline-tuned": prob >= tuned,
                "baseline": raw_foreground(image),
            }
            for method, fg in found.items():
                tracer = trace_skeleton if method == "baseline" else trace_voxel_scooping
                _, r = trace_and_score(tracer, fg, truth, voxel_size=VS, offset=offset)
                rows.append({"neuron": path.stem, "level": level, "method": method,
                             "f1": r["f1"], "recall": r["recall"], "precision": r["precision"],
                             "esa": r["esa"], "pds": r["pds"], "trees": r["trees"],
                             "foreground_ratio": float(fg.sum() / max(mask.sum(), 1))})
    return common.part_record(NAME, setting, arm, seed, trained, device, time.perf_counter() - t1,
                              tuned_threshold=tuned,
                              tuning_f1={str(t): v for t, v in tune.items()}, rows=rows)


def _per_seed(parts, method, level, key):
    """``{seed: mean over the neurons}``; failed traces counted at the worst value."""
    out = {}
    for (_, _, seed), part in parts.items():
        vals = []
        for r in part["rows"]:
            if r["method"] != method or r["level"] != level:
                continue
            v = r[key]
            if v is None or not np.isfinite(v):
                v = {"esa": DIAGONAL, "pds": 1.0}.get(key, 0.0)
            vals.append(v)
        if vals:
            out[seed] = float(np.mean(vals))
    return out


def _failures(parts, method, level):
    return sum(1 for p in parts.values() for r in p["rows"]
               if r["method"] == method and r["level"] == level and (r["esa"] is None or r["trees"] == 0))


def summarise(parts):
    """Tables and verdicts of the finished parts (``common.load_parts`` of this claim)."""
    parts = {k: v for k, v in parts.items() if k[0] == "real"}
    if not parts:
        return None
    seeds = sorted(k[2] for k in parts)
    plateaus = {"voxresnet": common.arm_plateau(list(parts.values()))["met"]}
    n_neurons = len({r["neuron"] for p in parts.values() for r in p["rows"]})
    header = ["signal", "method", "F1", "recall", "ESA (voxels)", "PDS", "failed traces",
              "foreground / true mask"]
    rows, verdicts = [], []
    for level in LEVELS:
        for method in METHODS:
            cells = [f"{level:g}x", method]
            for key in ("f1", "recall", "esa", "pds"):
                cells.append(common.fmt(*common.mean_sd(_per_seed(parts, method, level, key).values()),
                                        digits=2 if key == "esa" else 3))
            cells.append(f"{_failures(parts, method, level)} of {n_neurons * len(seeds)}")
            cells.append(common.fmt(*common.mean_sd(
                _per_seed(parts, method, level, "foreground_ratio").values()), digits=2))
            rows.append(cells)
        for method in ("pipeline", "pipeline-tuned"):
            cmp = common.paired(_per_seed(parts, method, level, "f1"),
                                _per_seed(parts, "baseline", level, "f1"))
            word, why = common.verdict(cmp, margin=MARGIN, plateaus=plateaus)
            verdicts.append({"statement": f"{method} beats the baseline on F1 at {level:g}x signal",
                             "verdict": word, "reason": why, "comparison": cmp})
    runs = [[f"seed {k[2]}", p["iterations"], f"{p['train_seconds']:.0f}",
             f"{p['plateau']['rise']:.3f}" if p["plateau"]["rise"] is not None else "-",
             "yes" if p["plateau"]["met"] else "no", f"{p['tuned_threshold']:.1f}"]
            for k, p in sorted(parts.items())]
    first = next(iter(parts.values()))
    return {
        "name": NAME, "title": TITLE, "paper": PAPER,
        "setting": f"the five real morphologies of ../shared/data/neurons rendered at "
                   f"{', '.join(f'{v:g}' for v in LEVELS)}x signal (densest "
                   f"{'x'.join(map(str, SHAPE))} box, (1.0, 0.5, 0.5) um)",
        "budget": f"voxresnet-cpu, {first['iterations']:,} iterations per net, {len(seeds)} seeds",
        "command": f"python bench/claims/run.py tracing --seeds {' '.join(map(str, seeds))}",
        "device": common.device_line(parts.values()),
        "wall_seconds": float(sum(p["train_seconds"] + p["test_seconds"] for p in parts.values())),
        "seeds": seeds,
        "tables": [
            {"caption": f"Mean ± sd over {len(seeds)} seeds of the per-seed means over "
                        f"{n_neurons} neurons (ESA/PDS count failed traces at 187 voxels / 1)",
             "header": header, "rows": rows},
            {"caption": "Runs: validation MIoU rise over the last 20 % (plateau rule < 0.01) "
                        "and the threshold chosen on training stacks",
             "header": ["run", "iterations", "train s", "rise", "plateau", "tuned threshold"],
             "rows": runs},
        ],
        "verdicts": verdicts,
    }
