"""Claim 3 (Guo et al. 2024): ReIsoSeg segments anisotropic volumes better than a 3D U-Net,
through its isotropic (PI) branch.

Settings as claim 1 (``platelet.data``): the synthetic platelet phantom and the real
platelet label geometry rendered as images, anisotropy 4, 7 classes.

Arms (the same iterations, batch, window 16 x 64 x 64, data and seeds): ``unet3d``
(``unet3d-cpu``), ``reisoseg`` (``reisoseg-matched-cpu``: PI branch in training, alpha
0.5) and ``reisoseg-alpha1`` (the same network with alpha = 1: the PI branch gets no loss
weight, so the comparison with ``reisoseg`` isolates the PI branch from ReIsoSeg's other
differences to the U-Net: residual blocks, deep supervision, its own widths). Best
checkpoint on the eval split, per-class IoU on the test split. The ReIsoSeg arms are sized
like the U-Net (370,538 parameters against 322,815, the training-only PI module apart);
the table's ``parameters`` column counts each arm's network. Until 2026-12-05 they used
``reisoseg-cpu`` (155,490, half the U-Net's size); those runs, at 1,000 and 3,000
iterations, are kept as records.
"""
import time

import common
import platelet

NAME = "reisoseg"
TITLE = "ReIsoSeg vs 3D U-Net at anisotropy 4, and the PI branch (alpha = 1 control)"
PAPER = "Guo et al. 2024"
SETTINGS = platelet.SETTINGS
ARMS = ("unet3d", "reisoseg", "reisoseg-alpha1")
PRESET_OF = {"unet3d": "unet3d-cpu", "reisoseg": "reisoseg-matched-cpu",
             "reisoseg-alpha1": "reisoseg-matched-cpu"}
# at 1,000 both ReIsoSeg arms left the dense granules unlearned and unet3d rose from 0.42 to
# 0.68 at 3,000; at 3,000, 5 of the 6 phantom runs were still rising (parts/reisoseg/
# phantom-1000it, phantom-3000it), as were the platelet claim's nets, which moved to 5,000
DEFAULT_ITERATIONS = 5000
MARGIN = 0.01
STEPS = (("reisoseg", "unet3d"), ("reisoseg", "reisoseg-alpha1"), ("reisoseg-alpha1", "unet3d"))
available = platelet.available


def run_part(setting, arm, seed, *, shared, iterations=DEFAULT_ITERATIONS, device=None,
             redo=False, folder=None):
    """Train one arm at one seed and score it on the test split (``folder``: as
    :func:`platelet.run_part`)."""
    from emseg.device import pick_device
    from emseg.infer import predict

    device = pick_device(device)
    train, val, test = platelet.data(setting, shared)
    trained = common.train_arm(NAME, folder or setting, arm, seed, PRESET_OF[arm], train, val, n_classes=7,
                               iterations=iterations, metric="miou_organelle", device=device,
                               redo=redo, **({"alpha": 1.0} if arm == "reisoseg-alpha1" else {}))
    t1 = time.perf_counter()
    pred = predict(trained["model"], test.image, output="labels", device=device,
                   precision="float32", progress=False)  # every part is scored in float32
    return common.part_record(NAME, setting, arm, seed, trained, device, time.perf_counter() - t1,
                              parameters=list(split_parameters(trained["model"])),
                              **platelet.score(test.labels, pred))


def parameters(preset, n_classes=7):
    """Parameters of ``preset``'s network: ``(kept, training_only)``, where ``training_only``
    counts the PI module, which inference does not use (0 for a net without one)."""
    from emseg.train import PRESETS

    return split_parameters(PRESETS[preset].build_model(n_classes=n_classes))


def split_parameters(model):
    """``(kept, training_only)`` parameters of a network (see :func:`parameters`)."""
    pi = getattr(model, "pi", None)
    extra = sum(p.numel() for p in pi.parameters()) if pi is not None else 0
    return sum(p.numel() for p in model.parameters()) - extra, extra


