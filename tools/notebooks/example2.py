# ---
# jupyter:
#   jupytext:
#     notebook_metadata_filter: emseg
#     text_representation:
#       extension: .py
#       format_name: percent
#   emseg:
#     folder: example2_train_2d3d
#     notebook: example2_train_2d3d.ipynb
#     quick:  # the CI setting: `python -m emseg run example2 --quick`
#       phantom_shape: [8, 128, 128]
#       test_crop: [8, 128, 128]
#       iterations: 20
# ---

# %% [markdown]
# # Example 2: train a 2D-3D+3×3×3 net on the platelet data
#
# The 2D-3D+3×3×3 network of Guay et al. (2021) reads 5-slice windows of an anisotropic SBF-SEM
# volume. A 2D-style U-Net (mostly 1×3×3 convolutions, with 3×3×3 convolutions at the start of
# its first blocks) predicts each slice; a small 3D spatial-pyramid head then looks at the
# U-Net's features and its 2D predictions together across slices and makes the final
# prediction. Here you train one, with the paper's recipe on a GPU (`preset="original"`) or
# the hub's modern CPU recipe (`preset="cpu"`, the default), and measure it on the test volume.
#
# **What you will learn**
#
# - what the paper's training recipe is: 5×300×300 windows, batch 1, Adam 1e-3, the
#   error-weighted cross-entropy on the 3D output plus 0.33 × the same loss on the auxiliary
#   2D output;
# - how to train, watch the training and validation curves, and resume an interrupted run;
# - how to segment the test volume and read the per-class IoU;
# - how to save the net so that example 1 can use it ("your own nets").
#
# **Paper**: Guay M. D. et al., *Dense cellular segmentation for EM using 2D–3D neural network
# ensembles*, Scientific Reports 11:2561 (2021), doi:10.1038/s41598-021-81590-0.

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
output_dir = "../runs/example2"
phantom_shape = None       # (z, y, x) of the synthetic volumes; None: the phantom's default
test_crop = None           # (z, y, x): segment only the start of the test volume (quick runs)
seed = 0
resume = False             # continue the run in output_dir instead of starting again
my_volume = None           # path of your own volume (TIFF stack or slice folder) to segment at the end

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
# `PRESETS["net2d3d-original"]` is the paper's: the full network (2D width 64, pyramid 64/128;
# 10,283,406 parameters), input windows 5×300×300 → outputs 5×296×296, batch 1, Adam with
# learning rate 1e-3 and the original betas, 4,140 iterations (5 epochs of the original), loss
# = mean of (error weight + 0.01) × cross-entropy on the 3D logits + 0.33 × the same on the 2D
# logits. `PRESETS["net2d3d-cpu"]` keeps the architecture at width 16 with 5×128×128 windows
# and batch 2 and trains it with the hub's **modern recipe**, so that it learns within a
# laptop budget: batch normalisation after every convolution, soft Dice + cross-entropy (the
# error weights on the cross-entropy), a third of the windows centred on a voxel of a rare
# class, AdamW 3e-3 with warm-up and a poly decay, gradient clipping, flips and quarter turns
# (the docs page *The training recipe* shows what each ingredient brings). What we changed
# from the original (flips that were never applied, ReLU on the logits, crop alignment) is
# listed in the README.

# %%
chosen = PRESETS[f"net2d3d-{preset}"]
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
fig = plot_history(history, title=f"2D-3D net training on {data_kind} ({describe(dev)})")
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
                      title=f"2D-3D net: test volume ({data_kind})")
plt.show()
fig = plot_probabilities(probabilities, class_names=CLASS_NAMES,
                         title=f"2D-3D net: class probabilities ({data_kind})")
plt.show()

# %% [markdown]
# ## 4. Per-class IoU on the test volume

# %%
report = segmentation_report(test.labels, prediction, n_classes=7, class_names=list(CLASS_NAMES),
                             organelle_classes=ORGANELLE_CLASSES)
display(Markdown(format_report(report, title="2D-3D net, test volume")))

# %% [markdown]
# ## 5. Save and share the trained net
#
# `net.pt` holds the network only (no optimizer state). Example 1 segments with it when you
# set `nets = ["../runs/example2/net.pt"]` there.
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
           source={"example": "example2", "data": data_kind, "iterations": config.iterations})
print(f"saved {out / 'net.pt'}")
try:
    package = to_bioimageio(best, out / "net-bioimageio.zip", overwrite=True,
                            name="2D-3D net for platelet organelles (emseg example 2)",
                            test_image=test.image, class_names=list(CLASS_NAMES),
                            training_data=f"{data_kind}, preset '{preset}', {config.iterations:,} iterations",
                            voxel_size=test.voxel_size)
    print(f"saved {package}: a bioimage.io package")
except ImportError as err:  # the optional extra is not installed
    print(f"no bioimage.io package: {err}")

# %% [markdown]
# ## 6. Segment your own volume
#
# Set `my_volume` in the parameters cell to the path of your own EM volume (a TIFF stack, or
# a folder of TIFF/PNG slices) and run the notebook again, or just this cell: it segments
# the volume with the net you trained (`best.pt`), writes the labels to `my-volume-labels.tif` in `output_dir`
# and shows the middle slice. The nets learnt 7 platelet classes at about 40×10×10 nm voxels
# (z, y, x): resample other data to about that voxel size first, and expect sensible results
# only on platelet-like SBF-SEM.
#
# The same from a terminal:
# `python -m emseg predict --model ../runs/example2/net.pt --input MY.tif --output MY-labels.tif`.
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
    ["net", f"2D-3D net, preset '{preset}' ({count_parameters(best):,} parameters)"],
    ["data", f"{data_kind}; test volume {test.shape}"],
    ["device", describe(dev)],
    ["precision", precision],
    ["training", f"{config.iterations} iterations in {train_seconds:.0f} s"],
    ["test MIoU (all classes)", f"{report['miou_all']:.4f}"],
    ["test MIoU (organelles)", f"{report['miou_organelle']:.4f}"],
    ["test accuracy", f"{report['accuracy']:.4f}"],
    ["run time", f"{run_seconds:.0f} s"],
    ["reported in the original work (real data)",
     f"{PAPER_RESULTS['test_miou'][0]}: {PAPER_RESULTS['test_miou'][1]}"]])))
reduced = []
if config.iterations < chosen.config.iterations:
    reduced.append(f"{config.iterations:,} iterations instead of the preset's {chosen.config.iterations:,}")
if phantom_shape is not None:
    reduced.append(f"synthetic volumes of {tuple(phantom_shape)} voxels")
if test_crop is not None:
    reduced.append(f"test volume cropped to {tuple(test_crop)}")
display(Markdown(about_run(
    data=data_kind, synthetic=train.synthetic, device=describe(dev), seconds=run_seconds,
    precision=precision, work=[f"trained the 2D-3D net (preset '{preset}', {count_parameters(best):,} parameters) for "
          f"{config.iterations:,} iterations in {train_seconds:.0f} s",
          f"segmented the test volume {test.shape}"], reduced=reduced)))
save_results(out / "results.json", reports={"2D-3D net": report}, data=data_kind, overwrite=True,
             device=describe(dev), precision=precision, seconds=run_seconds, preset=preset,
             iterations=config.iterations, test_shape=list(test.shape))
print(f"saved {out / 'results.json'}")

# %% [markdown] emseg_claim="platelet" emseg_what="the paper's claim that the 2D-3D net beats a 2D U-Net on organelles"
