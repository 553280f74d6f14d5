from _common import claim_cell
from _training import training_cells

TITLE = "Example 3: train a 2D U-Net on the platelet data and compare it with the 2D-3D net"
FOLDER = "example3_train_unet"
NOTEBOOK = "example3_train_unet.ipynb"
NEEDS = ["example2"]  # section 6 reads example 2's results; its zip holds example 2 too
QUICK = {"phantom_shape": [8, 128, 128], "test_crop": [8, 128, 128], "iterations": 20,
         "example2_results": "../runs/example2-quick/results.json"}

COMPARE = [("md", r"""
## 6. 2D U-Net vs. 2D-3D net

The paper's central claim is that the 2D-3D net segments organelles better than a 2D U-Net.
This reads example 2's saved results (run it first, with the same data and preset, for a
fair comparison) and puts the two side by side, class by class.
"""), ("code", r"""
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
""")]

CELLS = training_cells(reported="unet_eval_miou", key="unet2d", label="2D U-Net", intro=r"""
# Example 3: train a 2D U-Net on the platelet data and compare it with the 2D-3D net

The U-Net of Ronneberger et al. (2015) segments each slice on its own. Guay et al. (2021)
trained it as the baseline for their 2D-3D network. Here you train it with the original
settings and put it side by side with the 2D-3D net from example 2.

**What you will learn**

- the original 2D U-Net: valid convolutions, 572×572 input tiles → 388×388 outputs;
- how the same training loop and tiler serve a different network;
- how to compare two networks class by class on the same test volume.

**Papers**: Ronneberger O., Fischer P., Brox T., *U-Net: Convolutional networks for
biomedical image segmentation*, MICCAI 2015; Guay M. D. et al., Scientific Reports 11:2561
(2021), doi:10.1038/s41598-021-81590-0.
""", recipe=r"""
### The recipe

`PRESETS["unet2d-original"]` is the original U-Net (widths 64…1024, valid convolutions,
31,030,983 parameters) on 572×572 tiles → 388×388 outputs, Adam with learning rate 10^-3.3,
the error-weighted cross-entropy. `PRESETS["unet2d-cpu"]` is a width-16, same-padded
variant on 128×128 tiles, batch 4, for a laptop CPU, trained with the hub's **modern
recipe** (batch normalisation, soft Dice + cross-entropy, a third of the windows centred on
rare classes, AdamW with warm-up and a poly decay; see example 2 and the docs page *The
training recipe*). Example 2's `net2d3d-cpu` uses the same recipe, so the comparison below
is between architectures, not recipes.
""", params_extra='example2_results = "../runs/example2/results.json"  # example 2\'s results, for the comparison',
    closing=COMPARE)
CELLS.append(claim_cell("platelet", what="the paper's claim that the 2D-3D net beats the 2D U-Net on organelles"))
