"""Claim 1 (Guay et al. 2021): the 2D-3D net segments platelet organelles better than a 2D
U-Net, and an ensemble of four 2D-3D nets beats its single nets (paper: +7.1 % organelle
MIoU over the best single net on the real test volume).

Settings (7 classes; organelle MIoU = mean IoU of classes 2-6):

* ``phantom``: the synthetic platelet phantom's train / eval / test splits
  (``load_platelet(split, source="phantom")``);
* ``real-geometry``: the real platelet label volumes of ``../shared/data/platelet``
  (all three splits) rendered as synthetic SBF-SEM images by ``render_real_geometry``:
  the whole train (50 x 800 x 800) and eval (24 x 800 x 800) volumes and the central 48
  sections of the test volume (48 x 609 x 400), as ``bench/bench_recipe.py`` uses them.

Arms: ``net2d3d`` (``net2d3d-cpu``, seeds 0-3: the four nets of the ensemble), ``unet2d``
(``unet2d-cpu``), and ``ensemble`` (the mean probabilities of the four ``net2d3d`` nets; a
part that needs those four first). Every net: the best checkpoint on the eval split
(validation every tenth of the run), scored on the test split. The ``net2d3d`` parts keep
their weights at half precision next to their result (about 1.3 MB each) so that the
ensemble can be formed in a later session. The ensemble is one ensemble, so its interval
is over the test volume's 8 z-slabs (paired with the mean single net on the same slabs),
not over seeds.
"""
import time
from pathlib import Path

import numpy as np

import common

NAME = "platelet"
TITLE = "Platelet organelles: 2D-3D net vs 2D U-Net, and the 4-net ensemble"
PAPER = "Guay et al. 2021"
SETTINGS = ("phantom", "real-geometry")
DESCRIPTION = {"phantom": "the synthetic platelet phantom",
               "real-geometry": "the real platelet label geometry rendered as images (train "
                                "50x800x800, eval 24x800x800, test 48x609x400)"}
ARMS = ("net2d3d", "unet2d", "ensemble")
ONE_PART = ("ensemble",)  # one part (seed 0), run after every seed's nets
PRESET_OF = {"net2d3d": "net2d3d-cpu", "unet2d": "unet2d-cpu"}
# at 1,000 both nets were still rising and net2d3d scored 0.02 on mitochondria
# (parts/platelet/phantom-1000it); at 3,000 three of four net2d3d runs were still rising
# (phantom-3000it)
DEFAULT_ITERATIONS = 5000
ENSEMBLE = (0, 1, 2, 3)
SLABS = 8
MARGIN = 0.01  # organelle MIoU
CROP = {"train": (50, 800, 800), "eval": (24, 800, 800), "test": (48, 609, 400)}
SPLIT_SEEDS = {"train": 0, "eval": 1, "test": 2}


def available(shared, settings=SETTINGS):
    folder = Path(shared) / "platelet"
    if "real-geometry" in settings and not (folder / "train-labels.tif").is_file():
        return f"no platelet label volumes in {folder} (the phantom setting needs none)"
    return None


def data(setting, shared):
    """``(train, eval, test)`` Volumes of a setting."""
    from emseg.data import load_platelet
    from emseg.data.datasets.platelet import render_real_geometry

    if setting == "phantom":
        return tuple(load_platelet(s, source="phantom") for s in ("train", "eval", "test"))
    folder = Path(shared) / "platelet"
    return tuple(render_real_geometry(folder / f"{s}-labels.tif", crop=CROP[s],
                                      seed=SPLIT_SEEDS[s], weights=False)
                 for s in ("train", "eval", "test"))


def score(labels, pred):
    from emseg.data import CLASS_NAMES, ORGANELLE_CLASSES
    from emseg.metrics import segmentation_report

    rep = segmentation_report(labels, pred, n_classes=7, class_names=list(CLASS_NAMES),
                              organelle_classes=ORGANELLE_CLASSES)
    return {"miou_organelle": rep["miou_organelle"], "miou_all": rep["miou_all"],
            "iou": rep["iou"], "class_names": list(CLASS_NAMES)}


def slab_scores(test, pred):
    """Organelle MIoU of each of :data:`SLABS` z-slabs of the test volume."""
    edges = np.linspace(0, test.labels.shape[0], SLABS + 1).astype(int)
    return [score(test.labels[a:b], pred[a:b])["miou_organelle"] for a, b in zip(edges[:-1], edges[1:])]


def weights_file(setting, seed):
    return common.part_file(NAME, setting, "net2d3d", seed).with_suffix(".pt")


