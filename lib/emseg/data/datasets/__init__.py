"""The datasets: the platelet SBF-SEM data, Lucchi (EPFL mitochondria), Lucchi++ and the
Drosophila VNC ssTEM stack; one module each (``platelet``, ``lucchi`` (both Lucchis),
``vnc``), their entries in :data:`emseg.data.registry.REGISTRY`.

Every loader returns an :class:`~emseg.data.Volume` (image float32 z-scored, labels
uint8 class ids) and handles errors as :func:`~emseg.data.load_platelet` does:
``source="real"`` downloads and verifies the data and raises on any failure,
``source="phantom"`` returns a synthetic stand-in without touching the network, and
``source="auto"`` falls back to the phantom (loudly) only when the data host cannot
be reached.

Split conventions
-----------------
* **Lucchi** (EPFL hippocampus CA1, FIB-SEM, about 5 nm isotropic): ``"train"`` is
  ``training.tif`` + ``training_groundtruth.tif``, ``"test"`` is ``testing.tif`` +
  ``testing_groundtruth.tif``; each 165 x 768 x 1024. Labels: 1 mitochondrion, 0 else.
* **Lucchi++** (the same volumes relabelled by Casser et al. 2018): ``"train"`` is
  ``Train_In`` + ``Train_Out``, ``"test"`` is ``Test_In`` + ``Test_Out``. Note that
  torch-em's loader writes ``Test_*`` to ``lucchi_train.h5`` and ``Train_*`` to
  ``lucchi_test.h5``, i.e. swaps the splits; we do not. Lucchi and Lucchi++ labels
  differ, so scores on the two are not comparable.
* **VNC** (Gerhard et al. 2013, *Drosophila* larva ventral nerve cord, ssTEM,
  4.6 x 4.6 nm pixels, 45-50 nm sections): no official split. ``stack=1`` has 20
  labelled sections, ``stack=2`` 20 unlabelled ones. The dataset's README suggests
  training on 80 % of stack 1's sections and validating on the rest:
  ``sections=slice(0, 16)`` and ``sections=slice(16, 20)``.

The registry entries record only published facts; unknown values are None with a
comment.
"""
from emseg.data.datasets.lucchi import fetch_lucchi, fetch_lucchi_pp, load_lucchi, load_lucchi_pp
from emseg.data.datasets.platelet import (CLASS_NAMES, N_CLASSES, ORGANELLE_CLASSES, PAPER_RESULTS,
                                          VOXEL_SIZE, SyntheticDataWarning, load_platelet,
                                          load_platelet_splits,
                                          read_platelet_labels, render_real_geometry)
from emseg.data.datasets.vnc import VNC_CLASS_NAMES, VNC_LABEL_VALUES, VNC_TARGETS, load_vnc

__all__ = ["load_platelet", "load_platelet_splits", "read_platelet_labels",
           "render_real_geometry", "CLASS_NAMES", "ORGANELLE_CLASSES", "N_CLASSES", "VOXEL_SIZE",
           "PAPER_RESULTS",
           "SyntheticDataWarning", "load_lucchi", "load_lucchi_pp", "fetch_lucchi",
           "fetch_lucchi_pp", "load_vnc", "VNC_LABEL_VALUES", "VNC_CLASS_NAMES", "VNC_TARGETS"]
