# ---
# jupyter:
#   jupytext:
#     notebook_metadata_filter: emseg
#     text_representation:
#       extension: .py
#       format_name: percent
#   emseg:
#     folder: example5_neuron_tracing
#     notebook: example5_neuron_tracing.ipynb
#     quick:  # the CI setting: `python -m emseg run example5 --quick`
#       shape: [24, 64, 64]
#       n_candidates: 4
#       n_select: 2
#       n_test: 1
#       iterations: 20
#       intensities: [1.0, 0.25]
# ---

# %% [markdown]
# # Example 5: neuron tracing — VoxResNet probability maps, DHPR selection, voxel scooping
#
# Huang et al. (2021) trace single neurons in light-microscopy stacks in two steps: a 3D
# residual network (VoxResNet) turns the noisy stack into a probability map, and an
# adaptive **voxel-scooping** tracer walks through the map and writes the neuron as an SWC
# tree. Their training stacks were chosen by a rule, "diversity and hardness first" (DHPR).
# Their claim: at low signal, CNN + voxel scooping still gives an accurate, complete tree
# where tracing the raw image breaks up. This notebook runs the whole pipeline and tests
# that claim under decreasing signal.
#
# **What you will learn**
#
# - render light-microscopy-like neuron stacks with exact ground truth (or load SWC files);
# - select training stacks with the DHPR rule (signal density + low-SNR fraction);
# - train VoxResNet (four summed side outputs; class-weighted cross-entropy + soft Dice)
#   with the one training loop of `emseg`, and predict tiled probability maps;
# - trace with voxel scooping, export SWC, and score traces with the Vaa3D metrics (ESA,
#   DSA, PDS) and precision/recall/F1 at 2 voxels;
# - compare with a baseline (threshold + skeletonise + graph) on the raw image at 1×, 0.5×,
#   0.25× and 0.125× signal.
#
# **Papers**: Huang Q. et al., *Automated neuron tracing using content-aware adaptive voxel
# scooping on CNN predicted probability map*, Front. Neuroanat. 15:712842 (2021);
# Rodriguez A. et al., *Three-dimensional neuron tracing by voxel scooping*, J. Neurosci.
# Methods 184:169 (2009). The original code ships neither the tracer nor trained weights;
# `emseg` implements both from the descriptions (see `emseg.tracing.scooping` and
# `emseg.models.voxresnet` for what we changed and why).

# %% [markdown] emseg_include="about"

# %% [markdown]
# ## Setup
#
# Run `python -m pip install -r requirements.txt` once in the repository (see the README).
# `emseg` picks the device itself: CUDA with mixed precision when there is a GPU, else the CPU
# (in bfloat16 where the CPU computes it natively; the results table says which precision ran).

# %%
import time
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
from IPython.display import Markdown, display

from emseg.bioimageio import to_bioimageio
from emseg.checkpoint import load_checkpoint, load_model, save_model
from emseg.data.dhpr import select_dhpr
from emseg.data.phantoms import neuron_phantom, neuron_pool, render_densest
from emseg.device import describe, inference_precision, pick_device
from emseg.models import count_parameters
from emseg.plot import plot_history
from emseg.report import about_run, format_value, markdown_table, save_results
from emseg.train import PRESETS, fit
from emseg.tracing import (normalize_stack, probability_map, raw_foreground, read_swc,
                           trace_and_score, trace_skeleton, trace_voxel_scooping, write_swc)
from emseg.tracing.plot import plot_quality_vs_signal, plot_trace_mip, plot_tree_3d

t_start = time.perf_counter()

# %% [markdown]
# ## Parameters
#
# `source="phantom"` tests on procedural neurons; `source="swc"` renders the SWC files in
# `swc_dir` instead (your folder of real morphologies, e.g. hemibrain neurons downloaded as
# SWC; `swc_scale` converts their unit to µm: 0.008 for 8 nm). Training
# always uses phantoms, so real neurons stay unseen. `preset="cpu"` is a small VoxResNet for
# a laptop CPU; `preset="original"` is the paper's network (use a GPU).

