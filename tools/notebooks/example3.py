# ---
# jupyter:
#   jupytext:
#     notebook_metadata_filter: emseg
#     text_representation:
#       extension: .py
#       format_name: percent
#   emseg:
#     folder: example3_train_unet
#     notebook: example3_train_unet.ipynb
#     needs: ["example2"]  # section 6 reads example 2's results; its zip holds example 2 too
#     quick:  # the CI setting: `python -m emseg run example3 --quick`
#       phantom_shape: [8, 128, 128]
#       test_crop: [8, 128, 128]
#       iterations: 20
#       example2_results: "../runs/example2-quick/results.json"
# ---

# %% [markdown]
# # Example 3: train a 2D U-Net on the platelet data and compare it with the 2D-3D net
#
# The U-Net of Ronneberger et al. (2015) segments each slice on its own. Guay et al. (2021)
# trained it as the baseline for their 2D-3D network. Here you train it with the original
# settings and put it side by side with the 2D-3D net from example 2.
#
# **What you will learn**
#
# - the original 2D U-Net: valid convolutions, 572×572 input tiles → 388×388 outputs;
# - how the same training loop and tiler serve a different network;
# - how to compare two networks class by class on the same test volume.
#
# **Papers**: Ronneberger O., Fischer P., Brox T., *U-Net: Convolutional networks for
# biomedical image segmentation*, MICCAI 2015; Guay M. D. et al., Scientific Reports 11:2561
# (2021), doi:10.1038/s41598-021-81590-0.

# %% [markdown] emseg_include="about"

# %% [markdown]
# ## Setup
#
# Run `python -m pip install -r requirements.txt` once in the repository (see the README).
# `emseg` picks the device itself: CUDA with mixed precision when there is a GPU, else the CPU
# (in bfloat16 where the CPU computes it natively; the results table says which precision ran).

# %%
import time
import warnings
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
from IPython.display import Markdown, display

from emseg.bioimageio import to_bioimageio
from emseg.checkpoint import load_checkpoint, load_model, save_model
from emseg.data import (CLASS_NAMES, ORGANELLE_CLASSES, PAPER_RESULTS, SyntheticDataWarning,
                        load_platelet, read_volume, write_volume, zscore)
from emseg.device import describe, inference_precision, pick_device
from emseg.infer import predict
from emseg.metrics import format_report, segmentation_report
from emseg.models import count_parameters
from emseg.plot import plot_data, plot_history, plot_prediction, plot_probabilities
from emseg.report import about_run, load_results, markdown_table, save_results
from emseg.train import PRESETS, fit

# a fallback to synthetic data is announced by a banner; hide the duplicate warning
warnings.simplefilter("ignore", SyntheticDataWarning)
t_start = time.perf_counter()

# %% [markdown]
# ## Parameters
#
# `preset="original"` is the paper's network and recipe; it needs a GPU (hours on a CPU).
# `preset="cpu"` is a **smaller variant for a laptop CPU** (narrower net, smaller windows,
# fewer iterations): the same code and loss, scaled down. `source="auto"` uses the real
# platelet data and falls back to the library's **synthetic phantom** only when the data host
# cannot be reached. Re-running the notebook replaces the training run in `output_dir`
# (choose another folder to keep it, or set `resume=True` to continue it).

# %% tags=["parameters"]
source = "auto"            # "auto" | "real" (the real data) | "phantom" (synthetic, offline)
preset = "cpu"             # "cpu" (small, for a laptop) | "original" (the paper's; use a GPU)
iterations = None          # None: the preset's number of training iterations
device = None              # None: CUDA if available, else CPU; or "cpu", "cuda:1", ...
output_dir = "../runs/example3"
phantom_shape = None       # (z, y, x) of the synthetic volumes; None: the phantom's default
test_crop = None           # (z, y, x): segment only the start of the test volume (quick runs)
seed = 0
resume = False             # continue the run in output_dir instead of starting again
my_volume = None           # path of your own volume (TIFF stack or slice folder) to segment at the end
example2_results = "../runs/example2/results.json"  # example 2's results, for the comparison

