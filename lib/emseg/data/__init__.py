"""Data: the datasets (:mod:`emseg.data.datasets`: platelet, Lucchi, Lucchi++, VNC; their
entries, and the trained nets', in the one registry :mod:`emseg.data.registry`), the
synthetic phantoms (:mod:`emseg.data.phantoms`: platelet, ECS, neuron), the one reader
and writer of images, volumes and folders (:mod:`emseg.data.io`), SWC trees, error and
shape weights, and DHPR training-sample selection.

Real data are downloaded with pooch into a cache folder (``EMSEG_DATA_DIR`` overrides
it) and verified by checksum; synthetic phantoms with exact ground truth make every
workflow run offline.
"""
from emseg.data._volume import Volume, zscore
from emseg.data.io import read_volume, write_volume
from emseg.data.datasets import (CLASS_NAMES, ORGANELLE_CLASSES, PAPER_RESULTS,
                                 SyntheticDataWarning, load_lucchi, load_lucchi_pp, load_platelet,
                                 load_platelet_splits,
                                 load_vnc)
from emseg.data.fetch import DataDownloadError, data_dir, fetch_dataset
from emseg.data.phantoms import (ECS_VOXEL_SIZE, NeuronStack, ecs_phantom, ecs_phantom_labels,
                                 neuron_phantom, neuron_tree, phantom_labels, platelet_phantom,
                                 render_ecs_image, render_image, render_neuron)
from emseg.data.weights import error_weights
from emseg.data.dhpr import DHPRSelection, dhpr_image_scores, select_dhpr

__all__ = ["Volume", "zscore", "read_volume", "write_volume", "CLASS_NAMES",
           "ORGANELLE_CLASSES", "PAPER_RESULTS", "SyntheticDataWarning", "load_platelet", "load_platelet_splits", "DataDownloadError",
           "data_dir",
           "fetch_dataset", "platelet_phantom", "phantom_labels", "render_image",
           "error_weights", "ECS_VOXEL_SIZE", "ecs_phantom", "ecs_phantom_labels",
           "render_ecs_image", "NeuronStack", "neuron_phantom", "neuron_tree", "render_neuron",
           "DHPRSelection", "dhpr_image_scores", "select_dhpr", "load_lucchi", "load_lucchi_pp",
           "load_vnc"]