# %% tags=["parameters"]
source = "phantom"         # "phantom" (procedural neurons) | "swc" (render the files in swc_dir)
swc_dir = None             # folder of SWC files, used when source is "swc"
swc_scale = 0.008          # SWC unit -> um (hemibrain files: 8 nm)
preset = "cpu"             # "cpu" (small, for a laptop) | "original" (the paper's; use a GPU)
iterations = None          # None: the preset's number of training iterations
device = None              # None: CUDA if available, else CPU; or "cpu", "cuda:1", ...
output_dir = "../runs/example5"
shape = [48, 128, 128]     # (z, y, x) voxels of every stack
voxel_size = [1.0, 0.5, 0.5]  # (z, y, x) um
n_candidates = 12          # candidate training stacks (varied signal and noise)
n_select = 6               # how many DHPR keeps
n_test = 2                 # test neurons
intensities = [1.0, 0.5, 0.25, 0.125]  # signal scales of the experiment
seed = 0

# %%
out = Path(output_dir)
out.mkdir(parents=True, exist_ok=True)
dev = pick_device(device)
shape, vs = tuple(shape), tuple(voxel_size)
print(f"device: {describe(dev)}; results go to {out}")

# %% [markdown]
# ## 1. Candidate stacks
#
# `neuron_pool` grows procedural neurons (a soma with tapering, branching neurites) and
# renders each like a fluorescence stack: tubes with the node radii, uneven brightness along
# the neurites, an anisotropic point-spread function (wider in z), a hazy background,
# Poisson and Gaussian noise. Each candidate gets its own signal scale (0.08–1×),
# background and read noise, so the pool runs from easy to very dim stacks. Each comes with
# its exact mask (the training label) and SWC tree.

# %%
candidates, settings = neuron_pool(n_candidates, shape=shape, voxel_size=vs, seed=seed)
for i, (c, s) in enumerate(zip(candidates, settings)):
    print(f"candidate {i:2d}: signal {s['intensity']:.3f}x, background {s['background']:.0f}, "
          f"read noise {s['read_noise']:.1f}; {int(c.mask.sum()):,} neurite voxels, "
          f"{len(c.tree)} SWC nodes")
show = list(range(min(4, n_candidates)))
fig, axes = plt.subplots(1, len(show), figsize=(3.2 * len(show), 3.6), squeeze=False,
                         layout="constrained")
for ax, i in zip(axes[0], show):
    mip = candidates[i].image.max(0)
    ax.imshow(mip, cmap="gray", vmin=np.percentile(mip, 1), vmax=np.percentile(mip, 99.8))
    ax.set_title(f"candidate {i}: {settings[i]['intensity']:.2f}× signal", fontsize=9)
    ax.axis("off")
fig.suptitle("Candidate stacks (synthetic), z maximum-intensity projections")
plt.show()

# %% [markdown]
# ## 2. DHPR selection: diversity and hardness first
#
# Per candidate (`emseg.data.dhpr`): the **signal density** (labelled voxels in the region of
# interest / 50,000, at most 1), the background noise (mean and standard deviation of a
# sample of background voxels without bright outliers) and the **low-SNR ratio** (the
# fraction of neurite voxels less than 4·min(σ, 6.5) above the background). Candidates with
# above-median noise are kept and ranked by density + low-SNR ratio: the noisy, dense and dim
# stacks win. The constants are the original's, in raw photon counts.

# %%
selection = select_dhpr([c.image for c in candidates], [c.mask for c in candidates],
                        n_select=n_select, seed=seed)
sc = selection.scores
rows = [[i, f"{settings[i]['intensity']:.3f}", sc["density"][i], sc["noise_std"][i],
         sc["lsnr_ratio"][i], sc["score"][i], "yes" if i in selection.indices else ""]
        for i in range(n_candidates)]