# %%
out = Path(output_dir)
out.mkdir(parents=True, exist_ok=True)
dev = pick_device(device)
print(f"device: {describe(dev)}; results go to {out}")

# %% [markdown]
# ## 1. The data
#
# Train (50×800×800 voxels, with error weights), eval (24×800×800; validation during
# training) and test (121×609×400, a second donor); about 40×10×10 nm voxels. Seven classes:
# background, cell, mitochondrion, alpha granule, canalicular vessel, dense granule and
# dense-granule core (classes 2–6 are the organelles).

# %%
shape = None if phantom_shape is None else tuple(phantom_shape)
train = load_platelet("train", source=source, shape=shape)
kind = "phantom" if train.synthetic else source
evaluation = load_platelet("eval", source=kind, shape=shape)
test = load_platelet("test", source=kind, shape=shape).crop(test_crop)
data_kind = "synthetic platelet phantom" if train.synthetic else "real platelet SBF-SEM"
print(f"data: {data_kind}")
for vol in (train, evaluation, test):
    print(f"  {vol}")
fig = plot_data({"train": train, "eval": evaluation, "test": test}, class_names=CLASS_NAMES,
                title=f"Platelet data ({data_kind})")
plt.show()

# %% [markdown]
# ### The recipe
#
# `PRESETS["unet2d-original"]` is the original U-Net (widths 64…1024, valid convolutions,
# 31,030,983 parameters) on 572×572 tiles → 388×388 outputs, Adam with learning rate 10^-3.3,
# the error-weighted cross-entropy. `PRESETS["unet2d-cpu"]` is a width-16, same-padded
# variant on 128×128 tiles, batch 4, for a laptop CPU, trained with the hub's **modern
# recipe** (batch normalisation, soft Dice + cross-entropy, a third of the windows centred on
# rare classes, AdamW with warm-up and a poly decay; see example 2 and the docs page *The
# training recipe*). Example 2's `net2d3d-cpu` uses the same recipe, so the comparison below
# is between architectures, not recipes.

# %%
chosen = PRESETS[f"unet2d-{preset}"]
# the network and its settings; the same seed gives the same initial weights (and, on a CPU,
# the same run); a short run validates at its end
model, config = chosen.build(7, seed=seed, iterations=iterations)
print(f"{model.spec()['name']} {model.spec()['kwargs']}: {count_parameters(model):,} parameters")
print(f"window {config.window}, batch {config.batch_size}, {config.optimizer} lr {config.lr:g} "
      f"({config.lr_schedule} schedule), loss {config.loss}, "
      f"{config.iterations} iterations, validation every {config.eval_every}")

# %% [markdown]
# ## 2. Train
#
# `fit` is the one training loop of `emseg`: it samples windows (with the CPU preset a third
# of them centred on an organelle), augments them, computes the loss (the CPU preset: Dice +
# cross-entropy; the original preset: the error-weighted cross-entropy), steps the optimizer on the
# preset's learning-rate schedule, validates on the eval volume and keeps `best.pt` (highest
# validation MIoU) and `last.pt` in `output_dir/run/checkpoints`. Ctrl-C (or the Jupyter stop
# button) saves `last.pt` first; `resume=True` continues exactly where it stopped. The
# progress bar shows the loss and the time left, with one line per validation.

# %%
t_train = time.perf_counter()
history = fit(model, train, evaluation, config=config, output_dir=out / "run", resume=resume,
              overwrite=not resume, device=dev, progress=True)
train_seconds = time.perf_counter() - t_train
top = max(history["val"], key=lambda v: v["miou_all"])
print(f"trained {config.iterations} iterations in {train_seconds:.0f} s; best validation MIoU "
      f"{top['miou_all']:.4f} (organelles {top['miou_organelle']:.4f}) at iteration {top['iteration']}")

# %%
fig = plot_history(history, title=f"2D U-Net training on {data_kind} ({describe(dev)})")
plt.show()

# %% [markdown]
# ## 3. Segment the test volume
#
# The best checkpoint (by validation MIoU) segments the test volume with overlapping,
# blended windows.

