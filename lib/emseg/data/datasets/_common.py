"""What the loaders of the EM datasets (Lucchi, Lucchi++, VNC) share: the split and
source checks, the real-or-phantom rule of ``source="auto"``, the synthetic mitochondria
stand-in and its loud announcement, and the slice readers of the datasets' PNG folders
(which hold RGB(A) and 1-bit masks that :mod:`emseg.data.io`'s readers refuse on purpose).
"""
import sys
import warnings
from pathlib import Path

import numpy as np

from emseg.data._volume import Volume, zscore
from emseg.data.datasets.platelet import SyntheticDataWarning
from emseg.data.fetch import DataDownloadError, display_path
from emseg.data.fetch import data_dir as default_data_dir
from emseg.data.io import list_image_files
from emseg.data.phantoms.platelet import phantom_labels, render_image
from emseg.data.registry import DATASETS, SOURCES

__all__ = ["SPLITS", "dataset_root", "slice_files", "read_png_stack", "white_mask",
           "check_split_args", "load_real_or_phantom", "mito_phantom", "announce_fallback"]

SPLITS = ("train", "test")


def read_png_stack(folder, sections=None):
    """PNG slices in natural name order; RGB(A) kept as (z, y, x, channels).

    1-bit PNGs (read as bool) become uint8 0/255 slice by slice, so that a folder mixing
    1-bit and 8-bit masks reads as one mask stack: stacked as they come, a 1-bit slice's
    True became 1 beside the 8-bit slices' 255 and was lost to the > 127 threshold (the
    VNC mitochondria masks of sections 1, 7 and 18 are 1-bit; so were 19 of 20 synapse masks).
    """
    from skimage.io import imread  # slow to import: only when needed

    files = slice_files(folder, (".png",), sections)
    slices = [imread(p) for p in files]
    return np.stack([s.astype(np.uint8) * 255 if s.dtype == bool else s for s in slices])


def dataset_root(data_dir):
    """The cache folder: ``data_dir``, or :func:`emseg.data.data_dir`."""
    return Path(data_dir).expanduser() if data_dir is not None else default_data_dir()


def slice_files(folder, suffixes, sections=None):
    """The slice files of ``folder`` in natural name order, optionally a selection."""
    if not folder.is_dir():
        raise FileNotFoundError(f"{folder} is missing; is the copy of the dataset complete?")
    files = list_image_files(folder, suffixes=suffixes)
    if not files:
        raise ValueError(f"{folder} holds no {'/'.join(suffixes)} slices")
    if sections is None:
        return files
    try:
        chosen = files[sections] if isinstance(sections, slice) else [files[int(k)]
                                                                       for k in sections]
    except (IndexError, TypeError, ValueError):
        raise ValueError(f"sections must be a slice or indices into the {len(files)} sections, "
                         f"got {sections!r}") from None
    if not chosen:
        raise ValueError(f"sections {sections!r} selects none of the {len(files)} sections")
    return chosen


def white_mask(labels):
    """Foreground masks (white / > 127; RGB(A): every colour channel > 127) as uint8 0/1."""
    labels = np.asarray(labels)
    if labels.dtype == bool:
        return labels.astype(np.uint8)
    if labels.ndim == 4:  # (z, y, x, channels)
        return np.all(labels[..., :3] > 127, axis=-1).astype(np.uint8)
    return (labels > 127).astype(np.uint8)


def check_split_args(split, source, shape):
    """Refuse an unknown split or source, and a phantom ``shape`` for the real data."""
    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r}; choose one of {', '.join(SPLITS)}")
    if source not in SOURCES:
        raise ValueError(f"unknown source {source!r}; choose one of {', '.join(SOURCES)} "
                         f"('phantom' runs offline on synthetic data)")
    if source == "real" and shape is not None:
        raise ValueError("shape only sets the size of the synthetic phantom; for the real data "
                         "leave shape=None and crop the returned volume (Volume.crop)")


def load_real_or_phantom(name, split, source, read_real, seed, shape, data_dir):
    """``read_real()``; the phantom for ``source="phantom"``, and for ``"auto"`` when the
    data host cannot be reached (announced by :func:`announce_fallback`)."""
    if source == "phantom":
        return mito_phantom(name, split, seed, shape or (32, 128, 128))
    try:
        return read_real()
    except DataDownloadError as err:
        if source == "real" or not getattr(err, "offline", False):
            raise
        announce_fallback(name, split, err, data_dir)
        return mito_phantom(name, split, seed, shape or (32, 128, 128))


PHANTOM_VOXEL = {"lucchi": (20.0, 20.0, 20.0), "lucchi_pp": (20.0, 20.0, 20.0),
                 "vnc": (40.0, 10.0, 10.0)}  # nm (z, y, x) of each dataset's stand-in


def mito_phantom(name, split, seed, shape, *, labelled=True):
    """A synthetic mitochondria volume: the platelet phantom's mitochondria (class 2)."""
    voxel = PHANTOM_VOXEL[name]
    state = np.random.SeedSequence([int(seed), SPLITS.index(split)]).generate_state(2)
    labels = phantom_labels(tuple(shape), seed=int(state[0]), voxel_size=voxel)
    image = zscore(render_image(labels, seed=int(state[1]), voxel_size=voxel))
    mito = (labels == 2).astype(np.uint8) if labelled else None
    return Volume(image, mito, source="phantom", name=split, voxel_size=voxel)


def announce_fallback(name, split, err, data_dir):
    """Warn, and print a banner on stderr, that synthetic data replace the real data."""
    warnings.warn(f"the {name} data host could not be reached, so split {split!r} is SYNTHETIC "
                  f"phantom data, not the real {name} data ({err.url})", SyntheticDataWarning,
                  stacklevel=4)
    rule = "!" * 78
    print(f"\n{rule}\n"
          f"!! Could not reach the {name} data host: using SYNTHETIC phantom data.\n"
          f"!! Every result below is on synthetic data, NOT on the real {name} data.\n"
          f"!! To get the real data: connect to the internet and run again, or download\n"
          f"!! {err.url or DATASETS[name]['homepage']} by hand into "
          f"{display_path(dataset_root(data_dir))}.\n"
          f"!! Pass source='phantom' to use synthetic data on purpose, without this message.\n"
          f"{rule}\n", file=sys.stderr)
