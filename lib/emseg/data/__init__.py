"""Data: the platelet dataset (real download or synthetic phantom), TIFF I/O, error weights;
the ECS and neuron phantoms, and DHPR training-sample selection.

Real data are downloaded with pooch into a cache folder (``EMSEG_DATA_DIR`` overrides
it) and verified by checksum; synthetic phantoms with exact ground truth make every
workflow run offline.
"""
from emseg.data._volume import Volume, zscore
from emseg.data.io import read_volume, write_volume
from emseg.data.platelet import (CLASS_NAMES, ORGANELLE_CLASSES, PAPER_RESULTS,
                                 SyntheticDataWarning, load_platelet)
from emseg.data.fetch import DataDownloadError, data_dir, fetch_dataset
from emseg.data.phantom import platelet_phantom, phantom_labels, render_image
from emseg.data.weights import error_weights
from emseg.data.ecs_phantom import ECS_VOXEL_SIZE, ecs_phantom, ecs_phantom_labels, render_ecs_image
from emseg.data.neuron_phantom import NeuronStack, neuron_phantom, neuron_tree, render_neuron
from emseg.data.dhpr import DHPRSelection, dhpr_image_scores, select_dhpr
from emseg.data.em_datasets import load_lucchi, load_lucchi_pp, load_vnc

__all__ = ["Volume", "zscore", "read_volume", "write_volume", "CLASS_NAMES",
           "ORGANELLE_CLASSES", "PAPER_RESULTS", "SyntheticDataWarning", "load_platelet", "DataDownloadError",
           "data_dir",
           "fetch_dataset", "platelet_phantom", "phantom_labels", "render_image",
           "error_weights", "ECS_VOXEL_SIZE", "ecs_phantom", "ecs_phantom_labels",
           "render_ecs_image", "NeuronStack", "neuron_phantom", "neuron_tree", "render_neuron",
           "DHPRSelection", "dhpr_image_scores", "select_dhpr", "load_lucchi", "load_lucchi_pp",
           "load_vnc"]
