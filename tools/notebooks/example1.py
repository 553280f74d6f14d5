# ---
# jupyter:
#   jupytext:
#     notebook_metadata_filter: emseg
#     text_representation:
#       extension: .py
#       format_name: percent
#   emseg:
#     folder: example1_try_pretrained
#     notebook: example1_try_pretrained.ipynb
#     quick:  # the CI setting: `python -m emseg run example1 --quick`
#       phantom_shape: [8, 96, 96]
#       test_crop: [8, 96, 96]
# ---

# %% [markdown]
# # Example 1: segment platelets with the published 2D-3D nets and their ensemble
#
# Guay et al. (2021) trained a **2D-3D+3×3×3 network** for dense 7-class segmentation of
# platelets in serial block-face SEM and published their four best trained instances. Here
# you download them, segment the held-out test volume with one net and with the ensemble of
# all four, and measure how good each is, class by class.
#
# **What you will learn**
#
# - how to load the platelet dataset (real, or a synthetic stand-in offline) and look at its
#   labels and error weights;
# - how to load the original TensorFlow-trained nets in PyTorch (`emseg.pretrained`);
# - how tiled prediction works on a whole volume, and how an ensemble averages probabilities;
# - how to read a per-class IoU table, and what the ensemble gains over its best single net
#   (the original notebook never printed these numbers);
# - how to segment a volume larger than memory, block by block on dask into zarr, with the
#   same result as in memory.
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

from emseg.data import (CLASS_NAMES, ORGANELLE_CLASSES, PAPER_RESULTS, SyntheticDataWarning,
                        load_platelet, read_volume, write_volume, zscore)
from emseg.device import describe, inference_precision, pick_device
from emseg.infer import predict, predict_ensemble
from emseg.metrics import compare_reports, segmentation_report
from emseg.plot import plot_blocks, plot_data, plot_prediction, plot_probabilities
from emseg.pretrained import ORIGINAL_ENSEMBLE, PHANTOM_ENSEMBLE, PRETRAINED, load_pretrained
from emseg.report import about_run, markdown_table, save_results

# a fallback to synthetic data is announced by a banner; hide the duplicate warning
warnings.simplefilter("ignore", SyntheticDataWarning)
t_start = time.perf_counter()

# %% [markdown]
# ## Parameters
#
# `source="auto"` uses the real platelet data (a 188 MB download, checked against published
# MD5 sums) and falls back to the library's **synthetic phantom** only when the data host
# cannot be reached. `nets="auto"` takes the four original nets for real data and the four
# small phantom-trained nets shipped with `emseg` for synthetic data; give a list of names or
# `.pt` files to segment with your own nets (for example the one example 2 saves).

# %% tags=["parameters"]
source = "auto"            # "auto" | "real" (the real data) | "phantom" (synthetic, offline)
nets = "auto"              # "auto", or a list of pretrained names / .pt files (your own nets)
device = None              # None: CUDA if available, else CPU; or "cpu", "cuda:1", ...
output_dir = "../runs/example1"
test_crop = None           # (z, y, x): segment only the start of the test volume (quick runs)
phantom_shape = None       # (z, y, x) of the synthetic volumes; None: the phantom's default
batch_size = 4
blockwise_workers = 2      # dask worker processes for section 6 (one per GPU when you have GPUs)
my_volume = None           # path of your own volume (TIFF stack or slice folder) to segment in section 7

# %%
out = Path(output_dir)
out.mkdir(parents=True, exist_ok=True)
dev = pick_device(device)
print(f"device: {describe(dev)}; results go to {out}")

# %% [markdown]
# ## 1. The data
#
# The dataset has three volumes: **train** (50×800×800 voxels, with an error-weight volume
# that emphasises label boundaries), **eval** (24×800×800, used for validation) and **test**
# (121×609×400, a second donor). Voxels are about 40×10×10 nm (z, y, x). The seven classes
# are background, cell, mitochondrion, alpha granule, canalicular vessel, dense granule and
# dense-granule core; classes 2–6 are the *organelles*.

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