display(Markdown(markdown_table(["candidate", "signal", "density", "noise σ", "low-SNR ratio",
                                 "score", "selected"], rows, digits=3)))
fig, ax = plt.subplots(figsize=(5.5, 4), layout="constrained")
chosen = np.isin(np.arange(n_candidates), selection.indices)
ax.scatter(sc["density"][~chosen], sc["lsnr_ratio"][~chosen], c="gray", label="not selected")
ax.scatter(sc["density"][chosen], sc["lsnr_ratio"][chosen], c="tab:red", label="DHPR selection")
ax.set_xlabel("signal density (diversity)")
ax.set_ylabel("low-SNR ratio (hardness)")
ax.set_title("DHPR scores of the candidate stacks")
ax.legend()
plt.show()

# %% [markdown]
# ## 3. Train VoxResNet
#
# The network (`emseg.models.VoxResNet`): a 5×5×5 stem, three stride-2 stages of
# pre-activation residual blocks, and four side outputs (one per scale, up-sampled by
# transposed convolutions) whose logits are **summed**. The original's loss is 0.5 × class-weighted cross-entropy + class-weighted soft
# Dice, with per-batch weights [β, 1 − β], β the foreground fraction, so the rare neurite
# voxels count; it halved the learning rate every epoch (after 20 epochs it was 10⁻⁶ of the
# start, so most of its 100 epochs learned nothing). The CPU preset trains with the hub's
# modern recipe instead (docs page *The training recipe*): soft Dice + cross-entropy, a third
# of the windows centred on neurite voxels, AdamW with warm-up and a poly decay to 0, gradient
# clipping, flips and quarter turns. Images are normalised to noise units (`normalize_stack`: (x − median) / robust σ),
# in training and prediction alike. A separate phantom at 0.25× signal validates.

# %%
chosen_preset = PRESETS[f"voxresnet-{preset}"]
train = [(normalize_stack(candidates[i].image), candidates[i].mask.astype(np.uint8))
         for i in selection.indices]
val_stack = neuron_phantom(shape=shape, voxel_size=vs, seed=10_000 + seed, intensity=0.25)
val = (normalize_stack(val_stack.image), val_stack.mask.astype(np.uint8))
model, config = chosen_preset.build(2, seed=seed, iterations=iterations)  # the seed: weights too
print(f"VoxResNet {model.spec()['kwargs']}: {count_parameters(model):,} parameters")
print(f"window {config.window}, batch {config.batch_size}, {config.optimizer} lr {config.lr:g} "
      f"({config.lr_schedule}), loss {config.loss}, {config.iterations} iterations on "
      f"{len(train)} stacks")
t_train = time.perf_counter()
history = fit(model, train, val, config=config, output_dir=out / "run", overwrite=True,
              device=dev, progress=True)
train_seconds = time.perf_counter() - t_train
top = max(history["val"], key=lambda v: v["miou_all"])
print(f"trained in {train_seconds:.0f} s; best validation MIoU {top['miou_all']:.4f} at iteration "
      f"{top['iteration']}")
fig = plot_history(history, title=f"VoxResNet training on synthetic neuron stacks ({describe(dev)})")
plt.show()
net = load_model(out / "run" / "checkpoints" / "best.pt", device=dev)
save_model(net, out / "net.pt", overwrite=True,
           source={"example": "example5", "iterations": config.iterations})
print(f"saved {out / 'net.pt'}")

# %% [markdown]
# **Share it.** `voxresnet-bioimageio.zip` is the same network as a
# [BioImage Model Zoo](https://bioimage.io) package, for tools that run networks without
# Python (deepImageJ in Fiji, ilastik, BiaPy): TorchScript weights, the noise-unit
# normalisation it was trained with (bioimage.io has no median/MAD step, so the package says
# it with percentiles, `(x − p50) / (1.4826 (p75 − p50))`, the same for symmetric background
# noise), class probabilities out (background, neurite), and a test input and output made by
# `emseg`'s own `predict`. The voxel scooping tracer is not part of the package: run it on
# the probability map the tool produces (`trace_voxel_scooping`, or Vaa3D's own tracers).
# Writing it needs the optional extra (`python -m pip install -e ".[bioimageio]"`); without it
# the cell says so and goes on.