# %%
best = load_model(out / "run" / "checkpoints" / "best.pt", device=dev)
t0 = time.perf_counter()
probabilities = predict(best, test.image, window=config.window, output="probabilities",
                        device=dev, progress=True)
predict_seconds = time.perf_counter() - t0
prediction = probabilities.argmax(0)
print(f"predicted {test.shape} at {test.image.size / predict_seconds:,.0f} voxels/s")

# %% tags=["key-figure"]
fig = plot_prediction(test.image, test.labels, prediction, class_names=CLASS_NAMES,
                      title=f"2D U-Net: test volume ({data_kind})")
plt.show()
fig = plot_probabilities(probabilities, class_names=CLASS_NAMES,
                         title=f"2D U-Net: class probabilities ({data_kind})")
plt.show()

# %% [markdown]
# ## 4. Per-class IoU on the test volume

# %%
report = segmentation_report(test.labels, prediction, n_classes=7, class_names=list(CLASS_NAMES),
                             organelle_classes=ORGANELLE_CLASSES)
display(Markdown(format_report(report, title="2D U-Net, test volume")))

# %% [markdown]
# ## 5. Save and share the trained net
#
# `net.pt` holds the network only (no optimizer state). Example 1 segments with it when you
# set `nets = ["../runs/example3/net.pt"]` there.
#
# `net-bioimageio.zip` is the same net as a [BioImage Model Zoo](https://bioimage.io) package,
# for tools that run networks without Python (deepImageJ in Fiji, ilastik, BiaPy): TorchScript
# weights, the z-score preprocessing and softmax postprocessing, a test input and output made
# by `emseg`'s own `predict`, the class names, the paper and what the net was trained on.
# `emseg` reads it back too (`load_model("net-bioimageio.zip")`). Writing it needs the optional
# extra (`python -m pip install -e ".[bioimageio]"`); without it the cell says so and goes on.
# The docs page *Use your network in Fiji, ilastik or BiaPy* says what was verified.

# %%
save_model(best, out / "net.pt", overwrite=True,
           source={"example": "example3", "data": data_kind, "iterations": config.iterations})
print(f"saved {out / 'net.pt'}")
try:
    package = to_bioimageio(best, out / "net-bioimageio.zip", overwrite=True,
                            name="2D U-Net for platelet organelles (emseg example 3)",
                            test_image=test.image, class_names=list(CLASS_NAMES),
                            training_data=f"{data_kind}, preset '{preset}', {config.iterations:,} iterations",
                            voxel_size=test.voxel_size)
    print(f"saved {package}: a bioimage.io package")
except ImportError as err:  # the optional extra is not installed
    print(f"no bioimage.io package: {err}")

# %% [markdown]
# ## 6. 2D U-Net vs. 2D-3D net
#
# The paper's central claim is that the 2D-3D net segments organelles better than a 2D U-Net.
# This reads example 2's saved results (run it first, with the same data and preset, for a
# fair comparison) and puts the two side by side, class by class.

# %%
other = load_results(example2_results)
if other is None:
    print(f"no results of example 2 at {example2_results}: run example 2 first")
else:
    (name_2d3d, report_2d3d), = other["reports"].items()
    rows = [[f"IoU {c}", report_2d3d["iou"][k], report["iou"][k]] for k, c in enumerate(CLASS_NAMES)]
    rows += [["MIoU (all classes)", report_2d3d["miou_all"], report["miou_all"]],
             ["MIoU (organelles)", report_2d3d["miou_organelle"], report["miou_organelle"]],
             ["accuracy", report_2d3d["accuracy"], report["accuracy"]]]
    display(Markdown(markdown_table(["test volume", f"{name_2d3d} (example 2)", "2D U-Net"], rows)))
    print(f"example 2 ran on {other['data']} ({other['device']}, preset {other.get('preset')}, "
          f"{other.get('iterations')} iterations)")
    winner = "2D-3D net" if report_2d3d["miou_organelle"] > report["miou_organelle"] else "2D U-Net"
    print(f"higher organelle MIoU: {winner}")