# %% [markdown]
# One slice of each volume, its labels and (for train) the error weights. The weights are
# near zero inside regions and high along boundaries, where errors are most likely.

# %%
fig = plot_data({"train": train, "eval": evaluation, "test": test}, class_names=CLASS_NAMES,
                title=f"Platelet data ({data_kind})")
plt.show()

# %% [markdown]
# ## 2. The nets
#
# The four published nets were trained in TensorFlow 1. `load_pretrained` downloads one
# (about 128 MB), converts its checkpoint to PyTorch once (no TensorFlow needed; every
# tensor's checksum, name and shape is checked) and caches the result. The converted nets
# keep the original's data flow exactly, including its quirks (ReLU on the logits), so they
# compute what the original computed.
#
# When the data are synthetic, real-data nets would be meaningless, so the notebook uses
# four small nets **trained on the synthetic phantom** that ship with `emseg` (each under
# 2 MB, made by the command stored in `PRETRAINED[name]["command"]`). They were trained with
# the CPU preset's *old* recipe (`--preset cpu-legacy`: no normalisation layers, plain
# weighted cross-entropy, constant learning rate), which barely learns the phantom's
# mitochondria and canalicular vessels: expect IoU near 0 on those classes below. Example 2
# trains a net with today's recipe; pass its `net.pt` in `nets` to compare.

# %%
if nets == "auto":
    names = list(PHANTOM_ENSEMBLE if train.synthetic else ORIGINAL_ENSEMBLE)
else:
    names = [str(n) for n in nets]
models = {}
for name in names:
    models[name] = load_pretrained(name, device=dev)
    about = PRETRAINED[name]["description"] if name in PRETRAINED else "your own net"
    n_params = sum(p.numel() for p in models[name].parameters())
    print(f"{name}: {n_params:,} parameters; {about}")

# %% [markdown]
# ## 3. Segment the test volume with one net
#
# `predict` slides overlapping windows over the volume, runs them in batches and blends the
# softmax probabilities with a Gaussian weight, so window borders leave no seams. It returns
# a (7, z, y, x) probability volume; the label of a voxel is the most probable class.

# %%
probabilities = {}
seconds = {}
for name, model in models.items():
    t0 = time.perf_counter()
    probabilities[name] = predict(model, test.image, output="probabilities", device=dev,
                                  batch_size=batch_size, progress=True)
    seconds[name] = time.perf_counter() - t0
    print(f"{name}: {test.image.size / seconds[name]:,.0f} voxels/s ({seconds[name]:.1f} s)")
first = names[0]
single = probabilities[first].argmax(0)

# %%
fig = plot_prediction(test.image, test.labels, single, class_names=CLASS_NAMES,
                      title=f"Test volume, one net ({first}, {data_kind})")
plt.show()

# %% [markdown]
# ## 4. The ensemble
#
# The ensemble averages the four nets' probability volumes and takes the most probable
# class, as in the paper. Averaging cancels errors the nets do not share.

# %% tags=["key-figure"]
ensemble_probs = np.mean([probabilities[n] for n in names], axis=0)
ensemble = ensemble_probs.argmax(0)
fig = plot_prediction(test.image, test.labels, ensemble, class_names=CLASS_NAMES,
                      title=f"Test volume, ensemble of {len(names)} nets ({data_kind})")
plt.show()

# %% [markdown]
# The ensemble's probability for each class on the same slice: bright where the nets agree
# that a voxel belongs to the class.

# %%
fig = plot_probabilities(ensemble_probs, class_names=CLASS_NAMES,
                         title=f"Ensemble class probabilities ({data_kind})")
plt.show()


# %% [markdown]
# ## 5. How good is it? Per-class IoU
#
# IoU (intersection over union) per class, MIoU over all seven classes (what the paper's
# training monitored) and over the five organelle classes (the paper's headline number).

