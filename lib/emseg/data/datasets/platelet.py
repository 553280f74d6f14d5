"""The 7-class platelet SBF-SEM dataset of Guay et al. (2021), real or synthetic.

:func:`load_platelet` returns one split as a :class:`~emseg.data.Volume`: the real
data (downloaded once and checked, see :func:`emseg.data.fetch_dataset`) or a
synthetic phantom with the same classes that needs no network. With
``source="auto"`` it falls back to the phantom only when the data host cannot be
reached, and then says so loudly.
"""
import sys
import warnings
from pathlib import Path

import numpy as np

from emseg._validate import check_labels
from emseg.data._volume import Volume, zscore
from emseg.data.fetch import DataDownloadError, display_path, fetch_dataset
from emseg.data.fetch import data_dir as default_data_dir
from emseg.data.io import read_volume
from emseg.data.phantoms.platelet import platelet_phantom, render_image
from emseg.data.registry import DATASETS, SOURCES

__all__ = ["CLASS_NAMES", "ORGANELLE_CLASSES", "N_CLASSES", "VOXEL_SIZE", "SPLITS",
           "PAPER_RESULTS", "SyntheticDataWarning", "load_platelet", "load_platelet_splits",
           "read_platelet_labels",
           "render_real_geometry"]

CLASS_NAMES = ("background", "cell", "mitochondrion", "alpha granule", "canalicular vessel",
               "dense granule", "dense granule core")
ORGANELLE_CLASSES = (2, 3, 4, 5, 6)
N_CLASSES = DATASETS["platelet"]["n_classes"]
VOXEL_SIZE = DATASETS["platelet"]["voxel_size"]  # nm (z, y, x), from a third-party dataset card
SPLITS = ("train", "eval", "test")

# What the original work reported on the real data, for the notebooks' "reported" rows.
# Each entry: the value, and what it is in words (with what its source leaves unsaid).
PAPER_RESULTS = {
    "test_miou": (0.446, "2D-3D+3×3×3, test volume MIoU as listed for Guay et al. (2021) on "
                         "paperswithcode; whether over all 7 classes or the organelles, single "
                         "net or ensemble, is not stated"),
    "ensemble_gain_percent": (7.1, "organelle MIoU gain of the ensemble of the best four "
                                   "2D-3D+3×3×3 nets over the best single net (Guay et al. "
                                   "2021, Fig. 2 caption)"),
    "unet_eval_miou": (0.5305, "2D U-Net of the original example notebook, eval volume, MIoU "
                               "over all 7 classes, best of 19 epochs (36,000 steps at batch 1, "
                               "572×572 tiles)"),
}


class SyntheticDataWarning(UserWarning):
    """Issued when synthetic (phantom) data stand in for the real platelet data."""


def load_platelet(split, *, source="auto", data_dir=None, seed=0, shape=None):
    """Load one split of the platelet dataset, real or synthetic.

    Parameters
    ----------
    split : {"train", "eval", "test"}
        ``"train"`` (50 x 800 x 800, with error weights), ``"eval"`` (24 x 800 x 800,
        used for validation) or ``"test"`` (121 x 609 x 400, a held-out donor).
    source : {"auto", "real", "phantom"}
        ``"real"``: the real data, downloaded on first use (about 190 MB);
        any failure raises (``"platelet"``, its older name, is still accepted, with a
        DeprecationWarning, until emseg 1.0). ``"phantom"``: synthetic data with exact labels,
        never touches the network. ``"auto"``: the real data, falling back to
        the phantom (with a :class:`SyntheticDataWarning` and a banner on stderr)
        only when the data host cannot be reached; other errors are raised.
    data_dir : str or Path, optional
        Cache folder for the real data (default :func:`emseg.data.data_dir`).
    seed : int
        Random seed of the phantom (ignored for real data).
    shape : tuple of int, optional
        (z, y, x) size of the phantom; None gives the phantom's default. Not
        allowed with ``source="real"`` (crop the returned arrays instead);
        ignored when ``source="auto"`` finds the real data.

    Returns
    -------
    Volume
        ``image`` float32 z-scored per volume, ``labels`` uint8 in 0..6,
        ``weights`` float32 for ``"train"`` (None otherwise); ``source`` is
        ``"platelet"`` or ``"phantom"`` (check ``volume.synthetic``).

    Raises
    ------
    ValueError
        For an unknown split or source.
    DataDownloadError
        When the real data are requested and cannot be downloaded or verified.

    Examples
    --------
    >>> vol = load_platelet("eval", source="phantom", shape=(8, 64, 64))  # doctest: +SKIP
    >>> vol.synthetic, vol.labels.dtype                                   # doctest: +SKIP
    (True, dtype('uint8'))
    """
    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r}; choose one of {', '.join(SPLITS)}")
    if source == "platelet":  # the older name of "real"
        import warnings
        warnings.warn('source="platelet" is now source="real" (the one source vocabulary of '
                      'emseg.data.registry.SOURCES)', DeprecationWarning, stacklevel=2)
        source = "real"
    if source not in SOURCES:
        raise ValueError(f"unknown source {source!r}; choose one of {', '.join(SOURCES)} "
                         f"('phantom' runs offline on synthetic data)")
    if source == "real" and shape is not None:
        raise ValueError("shape only sets the size of the synthetic phantom; for the real data "
                         "leave shape=None and crop the returned arrays")
    if source == "phantom":
        return _load_phantom(split, seed=seed, shape=shape)
    try:
        return _load_real(split, data_dir)
    except DataDownloadError as err:
        if source == "real" or not getattr(err, "offline", False):
            raise
        _announce_fallback(split, err, data_dir)
        return _load_phantom(split, seed=seed, shape=shape)