def run_part(setting, arm, seed, *, shared, iterations=DEFAULT_ITERATIONS, device=None,
             redo=False, folder=None):
    """Train (or, for ``ensemble``, combine) one arm at one seed and score it on the test
    split. ``folder`` is the parts folder (default ``setting``; another budget's is
    ``<setting>-<N>it``, see :func:`common.folder_for`): the net2d3d weights and the
    checkpoints go with it."""
    from emseg.checkpoint import save_model
    from emseg.device import pick_device
    from emseg.infer import predict

    device = pick_device(device)
    train, val, test = data(setting, shared)
    folder = folder or setting
    if arm == "ensemble":
        return _ensemble(setting, folder, seed, test, device)
    trained = common.train_arm(NAME, folder, arm, seed, PRESET_OF[arm], train, val, n_classes=7,
                               iterations=iterations, metric="miou_organelle", device=device,
                               redo=redo)
    t1 = time.perf_counter()
    prob = predict(trained["model"], test.image, output="probabilities", device=device,
                   precision="float32", progress=False)  # every part is scored in float32
    pred = prob.argmax(0)
    if arm == "net2d3d":
        save_model(trained["model"].half(), weights_file(folder, seed), overwrite=True)
    return common.part_record(NAME, setting, arm, seed, trained, device, time.perf_counter() - t1,
                              **score(test.labels, pred), slabs=slab_scores(test, pred))


def _ensemble(setting, folder, seed, test, device):
    """The mean probabilities of the four nets' stored (half-precision) weights; each member
    is scored from the same stored weights, so the comparison is like for like."""
    import hashlib

    from emseg.checkpoint import load_model
    from emseg.device import describe
    from emseg.infer import predict

    singles = [common.load_parts(NAME).get((folder, "net2d3d", s)) for s in ENSEMBLE]
    missing = [s for s, part in zip(ENSEMBLE, singles)
               if part is None or not weights_file(folder, s).is_file()]
    if missing:
        record = common.folder_budget(folder, SETTINGS)
        budget = f" --iterations {record}" if record else ""
        raise common.PartNotReady(f"the ensemble of {folder} needs the net2d3d parts of seeds "
                                  f"{', '.join(map(str, missing))} first (--arms net2d3d --seeds "
                                  f"{' '.join(map(str, ENSEMBLE))}{budget})")
    t0 = time.perf_counter()
    probs, members = None, []
    for s in ENSEMBLE:
        path = weights_file(folder, s)
        net = load_model(path, device=device).float()
        p = predict(net, test.image, output="probabilities", device=device, precision="float32",
                    progress=False)
        member = p.argmax(0)
        members.append({"seed": s, "sha256": hashlib.sha256(path.read_bytes()).hexdigest(),
                        "miou_organelle": score(test.labels, member)["miou_organelle"],
                        "slabs": slab_scores(test, member)})
        probs = p if probs is None else probs + p
    pred = probs.argmax(0)
    return {"claim": NAME, "setting": setting, "arm": "ensemble", "seed": seed,
            "preset": "net2d3d-cpu x 4", "iterations": singles[0]["iterations"],
            "device": describe(device), "cpu": common.cpu_model(), "train_seconds": 0.0,
            "test_seconds": time.perf_counter() - t0, "curve": [],
            "plateau": {"met": common.arm_plateau(singles)["met"], "rise": None,
                        "from_iteration": None, "points": 0},
            "members": members, **score(test.labels, pred), "slabs": slab_scores(test, pred)}