# %%
def report(pred):
    return segmentation_report(test.labels, pred, n_classes=7, class_names=list(CLASS_NAMES),
                               organelle_classes=ORGANELLE_CLASSES)

reports = {name: report(probabilities[name].argmax(0)) for name in names}
reports["ensemble"] = report(ensemble)
display(Markdown(compare_reports(reports)))

# %%
best = max(names, key=lambda n: reports[n]["miou_organelle"])
gain = reports["ensemble"]["miou_organelle"] - reports[best]["miou_organelle"]
relative = 100 * gain / reports[best]["miou_organelle"]
print(f"best single net on organelle MIoU: {best} ({reports[best]['miou_organelle']:.4f})")
print(f"ensemble: {reports['ensemble']['miou_organelle']:.4f}, "
      f"gain {gain:+.4f} ({relative:+.1f} %; the paper reports "
      f"+{PAPER_RESULTS['ensemble_gain_percent'][0]} % on the real test volume)")

# %% [markdown]
# How to read the gain: an ensemble helps when its members are about equally good and make
# different mistakes. When one net is clearly better on the organelles than the others,
# averaging it with weaker nets can pull the ensemble below it; the paper's four nets were
# the best four of many trained instances, which is why their ensemble gained. Compare the
# columns above: the ensemble usually wins on the overall MIoU and accuracy before it wins
# on the rare organelle classes.

# %% [markdown]
# ## 6. Segment a volume larger than memory
#
# `predict` holds the whole volume and a (7, z, y, x) float32 accumulator in memory: fine
# here, impossible for a 100-gigavoxel volume. `emseg.blockwise.predict_large` cuts the
# volume into blocks, reads each with a halo from disk (TIFF, zarr, also on a remote store),
# predicts it with the same `predict`, keeps its interior and writes it into a chunked zarr
# group, one [dask](https://distributed.dask.org) task per block on a local cluster of
# worker processes (or an existing cluster: `scheduler="tcp://..."`). Memory per worker is
# one block, whatever the volume's size, and a rerun skips the finished blocks.
#
# Here the test volume stands in for a large one: we write it to a TIFF file (read back
# memory-mapped, block by block) and predict it with the first net. Blocks follow the
# net's window grid and the halo holds each window's whole input, so the blockwise result
# equals the in-memory one up to float round-off, which the cell checks. The test volume
# is already z-scored, so we pass `normalize=None` (by default `predict_large` z-scores
# with the whole volume's statistics, computed in a first chunked pass). The command line
# does the same: `python -m emseg predict-large --model NET.pt --input BIG.tif --output
# PRED.zarr --labels`; the docs page *Volumes larger than memory* covers several GPUs and
# clusters.

# %%
import zarr

from emseg.blockwise import axis_requirements, predict_large
from emseg.data import write_volume
from emseg.models import window_geometry

write_volume(out / "test-image.tif", test.image, overwrite=True)
step, _ = axis_requirements([window_geometry(models[first])], (0.25, 0.25, 0.25))
block = (4 * step[0], 2 * step[1], 2 * step[2])  # block sizes must be multiples of the window step
info = predict_large(models[first], out / "test-image.tif", out / "test-prediction.zarr",
                     block_size=block, normalize=None, n_workers=blockwise_workers, device=device,
                     overwrite=True, progress=False)
blockwise = zarr.open_group(str(out / "test-prediction.zarr"), mode="r")["probabilities"][...]
blockwise_diff = float(np.abs(blockwise - probabilities[first]).max())
print(f"{info['blocks']} block(s) of {info['block_size']} with halo {info['halo']} on "
      f"{info['workers']} workers: {info['voxels_per_second']:,.0f} voxels/s")
print(f"largest difference to the in-memory prediction: {blockwise_diff:.1e}")