def load_platelet_splits(splits=SPLITS, *, source="auto", data_dir=None, seed=0, shape=None):
    """Load several splits of the platelet dataset, never a mix of real and synthetic.

    Parameters
    ----------
    splits : sequence of str
        Split names (:data:`SPLITS`), loaded in this order.
    source, data_dir, seed, shape
        As :func:`load_platelet`. With ``source="auto"``, when the first split falls
        back to the phantom (the host could not be reached), the others are the phantom
        too, without trying the network again.

    Returns
    -------
    tuple of Volume
        One per split, in the order given.

    Examples
    --------
    >>> train, val = load_platelet_splits(("train", "eval"), source="phantom",
    ...                                   shape=(4, 64, 64))          # doctest: +SKIP
    >>> train.synthetic and val.synthetic                            # doctest: +SKIP
    True
    """
    splits = [splits] if isinstance(splits, str) else list(splits)
    if not splits:
        raise ValueError("splits is empty; give split names such as ('train', 'eval', 'test')")
    first = load_platelet(splits[0], source=source, data_dir=data_dir, seed=seed, shape=shape)
    rest = "phantom" if first.synthetic else source
    return (first, *(load_platelet(s, source=rest, data_dir=data_dir, seed=seed, shape=shape)
                     for s in splits[1:]))


def read_platelet_labels(path):
    """Read one platelet label TIFF as uint8 class ids 0..6.

    Parameters
    ----------
    path : str or Path
        A label volume such as ``eval-labels.tif``.

    Returns
    -------
    numpy.ndarray
        uint8 labels, shape (z, y, x).

    Raises
    ------
    FileNotFoundError
        If ``path`` does not exist.
    ValueError
        If the file is not a TIFF, or holds values outside 0..6.
    """
    path = Path(path)
    if path.is_dir():
        raise ValueError(f"{path} is a folder; give one label file such as "
                         f"{path / 'eval-labels.tif'}")
    labels = read_volume(path)
    try:
        labels = check_labels(labels, name=f"labels in {path.name}", n_classes=N_CLASSES)
    except ValueError as err:
        raise ValueError(f"{err}; platelet labels are class ids 0..{N_CLASSES - 1} "
                         f"({', '.join(CLASS_NAMES)}): is this a platelet label file?") from None
    return labels.astype(np.uint8)


def render_real_geometry(labels_path, *, crop=(24, 256, 256), seed=0, weights=False):
    """The real platelet label geometry with a synthetic image: exact labels, real shapes.

    A centre crop of a real label volume rendered by the phantom renderer
    (:func:`emseg.data.render_image`), for experiments that need real organelle shapes
    and exact ground truth where the real images cannot be used or downloaded.

    Parameters
    ----------
    labels_path : str or Path
        A platelet label TIFF such as ``train-labels.tif``.
    crop : tuple of int
        (z, y, x) size of the centre crop (clipped to the volume).
    seed : int
        Seed of the renderer's noise and texture.
    weights : bool
        Also compute the boundary error weights (as the train split has).

    Returns
    -------
    Volume
        z-scored rendered image, the cropped labels, the weights or None;
        ``source="real-geometry"``.
    """
    from emseg.data.weights import error_weights

    if len(crop) != 3 or any(int(c) < 1 for c in crop):
        raise ValueError(f"crop must be three positive sizes (z, y, x), got {crop!r}")
    labels = read_platelet_labels(labels_path)
    size = [min(int(c), s) for c, s in zip(crop, labels.shape)]
    start = [(s - c) // 2 for s, c in zip(labels.shape, size)]
    labels = np.ascontiguousarray(labels[tuple(slice(a, a + c) for a, c in zip(start, size))])
    image = zscore(render_image(labels, seed=seed))
    w = error_weights(labels).astype(np.float32) if weights else None
    return Volume(image, labels, w, source="real-geometry", name=Path(labels_path).stem.replace("-labels", ""))


def _load_real(split, data_dir):
    """The real split from the verified cache (downloading it if needed)."""
    folder = fetch_dataset("platelet", data_dir=data_dir)
    image = zscore(read_volume(folder / f"{split}-images.tif"))
    labels = read_platelet_labels(folder / f"{split}-labels.tif")
    check_labels(labels, name=f"{split}-labels.tif", shape=image.shape)
    weights = None
    if split == "train":
        weights = read_volume(folder / "train-error-weights.tif", dtype=np.float32)
    return Volume(image=image, labels=labels, weights=weights, source="platelet", name=split,
                  voxel_size=VOXEL_SIZE)


def _load_phantom(split, *, seed, shape):
    """The synthetic stand-in (imported lazily: it is only needed offline)."""
    return platelet_phantom(split, seed=seed, shape=shape)


def _announce_fallback(split, err, data_dir):
    """Warn, and print a banner on stderr, that synthetic data replace the real data."""
    entry = DATASETS["platelet"]
    warnings.warn(f"the platelet data host could not be reached, so load_platelet({split!r}) "
                  f"returns SYNTHETIC phantom data, not the real platelet data ({err.url})",
                  SyntheticDataWarning, stacklevel=3)
    folder = Path(data_dir).expanduser() if data_dir is not None else default_data_dir()
    rule = "!" * 78
    print(f"\n{rule}\n"
          f"!! Could not reach the platelet data host: using SYNTHETIC phantom data.\n"
          f"!! Every result below is on synthetic data, NOT on the real platelet data.\n"
          f"!! To get the real data: connect to the internet (check proxy settings) and\n"
          f"!! run again, or download {entry['url']}\n"
          f"!! by hand and unzip it into {display_path(folder)}\n"
          f"!! (it must create {display_path(folder / entry['folder'])}).\n"
          f"!! Pass source='phantom' to use synthetic data on purpose, without this message.\n"
          f"{rule}\n", file=sys.stderr)