# %%
try:
    package = to_bioimageio(net, out / "voxresnet-bioimageio.zip", overwrite=True,
                            name="VoxResNet neurite probability (emseg example 5)",
                            test_image=val_stack.image, class_names=["background", "neurite"],
                            training_data=f"synthetic neuron stacks (emseg neuron phantom), "
                                          f"preset '{preset}', {config.iterations:,} iterations",
                            voxel_size=tuple(1000 * v for v in vs))  # um -> nm
    print(f"saved {package}: a bioimage.io package")
except ImportError as err:  # the optional extra is not installed
    print(f"no bioimage.io package: {err}")

# %% [markdown]
# ## 4. Test neurons, probability maps and traces
#
# The test neurons were never seen in training. `probability_map` normalises a stack and
# predicts it with overlapping 3D windows (`emseg.infer.predict`, the same tiler every
# network uses); voxel scooping then traces the map at probability 0.5. Each test neuron is
# rendered at every signal level with the same noise seed, so only the signal changes.

# %% tags=["key-figure"]
if source == "swc":
    files = sorted(Path(swc_dir).glob("*.swc"))[:n_test] if swc_dir else []
    if not files:
        raise FileNotFoundError(f"no SWC files in {swc_dir}; set swc_dir or source='phantom'")
    swc_trees = [read_swc(f).scaled(swc_scale) for f in files]
    data_kind = f"real SWC morphologies ({', '.join(f.name for f in files)}) rendered as synthetic stacks"
else:
    data_kind = "synthetic procedural neurons (emseg neuron phantom)"


def test_stack(k, intensity):
    # the k-th test neuron at a signal scale: (image, mask, truth), offset of voxel 0
    if source == "swc":
        return render_densest(swc_trees[k], shape=shape, voxel_size=vs, seed=k, intensity=intensity)
    return neuron_phantom(shape=shape, voxel_size=vs, seed=20_000 + k, intensity=intensity), (0, 0, 0)


(image, mask, truth), offset = test_stack(0, intensities[0])
t0 = time.perf_counter()
prob = probability_map(net, image, device=dev)
predict_seconds = time.perf_counter() - t0
tree, row = trace_and_score(trace_voxel_scooping, prob, truth, voxel_size=vs, offset=offset)
print(f"probability map of {image.shape} in {predict_seconds:.1f} s "
      f"({image.size / predict_seconds:,.0f} voxels/s); voxel scooping in {row['seconds']:.2f} s "
      f"({row['voxels_per_s']:,.0f} voxels/s): {row['nodes']} nodes, {row['trees']} tree(s)")
swc_path = write_swc(out / "test0_voxresnet_scooping.swc", tree,
                     comments=[f"emseg example 5: VoxResNet + voxel scooping, {data_kind}"],
                     overwrite=True)
print(f"wrote {swc_path}")
fig = plot_trace_mip(prob, {"ground truth": truth, "VoxResNet + scooping": tree}, voxel_size=vs,
                     offset=offset, title=f"Probability map of test neuron 0 at {intensities[0]}× signal")
plt.show()

# %% [markdown]
# ## 5. Tracing quality under decreasing signal
#
# The original project's experiment: the same neurons at 1×, 0.5×, 0.25× and 0.125× of the
# signal. Three tracers see each stack:
#
# - **VoxResNet + scooping** (the pipeline): probability map, then voxel scooping;
# - **baseline** (threshold + skeleton): the raw stack smoothed and thresholded at median +
#   5 robust σ, skeletonised, the skeleton graph turned into a tree;
# - **threshold + scooping**: voxel scooping on the baseline's foreground (is it the CNN or
#   the tracer that makes the difference?).
#
# Scores against the ground-truth tree, all at 2 voxels: ESA (mean distance between the
# trees, lower is better), DSA (mean distance of the points that are ≥ 2 voxels off), PDS
# (fraction of points ≥ 2 voxels off), and precision/recall/F1 of the traced vs. true
# skeleton points. "Trees" counts the disconnected pieces a trace breaks into.