def parameters_caption(part, folder=None):
    """The parameters of a part's preset as a table cell, e.g. ``155,490 + 11,826 PI
    (training only)``; a preset that is gone is an error naming the part (in ``folder``,
    by default its setting's) and the command that runs it again."""
    from emseg.train import PRESETS

    if "parameters" in part:  # counted on the trained net itself (parts since 2026-12-05)
        kept, extra = part["parameters"]
    elif part["preset"] not in PRESETS:
        folder = folder or part["setting"]
        budget = common.folder_budget(folder, SETTINGS)
        again = f" --iterations {budget}" if budget else ""
        raise ValueError(
            f"{common.PARTS.name}/{NAME}/{folder}/{part['arm']}-seed{part['seed']}.json "
            f"names the preset {part['preset']!r}, which emseg.train.PRESETS no longer has; run "
            f"it again (python bench/claims/run.py {NAME} --settings {part['setting']} --arms "
            f"{part['arm']} --seeds {part['seed']}{again} --redo) or restore the preset")
    else:
        kept, extra = parameters(part["preset"])
    return f"{kept:,}" + (f" + {extra:,} PI (training only)" if extra else "")


def other_presets(parts):
    """``'; the records' ReIsoSeg arms used reisoseg-cpu'`` where parts used other presets
    than the claim's own (``PRESET_OF``), else ``''``."""
    other = sorted({p["preset"] for (_, arm, _), p in parts.items()
                    if p.get("preset", PRESET_OF.get(arm)) != PRESET_OF.get(arm)})
    return f"; the records' ReIsoSeg arms used {', '.join(other)}" if other else ""


def summarise(parts):
    if not parts:
        return None
    tables, verdicts, seeds_all = [], [], set()
    found = common.setting_folders(parts, SETTINGS)
    for setting in found:
        mine = {k: v for k, v in parts.items() if k[0] == setting}
        seeds_all |= {k[2] for k in mine}
        names = next(iter(mine.values()))["class_names"]
        rows = common.class_table(
            mine, ARMS, names,
            extra=lambda done, folder=setting: [parameters_caption(done[0], folder),
                                f"{sum(p['train_seconds'] for p in done) / len(done):.0f}"])
        tables.append({"caption": f"`{setting}` ({common.budget_caption(mine)}): test IoU, "
                                  "mean ± sd over seeds",
                       "header": ["arm", "seeds", "organelle MIoU", *names, "plateau met",
                                  "parameters", "train s"],
                       "rows": rows})
        kind = common.folder_kind(setting, SETTINGS, DEFAULT_ITERATIONS)
        tables[-1]["caption"] += common.folder_note(setting, SETTINGS, DEFAULT_ITERATIONS)
        if kind == "record":  # an earlier budget: tables only, no verdicts
            continue
        moved = kind == "budget" and common.budget_table(
            parts, setting, SETTINGS, ARMS, "miou_organelle", "organelle MIoU",
            budget=DEFAULT_ITERATIONS, steps=STEPS)
        if moved:
            tables.append(moved)
        for a, b in STEPS:
            if kind == "longer" and not common.ran(mine, a, b):
                # the reference alone given the longer budget: a comparison across budgets
                entry = common.longer_reference(parts, setting, SETTINGS, a, b, "miou_organelle",
                                                margin=MARGIN, budget=DEFAULT_ITERATIONS,
                                                what="test organelle MIoU")
                if entry:
                    verdicts.append(entry)
                continue
            entry = common.compare(mine, a, b, "miou_organelle", margin=MARGIN,
                                   statement=f"`{setting}`: {{a}} beats {{b}} on test organelle "
                                             "MIoU (mean gain {mean:+.3f}, {wins} of {n} seeds)")
            if entry:
                verdicts.append(entry)
    verdicts += common.awaiting(found, SETTINGS, DEFAULT_ITERATIONS,
                                "python bench/claims/run.py reisoseg")
    return {
        "name": NAME, "title": TITLE, "paper": PAPER,
        "setting": "as the platelet claim, anisotropy 4 (16x64x64 windows)",
        "budget": f"{PRESET_OF['unet3d']} and {PRESET_OF['reisoseg']}, "
                  + common.budget_line(parts, SETTINGS, DEFAULT_ITERATIONS) + other_presets(parts),
        "command": "python bench/claims/run.py reisoseg --seeds "
                   + " ".join(map(str, sorted({k[2] for k in parts if k[0] in SETTINGS})
                                  or (0, 1, 2))),
        "device": common.device_line(parts.values()),
        "wall_seconds": float(sum(p["train_seconds"] + p["test_seconds"] for p in parts.values())),
        "seeds": sorted(seeds_all), "tables": tables, "verdicts": verdicts,
    }
