"""The *Drosophila* VNC ssTEM stack (Gerhard et al. 2013): 20 labelled sections, read from
a clone of its repository; see :mod:`emseg.data.datasets` for the suggested split."""
from pathlib import Path

import numpy as np

from emseg.data._volume import Volume, zscore
from emseg.data.datasets._common import (dataset_root, mito_phantom, read_png_stack, slice_files,
                                         white_mask)
from emseg.data.registry import SOURCES, VNC

__all__ = ["load_vnc", "VNC_LABEL_VALUES", "VNC_CLASS_NAMES", "VNC_TARGETS"]

#: VNC merged-label values -> class ids 0..8 (``target="labels"``).
VNC_LABEL_VALUES = (0, 32, 64, 96, 128, 159, 191, 223, 255)
VNC_CLASS_NAMES = ("membrane |", "membrane /", "membrane -", "membrane \\", "membrane junction",
                   "glia/extracellular", "mitochondrion", "synapse", "intracellular")
VNC_TARGETS = ("mitochondria", "membranes", "synapses", "labels", "extracellular")


def load_vnc(*, target="mitochondria", stack=1, sections=None, path=None, source="real",
             seed=0, shape=None):
    """Load the Drosophila VNC ssTEM stack (Gerhard et al. 2013) from a local copy.

    Parameters
    ----------
    target : {"mitochondria", "membranes", "synapses", "labels", "extracellular"}
        Binary masks (mitochondria: PNG values > 127), the merged labels as classes
        0..8 (:data:`VNC_LABEL_VALUES`, :data:`VNC_CLASS_NAMES`), or the merged label
        159 (glia/extracellular) as a binary mask. Ignored for ``stack=2``.
    stack : {1, 2}
        Stack 1 has labels, stack 2 only images.
    sections : slice or sequence of int, optional
        The sections to read (default all 20), e.g. ``slice(0, 16)``.
    path : str or Path, optional
        The folder holding ``stack1/`` and ``stack2/`` (a copy of the repository
        github.com/unidesigner/groundtruth-drosophila-vnc). Default:
        ``<data_dir>/groundtruth-drosophila-vnc``.
    source : {"real", "auto", "phantom"}
        There is no verified download link, so ``"auto"`` is ``"real"``: a missing
        folder raises. ``"phantom"`` gives a synthetic anisotropic stand-in.
    seed, shape
        Phantom seed and shape (default (20, 256, 256)).

    Returns
    -------
    Volume
        ``image`` float32 z-scored, ``labels`` uint8 (None for stack 2), ``source``
        ``"vnc"``, ``voxel_size`` (47.5, 4.6, 4.6) nm.

    Raises
    ------
    FileNotFoundError
        When the folder or one of its sub-folders is missing.
    ValueError
        For bad arguments or files that do not match.
    """
    if target not in VNC_TARGETS:
        raise ValueError(f"unknown target {target!r}; choose one of {', '.join(VNC_TARGETS)}")
    if stack not in (1, 2):
        raise ValueError(f"stack must be 1 (labelled) or 2 (images only), got {stack!r}")
    if source not in SOURCES:
        raise ValueError(f"unknown source {source!r}; choose one of {', '.join(SOURCES)}")
    if source != "phantom" and shape is not None:
        raise ValueError("shape only sets the size of the synthetic phantom (source='phantom')")
    if source == "phantom":
        return mito_phantom("vnc", "train" if stack == 1 else "test", seed,
                            shape or (20, 256, 256), labelled=stack == 1)
    root = Path(path).expanduser() if path is not None else dataset_root(None) / VNC["folder"]
    stack_dir = root / f"stack{stack}"
    if not stack_dir.is_dir():
        raise FileNotFoundError(
            f"no VNC data at {stack_dir}: clone or download {VNC['homepage']} (about 44 MB, "
            f"{VNC['license']}) and pass its folder as path=, or use source='phantom'")
    import tifffile
    raw_files = slice_files(stack_dir / "raw", (".tif", ".tiff"), sections)
    image = np.stack([tifffile.imread(p) for p in raw_files])
    if image.ndim != 3:
        raise ValueError(f"{stack_dir / 'raw'} holds slices of shape {image.shape[1:]}; "
                         f"expected 2D greyscale sections")
    labels = None
    if stack == 1:
        labels = _vnc_labels(stack_dir, target, sections)
        if labels.shape != image.shape:
            raise ValueError(f"VNC {target} have shape {labels.shape} but the raw sections "
                             f"{image.shape}; is the copy at {root} complete?")
    return Volume(zscore(image), labels, source="vnc", name=f"stack{stack}",
                  voxel_size=VNC["voxel_size"])


def _vnc_labels(stack_dir, target, sections):
    folder = stack_dir / ("labels" if target in ("labels", "extracellular") else target)
    raw = read_png_stack(folder, sections)
    if raw.ndim != 3:
        raise ValueError(f"{folder} holds slices of shape {raw.shape[1:]}; expected greyscale")
    if target == "labels":
        lookup = np.full(256, 255, np.uint8)
        lookup[list(VNC_LABEL_VALUES)] = np.arange(len(VNC_LABEL_VALUES))
        out = lookup[raw.astype(np.uint8)]
        if (out == 255).any():
            bad = sorted(set(np.unique(raw).tolist()) - set(VNC_LABEL_VALUES))
            raise ValueError(f"{folder} holds label values {bad[:8]} that the VNC README does "
                             f"not define ({VNC_LABEL_VALUES})")
        return out
    if target == "extracellular":
        return (raw == 159).astype(np.uint8)
    return white_mask(raw)
