"""Cells shared by examples 2 and 3 (train a net on the platelet data)."""
from _common import ABOUT, own_volume_cells


def training_cells(*, key, label, intro, recipe, reported, params_extra="", closing=()):
    """The notebook cells of a training example; ``key`` is 'net2d3d' or 'unet2d';
    ``reported`` names the entry of ``PAPER_RESULTS`` shown beside ours."""
    n = {"net2d3d": 2, "unet2d": 3}[key]
    own = 6 + (1 if closing else 0)
    return [("md", intro), ABOUT, ("md", r"""
## Setup

Run `python -m pip install -r requirements.txt` once in the repository (see the README).
`emseg` picks the device itself: CUDA with mixed precision when there is a GPU, else the CPU
(in bfloat16 where the CPU computes it natively; the results table says which precision ran).
"""), ("code", r"""
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
"""), ("md", r"""
## Parameters

`preset="original"` is the paper's network and recipe; it needs a GPU (hours on a CPU).
`preset="cpu"` is a **smaller variant for a laptop CPU** (narrower net, smaller windows,
fewer iterations): the same code and loss, scaled down. `source="auto"` uses the real
platelet data and falls back to the library's **synthetic phantom** only when the data host
cannot be reached. Re-running the notebook replaces the training run in `output_dir`
(choose another folder to keep it, or set `resume=True` to continue it).
"""), ("params", rf"""
source = "auto"            # "auto" | "real" (the real data) | "phantom" (synthetic, offline)
preset = "cpu"             # "cpu" (small, for a laptop) | "original" (the paper's; use a GPU)
iterations = None          # None: the preset's number of training iterations
device = None              # None: CUDA if available, else CPU; or "cpu", "cuda:1", ...
output_dir = "../runs/example{n}"
phantom_shape = None       # (z, y, x) of the synthetic volumes; None: the phantom's default
test_crop = None           # (z, y, x): segment only the start of the test volume (quick runs)
seed = 0
resume = False             # continue the run in output_dir instead of starting again
my_volume = None           # path of your own volume (TIFF stack or slice folder) to segment at the end
{params_extra}
""".rstrip() + "\n"), ("code", r"""
out = Path(output_dir)
out.mkdir(parents=True, exist_ok=True)
dev = pick_device(device)
print(f"device: {describe(dev)}; results go to {out}")
"""), ("md", r"""
## 1. The data

Train (50×800×800 voxels, with error weights), eval (24×800×800; validation during
training) and test (121×609×400, a second donor); about 40×10×10 nm voxels. Seven classes:
background, cell, mitochondrion, alpha granule, canalicular vessel, dense granule and
dense-granule core (classes 2–6 are the organelles).
"""), ("code", r"""
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
"""), ("md", recipe), ("code", rf"""
chosen = PRESETS[f"{key}-{{preset}}"]
# the network and its settings; the same seed gives the same initial weights (and, on a CPU,
# the same run); a short run validates at its end
model, config = chosen.build(7, seed=seed, iterations=iterations)
print(f"{{model.spec()['name']}} {{model.spec()['kwargs']}}: {{count_parameters(model):,}} parameters")
print(f"window {{config.window}}, batch {{config.batch_size}}, {{config.optimizer}} lr {{config.lr:g}} "
      f"({{config.lr_schedule}} schedule), loss {{config.loss}}, "
      f"{{config.iterations}} iterations, validation every {{config.eval_every}}")
"""), ("md", r"""
## 2. Train

`fit` is the one training loop of `emseg`: it samples windows (with the CPU preset a third
of them centred on an organelle), augments them, computes the loss (the CPU preset: Dice +
cross-entropy; the original preset: the error-weighted cross-entropy), steps the optimizer on the
preset's learning-rate schedule, validates on the eval volume and keeps `best.pt` (highest
validation MIoU) and `last.pt` in `output_dir/run/checkpoints`. Ctrl-C (or the Jupyter stop
button) saves `last.pt` first; `resume=True` continues exactly where it stopped. The
progress bar shows the loss and the time left, with one line per validation.
"""), ("code", r"""
t_train = time.perf_counter()
history = fit(model, train, evaluation, config=config, output_dir=out / "run", resume=resume,
              overwrite=not resume, device=dev, progress=True)
train_seconds = time.perf_counter() - t_train
top = max(history["val"], key=lambda v: v["miou_all"])
print(f"trained {config.iterations} iterations in {train_seconds:.0f} s; best validation MIoU "
      f"{top['miou_all']:.4f} (organelles {top['miou_organelle']:.4f}) at iteration {top['iteration']}")
"""), ("code", rf"""
fig = plot_history(history, title=f"{label} training on {{data_kind}} ({{describe(dev)}})")
plt.show()
"""), ("md", r"""
## 3. Segment the test volume

The best checkpoint (by validation MIoU) segments the test volume with overlapping,
blended windows.
"""), ("code", r"""
best = load_model(out / "run" / "checkpoints" / "best.pt", device=dev)
t0 = time.perf_counter()
probabilities = predict(best, test.image, window=config.window, output="probabilities",
                        device=dev, progress=True)
predict_seconds = time.perf_counter() - t0
prediction = probabilities.argmax(0)
print(f"predicted {test.shape} at {test.image.size / predict_seconds:,.0f} voxels/s")
"""), ("figure", rf"""
fig = plot_prediction(test.image, test.labels, prediction, class_names=CLASS_NAMES,
                      title=f"{label}: test volume ({{data_kind}})")
plt.show()
fig = plot_probabilities(probabilities, class_names=CLASS_NAMES,
                         title=f"{label}: class probabilities ({{data_kind}})")
plt.show()
"""), ("md", r"""
## 4. Per-class IoU on the test volume
"""), ("code", rf"""
report = segmentation_report(test.labels, prediction, n_classes=7, class_names=list(CLASS_NAMES),
                             organelle_classes=ORGANELLE_CLASSES)
display(Markdown(format_report(report, title="{label}, test volume")))
"""), ("md", rf"""
## 5. Save and share the trained net

`net.pt` holds the network only (no optimizer state). Example 1 segments with it when you
set `nets = ["../runs/example{n}/net.pt"]` there.

`net-bioimageio.zip` is the same net as a [BioImage Model Zoo](https://bioimage.io) package,
for tools that run networks without Python (deepImageJ in Fiji, ilastik, BiaPy): TorchScript
weights, the z-score preprocessing and softmax postprocessing, a test input and output made
by `emseg`'s own `predict`, the class names, the paper and what the net was trained on.
`emseg` reads it back too (`load_model("net-bioimageio.zip")`). Writing it needs the optional
extra (`python -m pip install -e ".[bioimageio]"`); without it the cell says so and goes on.
The docs page *Use your network in Fiji, ilastik or BiaPy* says what was verified.
"""), ("code", r"""
save_model(best, out / "net.pt", overwrite=True,
           source={"example": "example{n}", "data": data_kind, "iterations": config.iterations})
print(f"saved {out / 'net.pt'}")
try:
    package = to_bioimageio(best, out / "net-bioimageio.zip", overwrite=True,
                            name="{label} for platelet organelles (emseg example {n})",
                            test_image=test.image, class_names=list(CLASS_NAMES),
                            training_data=f"{data_kind}, preset '{preset}', {config.iterations:,} iterations",
                            voxel_size=test.voxel_size)
    print(f"saved {package}: a bioimage.io package")
except ImportError as err:  # the optional extra is not installed
    print(f"no bioimage.io package: {err}")
""".replace("{n}", str(n)).replace("{label}", label)), *closing, *own_volume_cells(
        section=own, nets_phrase="the net you trained (`best.pt`)",
        predict_call="mine_probs = predict(best, mine, window=config.window, output=\"probabilities\", "
                     "device=dev)",
        cli_model=f"../runs/example{n}/net.pt"), ("md", r"""
## Results
"""), ("code", rf"""
run_seconds = time.perf_counter() - t_start
# the arithmetic of this run: training's as its checkpoint records it, prediction's as predict chose
precision = (f"training {{load_checkpoint(out / 'run' / 'checkpoints' / 'best.pt')['precision']}}, "
             f"prediction {{inference_precision(dev)}}")
display(Markdown(markdown_table(["", ""], [
    ["net", f"{label}, preset '{{preset}}' ({{count_parameters(best):,}} parameters)"],
    ["data", f"{{data_kind}}; test volume {{test.shape}}"],
    ["device", describe(dev)],
    ["precision", precision],
    ["training", f"{{config.iterations}} iterations in {{train_seconds:.0f}} s"],
    ["test MIoU (all classes)", f"{{report['miou_all']:.4f}}"],
    ["test MIoU (organelles)", f"{{report['miou_organelle']:.4f}}"],
    ["test accuracy", f"{{report['accuracy']:.4f}}"],
    ["run time", f"{{run_seconds:.0f}} s"],
    ["reported in the original work (real data)",
     f"{{PAPER_RESULTS['{reported}'][0]}}: {{PAPER_RESULTS['{reported}'][1]}}"]])))
reduced = []
if config.iterations < chosen.config.iterations:
    reduced.append(f"{{config.iterations:,}} iterations instead of the preset's {{chosen.config.iterations:,}}")
if phantom_shape is not None:
    reduced.append(f"synthetic volumes of {{tuple(phantom_shape)}} voxels")
if test_crop is not None:
    reduced.append(f"test volume cropped to {{tuple(test_crop)}}")
display(Markdown(about_run(
    data=data_kind, synthetic=train.synthetic, device=describe(dev), seconds=run_seconds,
    precision=precision, work=[f"trained the {label} (preset '{{preset}}', {{count_parameters(best):,}} parameters) for "
          f"{{config.iterations:,}} iterations in {{train_seconds:.0f}} s",
          f"segmented the test volume {{test.shape}}"], reduced=reduced)))
save_results(out / "results.json", reports={{"{label}": report}}, data=data_kind, overwrite=True,
             device=describe(dev), precision=precision, seconds=run_seconds, preset=preset,
             iterations=config.iterations, test_shape=list(test.shape))
print(f"saved {{out / 'results.json'}}")
""")]