def summarise(parts):
    if not parts:
        return None
    tables, verdicts, seeds_all = [], [], set()
    # a setting's folder, or another budget of it (e.g. phantom-1000it; see common.folder_kind)
    found = common.setting_folders(parts, SETTINGS)
    for setting in found:
        mine = {k: v for k, v in parts.items() if k[0] == setting}
        seeds_all |= {k[2] for k in mine}
        ens = mine.get((setting, "ensemble", 0))
        if ens:  # at its plateau when its members' mean curve is, by the rule as it stands now
            members = [mine.get((setting, "net2d3d", m["seed"])) for m in ens["members"]]
            ens["plateau"] = {**ens["plateau"], "met": None not in members
                              and common.arm_plateau(members)["met"]}
        names = next(iter(mine.values()))["class_names"]
        rows = common.class_table(mine, ARMS, names)
        tables.append({"caption": f"`{setting}` ({common.budget_caption(mine)}): "
                                  f"test IoU, mean ± sd over seeds",
                       "header": ["arm", "seeds", "organelle MIoU", *names, "plateau met"],
                       "rows": rows})
        kind = common.folder_kind(setting, SETTINGS, DEFAULT_ITERATIONS)
        tables[-1]["caption"] += common.folder_note(setting, SETTINGS, DEFAULT_ITERATIONS)
        if kind == "record":  # an earlier budget: tables only, no verdicts
            continue
        moved = kind == "budget" and common.budget_table(
            parts, setting, SETTINGS, ("net2d3d", "unet2d"), "miou_organelle", "organelle MIoU",
            budget=DEFAULT_ITERATIONS, steps=[("net2d3d", "unet2d")])
        if moved:
            tables.append(moved)
        nets = {k[2]: p for k, p in mine.items() if k[1] == "net2d3d"}
        entry = (kind != "longer" or common.ran(mine, "net2d3d", "unet2d")) and common.compare(
            mine, "net2d3d", "unet2d", "miou_organelle", margin=MARGIN,
            statement=f"`{setting}`: the 2D-3D net beats the 2D U-Net on test organelle MIoU "
                      "(mean gain {mean:+.3f}, {wins} of {n} seeds)")
        if kind == "longer" and not entry:  # only the reference given the longer budget
            entry = common.longer_reference(parts, setting, SETTINGS, "net2d3d", "unet2d",
                                            "miou_organelle", margin=MARGIN,
                                            budget=DEFAULT_ITERATIONS, what="test organelle MIoU")
        if entry:
            verdicts.append(entry)
        ens = mine.get((setting, "ensemble", 0))
        if ens:
            import hashlib
            stale = [m["seed"] for m in ens["members"]
                     if not weights_file(setting, m["seed"]).is_file()
                     or hashlib.sha256(weights_file(setting, m["seed"]).read_bytes()).hexdigest()
                     != m["sha256"]]
            if stale:  # a member was trained again after the ensemble was formed
                verdicts.append({"statement": f"`{setting}`: the 4-net ensemble", "verdict": "undecided",
                                 "reason": f"its members of seeds {stale} changed since; run "
                                           f"--arms ensemble --redo", "comparison": None})
                ens = None
        if ens:
            members = ens["members"]
            best = max(members, key=lambda m: m["miou_organelle"] or 0)
            slabs = np.array([[np.nan if v is None else v for v in m["slabs"]] for m in members])
            ens_slabs = np.array([np.nan if v is None else v for v in ens["slabs"]])
            inside = [nets[m["seed"]] for m in members if m["seed"] in nets]
            plateaus = {"its net2d3d members": len(inside) == len(members)
                        and common.arm_plateau(inside)["met"]}
            unlearned = [bool(common.unlearned_classes(p))
                         for p in [ens] + [nets[m["seed"]] for m in members if m["seed"] in nets]]
            gain = ens["miou_organelle"] - best["miou_organelle"]
            relative = (f"{100 * gain / best['miou_organelle']:+.1f} %" if best["miou_organelle"]
                        else f"{gain:+.3f}")
            for who, ref in (("its mean single net", slabs.mean(0)),
                             ("its best single net", slabs[members.index(best)])):
                ok = [i for i in range(len(ref)) if np.isfinite(ref[i]) and np.isfinite(ens_slabs[i])]
                cmp = common.paired({i: float(ens_slabs[i]) for i in ok}, {i: float(ref[i]) for i in ok})
                word, why = common.verdict(cmp, margin=MARGIN, plateaus=plateaus,
                                           unlearned=unlearned)
                verdicts.append({"statement": f"`{setting}`: the 4-net ensemble beats {who} on "
                                              f"organelle MIoU (paired over {cmp['n']} z-slabs of "
                                              f"the one test volume: variation within this volume, "
                                              f"not between seeds; whole volume: ensemble "
                                              f"{ens['miou_organelle']:.3f}, best single "
                                              f"{best['miou_organelle']:.3f}, "
                                              f"{relative}; "
                                              f"paper +7.1 %)",
                                 "verdict": word, "reason": why, "comparison": cmp})
    command = "python bench/claims/run.py platelet --seeds 0 1 2 3"
    verdicts += common.awaiting(found, SETTINGS, DEFAULT_ITERATIONS, command)
    return {
        "name": NAME, "title": TITLE, "paper": PAPER,
        "setting": "; ".join(DESCRIPTION[x] for x in SETTINGS
                             if x in {common.setting_of(f, SETTINGS) for f in found}),
        "budget": "net2d3d-cpu and unet2d-cpu, "
                  + common.budget_line(parts, SETTINGS, DEFAULT_ITERATIONS),
        "command": command,
        "device": common.device_line(parts.values()),
        "wall_seconds": float(sum(p["train_seconds"] + p["test_seconds"] for p in parts.values())),
        "seeds": sorted(seeds_all), "tables": tables, "verdicts": verdicts,
    }
