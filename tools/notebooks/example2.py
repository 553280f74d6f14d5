from _common import claim_cell
from _training import training_cells

TITLE = "Example 2: train a 2D-3D+3x3x3 net on the platelet data"
FOLDER = "example2_train_2d3d"
NOTEBOOK = "example2_train_2d3d.ipynb"
QUICK = {"phantom_shape": [8, 128, 128], "test_crop": [8, 128, 128], "iterations": 20}

CELLS = training_cells(reported="test_miou", key="net2d3d", label="2D-3D net", intro=r"""
# Example 2: train a 2D-3D+3×3×3 net on the platelet data

The 2D-3D+3×3×3 network of Guay et al. (2021) reads 5-slice windows of an anisotropic SBF-SEM
volume. A 2D-style U-Net (mostly 1×3×3 convolutions, with 3×3×3 convolutions at the start of
its first blocks) predicts each slice; a small 3D spatial-pyramid head then looks at the
U-Net's features and its 2D predictions together across slices and makes the final
prediction. Here you train one, with the paper's recipe on a GPU (`preset="original"`) or
the hub's modern CPU recipe (`preset="cpu"`, the default), and measure it on the test volume.

**What you will learn**

- what the paper's training recipe is: 5×300×300 windows, batch 1, Adam 1e-3, the
  error-weighted cross-entropy on the 3D output plus 0.33 × the same loss on the auxiliary
  2D output;
- how to train, watch the training and validation curves, and resume an interrupted run;
- how to segment the test volume and read the per-class IoU;
- how to save the net so that example 1 can use it ("your own nets").

**Paper**: Guay M. D. et al., *Dense cellular segmentation for EM using 2D–3D neural network
ensembles*, Scientific Reports 11:2561 (2021), doi:10.1038/s41598-021-81590-0.
""", recipe=r"""
### The recipe

`PRESETS["net2d3d-original"]` is the paper's: the full network (2D width 64, pyramid 64/128;
10,283,406 parameters), input windows 5×300×300 → outputs 5×296×296, batch 1, Adam with
learning rate 1e-3 and the original betas, 4,140 iterations (5 epochs of the original), loss
= mean of (error weight + 0.01) × cross-entropy on the 3D logits + 0.33 × the same on the 2D
logits. `PRESETS["net2d3d-cpu"]` keeps the architecture at width 16 with 5×128×128 windows
and batch 2 and trains it with the hub's **modern recipe**, so that it learns within a
laptop budget: batch normalisation after every convolution, soft Dice + cross-entropy (the
error weights on the cross-entropy), a third of the windows centred on a voxel of a rare
class, AdamW 3e-3 with warm-up and a poly decay, gradient clipping, flips and quarter turns
(the docs page *The training recipe* shows what each ingredient brings). What we changed
from the original (flips that were never applied, ReLU on the logits, crop alignment) is
listed in the README.
""")
CELLS.append(claim_cell("platelet", what="the paper's claim that the 2D-3D net beats a 2D U-Net on organelles"))