# %% [markdown]
# ## 7. Segment your own volume
#
# Set `my_volume` in the parameters cell to the path of your own EM volume (a TIFF stack, or
# a folder of TIFF/PNG slices) and run the notebook again, or just this cell: it segments
# the volume with the net you trained (`best.pt`), writes the labels to `my-volume-labels.tif` in `output_dir`
# and shows the middle slice. The nets learnt 7 platelet classes at about 40×10×10 nm voxels
# (z, y, x): resample other data to about that voxel size first, and expect sensible results
# only on platelet-like SBF-SEM.
#
# The same from a terminal:
# `python -m emseg predict --model ../runs/example3/net.pt --input MY.tif --output MY-labels.tif`.
# To train a net on your own labelled volumes, start from a template
# (`python -m emseg template unet2d --output my.toml`; the docs page *Templates* explains
# the folder layout).

# %%
if my_volume is None:
    print("my_volume is None: set it to your volume's path (a TIFF stack or a folder of slices)")
else:
    mine = zscore(read_volume(my_volume))
    mine_probs = predict(best, mine, window=config.window, output="probabilities", device=dev)
    mine_labels = mine_probs.argmax(0).astype(np.uint8)
    write_volume(out / "my-volume-labels.tif", mine_labels, overwrite=True)
    print(f"{my_volume}: {mine.shape} -> {out / 'my-volume-labels.tif'}")
    fig = plot_prediction(mine, None, mine_labels, class_names=CLASS_NAMES,
                          title=f"Your volume: {Path(my_volume).name}")
    plt.show()

# %% [markdown]
# ## Results

# %%
run_seconds = time.perf_counter() - t_start
# the arithmetic of this run: training's as its checkpoint records it, prediction's as predict chose
precision = (f"training {load_checkpoint(out / 'run' / 'checkpoints' / 'best.pt')['precision']}, "
             f"prediction {inference_precision(dev)}")
display(Markdown(markdown_table(["", ""], [
    ["net", f"2D U-Net, preset '{preset}' ({count_parameters(best):,} parameters)"],
    ["data", f"{data_kind}; test volume {test.shape}"],
    ["device", describe(dev)],
    ["precision", precision],
    ["training", f"{config.iterations} iterations in {train_seconds:.0f} s"],
    ["test MIoU (all classes)", f"{report['miou_all']:.4f}"],
    ["test MIoU (organelles)", f"{report['miou_organelle']:.4f}"],
    ["test accuracy", f"{report['accuracy']:.4f}"],
    ["run time", f"{run_seconds:.0f} s"],
    ["reported in the original work (real data)",
     f"{PAPER_RESULTS['unet_eval_miou'][0]}: {PAPER_RESULTS['unet_eval_miou'][1]}"]])))
reduced = []
if config.iterations < chosen.config.iterations:
    reduced.append(f"{config.iterations:,} iterations instead of the preset's {chosen.config.iterations:,}")
if phantom_shape is not None:
    reduced.append(f"synthetic volumes of {tuple(phantom_shape)} voxels")
if test_crop is not None:
    reduced.append(f"test volume cropped to {tuple(test_crop)}")
display(Markdown(about_run(
    data=data_kind, synthetic=train.synthetic, device=describe(dev), seconds=run_seconds,
    precision=precision, work=[f"trained the 2D U-Net (preset '{preset}', {count_parameters(best):,} parameters) for "
          f"{config.iterations:,} iterations in {train_seconds:.0f} s",
          f"segmented the test volume {test.shape}"], reduced=reduced)))
save_results(out / "results.json", reports={"2D U-Net": report}, data=data_kind, overwrite=True,
             device=describe(dev), precision=precision, seconds=run_seconds, preset=preset,
             iterations=config.iterations, test_shape=list(test.shape))
print(f"saved {out / 'results.json'}")

# %% [markdown] emseg_claim="platelet" emseg_what="the paper's claim that the 2D-3D net beats the 2D U-Net on organelles"