# %%
results, shown = [], {}
for k in range(n_test):
    for intensity in intensities:
        (image, mask, truth), offset = test_stack(k, intensity)
        t0 = time.perf_counter()
        prob = probability_map(net, image, device=dev)
        cnn_seconds = time.perf_counter() - t0
        fg = raw_foreground(image)
        runs = {"VoxResNet + scooping": (trace_voxel_scooping, prob),
                "baseline (threshold + skeleton)": (trace_skeleton, fg),
                "threshold + scooping": (trace_voxel_scooping, fg)}
        for method, (tracer, inp) in runs.items():
            tree, row = trace_and_score(tracer, inp, truth, voxel_size=vs, offset=offset)
            results.append({"neuron": k, "intensity": intensity, "method": method,
                            "cnn_seconds": cnn_seconds if "VoxResNet" in method else 0.0, **row})
            if k == 0:
                shown[(intensity, method)] = tree
        if k == 0:
            shown[(intensity, "image")], shown[(intensity, "truth")] = image, truth
            shown[(intensity, "offset")] = offset
        print(f"neuron {k}, {intensity}× signal: " + ", ".join(
            f"{r['method'].split(' ')[0]} F1 {r['f1']:.3f}" for r in results[-3:]))

# %%
methods = list(dict.fromkeys(r["method"] for r in results))
table = []
for intensity in intensities:
    for method in methods:
        rs = [r for r in results if r["intensity"] == intensity and r["method"] == method]
        mean = lambda key: float(np.nanmean([r[key] for r in rs])) if any(
            np.isfinite(r[key]) for r in rs) else float("nan")
        table.append([f"{intensity}×", method, mean("esa"), mean("dsa"), mean("pds"),
                      mean("precision"), mean("recall"), mean("f1"), mean("trees"),
                      mean("seconds")])
display(Markdown(markdown_table(["signal", "method", "ESA", "DSA", "PDS", "precision@2",
                                 "recall@2", "F1@2", "trees", "tracing s"], table, digits=3)))
print(f"means over {n_test} test neuron(s); ESA/DSA in voxels, threshold 2 voxels")
fig = plot_quality_vs_signal(results, title=f"Tracing quality under decreasing signal ({data_kind})")
plt.show()

# %% [markdown]
# **How to read it.** The claim holds where the pipeline's F1 stays high and its number of
# trees stays near one while the signal drops, and the baseline's recall (and with it F1)
# falls and its trace breaks into pieces (or vanishes: a dash means it found no foreground
# at all). "Threshold + scooping" tells whether the gain comes from the tracer or from the
# probability map: when it tracks the baseline, the CNN makes the difference. Where precision
# stays high and recall drops, the losses are missed neurites, not false ones.

# %% [markdown]
# ## 6. What the traces look like
#
# Maximum-intensity projections of the raw stack of test neuron 0 at the highest and the
# lowest signal, with the ground truth and the traces on top, and a 3D view of the traces
# at the lowest signal.

# %%
for intensity in (intensities[0], intensities[-1]):
    trees = {"ground truth": shown[(intensity, "truth")],
             "VoxResNet + scooping": shown[(intensity, "VoxResNet + scooping")],
             "baseline": shown[(intensity, "baseline (threshold + skeleton)")]}
    fig = plot_trace_mip(shown[(intensity, "image")], trees, voxel_size=vs,
                         offset=shown[(intensity, "offset")],
                         title=f"Test neuron 0 at {intensity}× signal: raw stack and traces")
    plt.show()