# %%
fig = plot_blocks(blockwise.argmax(0), info["block_size"], class_names=CLASS_NAMES,
                  title=f"Blockwise prediction ({first}): dashed lines are block edges "
                        f"(blocks {info['block_size']}); no seams")
plt.show()

# %% [markdown]
# ## 7. Segment your own volume
#
# Set `my_volume` in the parameters cell to the path of your own EM volume (a TIFF stack, or
# a folder of TIFF/PNG slices) and run the notebook again, or just this cell: it segments
# the volume with the same nets (their ensemble when there are several), writes the labels to `my-volume-labels.tif` in `output_dir`
# and shows the middle slice. The nets learnt 7 platelet classes at about 40×10×10 nm voxels
# (z, y, x): resample other data to about that voxel size first, and expect sensible results
# only on platelet-like SBF-SEM.
#
# The same from a terminal:
# `python -m emseg predict --model NET1 --model NET2 ... --input MY.tif --output MY-labels.tif`.
# To train a net on your own labelled volumes, start from a template
# (`python -m emseg template unet2d --output my.toml`; the docs page *Templates* explains
# the folder layout).

# %%
if my_volume is None:
    print("my_volume is None: set it to your volume's path (a TIFF stack or a folder of slices)")
else:
    mine = zscore(read_volume(my_volume))
    mine_probs = predict_ensemble(list(models.values()), mine, output="probabilities", device=dev, batch_size=batch_size)
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
precision = f"prediction {inference_precision(dev)}"  # the arithmetic predict chose on this device
rows = [[name, reports[name]["miou_all"], reports[name]["miou_organelle"], reports[name]["accuracy"]]
        for name in [*names, "ensemble"]]
display(Markdown(markdown_table(["net", "MIoU (all)", "MIoU (organelles)", "accuracy"], rows)))
display(Markdown(markdown_table(["", ""], [
    ["data", f"{data_kind}, test volume {test.shape}"],
    ["nets", ", ".join(names)],
    ["device", describe(dev)],
    ["precision", precision],
    ["ensemble gain over the best single net (organelle MIoU)", f"{gain:+.4f} ({relative:+.1f} %)"],
    ["blockwise vs in-memory prediction (largest difference)",
     f"{blockwise_diff:.1e} ({info['blocks']} block(s), {info['workers']} dask workers)"],
    ["run time", f"{run_seconds:.0f} s"]])))
display(Markdown(markdown_table(["reported by the paper (real data)", "value", "what it is"], [
    ["test MIoU", PAPER_RESULTS["test_miou"][0], PAPER_RESULTS["test_miou"][1]],
    ["ensemble gain", f"+{PAPER_RESULTS['ensemble_gain_percent'][0]} %",
     PAPER_RESULTS["ensemble_gain_percent"][1]]], digits=3)))
reduced = [f"test volume cropped to {tuple(test_crop)}"] if test_crop is not None else []
reduced += [f"synthetic volumes of {tuple(phantom_shape)} voxels"] if phantom_shape is not None else []
display(Markdown(about_run(
    data=data_kind, synthetic=train.synthetic, device=describe(dev), seconds=run_seconds,
    precision=precision, work=[f"segmented the test volume {test.shape} with {len(names)} net(s) "
          f"({'phantom-trained, bundled' if names == list(PHANTOM_ENSEMBLE) else ', '.join(names)})"
          " and their ensemble", f"blockwise prediction in {info['blocks']} block(s)"],
    reduced=reduced)))
save_results(out / "results.json", reports=reports, data=data_kind, device=describe(dev),
             precision=precision, seconds=run_seconds, nets=names, test_shape=list(test.shape), overwrite=True,
             ensemble_gain=gain, ensemble_gain_percent=relative,
             blockwise_max_difference=blockwise_diff, blockwise_blocks=info["blocks"])
print(f"saved {out / 'results.json'}")

# %% [markdown] emseg_claim="platelet" emseg_what="the paper's claim that an ensemble of four 2D-3D nets beats its single nets"