low = intensities[-1]
fig = plot_tree_3d({"ground truth": shown[(low, "truth")],
                    "VoxResNet + scooping": shown[(low, "VoxResNet + scooping")],
                    "baseline": shown[(low, "baseline (threshold + skeleton)")]},
                   title=f"Test neuron 0 at {low}× signal (µm)")
plt.show()
for intensity in intensities:
    write_swc(out / f"test0_{intensity}x_voxresnet_scooping.swc",
              shown[(intensity, "VoxResNet + scooping")],
              comments=[f"emseg example 5, {intensity}x signal, {data_kind}"], overwrite=True)
print(f"SWC traces of test neuron 0 written to {out}")

# %% [markdown]
# ## Results

# %%
run_seconds = time.perf_counter() - t_start
f1 = {(r[0], r[1]): r[7] for r in table}
pds = {(r[0], r[1]): r[4] for r in table}
trees_n = {(r[0], r[1]): r[8] for r in table}
pipe, base = "VoxResNet + scooping", "baseline (threshold + skeleton)"
# the arithmetic of this run: training's as its checkpoint records it, prediction's as predict chose
precision = (f"training {load_checkpoint(out / 'run' / 'checkpoints' / 'best.pt')['precision']}, "
             f"prediction {inference_precision(dev)}")
rows = [["data", data_kind],
        ["device", describe(dev)],
        ["precision", precision],
        ["network", f"VoxResNet, preset '{preset}' ({count_parameters(net):,} parameters), "
                    f"{config.iterations} iterations in {train_seconds:.0f} s on "
                    f"{len(train)} DHPR-selected stacks (of {n_candidates})"],
        ["test", f"{n_test} neuron(s), {shape} voxels of {vs} µm, signal {intensities}"]]
for intensity in intensities:
    s = f"{intensity}×"
    rows.append([f"F1@2 / PDS / trees at {s}",
                 "; ".join(f"{who} {format_value(f1[(s, m)], 3)} / {format_value(pds[(s, m)], 3)}"
                           f" / {format_value(trees_n[(s, m)], 1)}"
                           for who, m in (("pipeline", pipe), ("baseline", base)))])
rows.append(["run time", f"{run_seconds:.0f} s"])
display(Markdown(markdown_table(["", ""], rows)))
full = {"shape": [48, 128, 128], "n_candidates": 12, "n_select": 6, "n_test": 2,
        "intensities": [1.0, 0.5, 0.25, 0.125]}  # this notebook's defaults
reduced = [f"{config.iterations:,} iterations instead of the preset's "
           f"{chosen_preset.config.iterations:,}"] if config.iterations < chosen_preset.config.iterations else []
used = {"shape": list(shape), "n_candidates": n_candidates, "n_select": n_select, "n_test": n_test,
        "intensities": list(intensities)}
reduced += [f"{key} = {used[key]} (full: {value})" for key, value in full.items() if used[key] != value]
display(Markdown(about_run(
    data=data_kind, synthetic=True, device=describe(dev), seconds=run_seconds,
    precision=precision, work=[f"trained VoxResNet (preset '{preset}', {count_parameters(net):,} parameters) for "
          f"{config.iterations:,} iterations in {train_seconds:.0f} s on {len(train)} "
          f"DHPR-selected stacks", f"traced {n_test} test neuron(s) at {len(intensities)} signal levels"],
    reduced=reduced)))
save_results(out / "results.json", reports={"tracing": results}, data=data_kind, overwrite=True,
             device=describe(dev), precision=precision, seconds=run_seconds, preset=preset,
             iterations=config.iterations, selected=selection.indices.tolist(),
             intensities=list(intensities))
print(f"saved {out / 'results.json'}")

# %% [markdown] emseg_claim="tracing" emseg_what="the claim that VoxResNet + voxel scooping traces better than a skeleton baseline as the signal falls"
