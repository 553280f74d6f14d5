"""More EM datasets: Lucchi (EPFL mitochondria), Lucchi++ and the Drosophila VNC ssTEM stack.

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

The registry entries (:data:`EM_DATASETS`, kept with every other entry in
:data:`emseg.data.registry.REGISTRY`) record only published facts; unknown values are
None with a comment.
"""
import sys
import warnings
from pathlib import Path

import numpy as np
import pooch

from emseg.data._volume import Volume, zscore
from emseg.data.fetch import DataDownloadError, display_path, download_archive, safe_extract
from emseg.data.fetch import data_dir as default_data_dir
from emseg.data.platelet import SyntheticDataWarning
from emseg.data.registry import ENTRY_KEYS, LUCCHI, LUCCHI_PP, REGISTRY, SOURCES, VNC

__all__ = ["EM_DATASETS", "LUCCHI", "LUCCHI_PP", "VNC", "ENTRY_KEYS", "VNC_LABEL_VALUES",
           "VNC_CLASS_NAMES", "VNC_TARGETS", "SOURCES", "SPLITS", "SyntheticDataWarning",
           "load_lucchi", "load_lucchi_pp", "load_vnc", "fetch_lucchi", "fetch_lucchi_pp"]

SPLITS = ("train", "test")
#: These loaders' entries of the one registry (:data:`emseg.data.registry.REGISTRY`).
EM_DATASETS = {name: REGISTRY[name] for name in ("lucchi", "lucchi_pp", "vnc")}

#: VNC merged-label values -> class ids 0..8 (``target="labels"``).
VNC_LABEL_VALUES = (0, 32, 64, 96, 128, 159, 191, 223, 255)
VNC_CLASS_NAMES = ("membrane |", "membrane /", "membrane -", "membrane \\", "membrane junction",
                   "glia/extracellular", "mitochondrion", "synapse", "intracellular")
VNC_TARGETS = ("mitochondria", "membranes", "synapses", "labels", "extracellular")


# --------------------------------------------------------------------------- Lucchi

def fetch_lucchi(*, data_dir=None, progress=True, retries=3):
    """Download the four Lucchi split TIFFs (about 520 MB) if needed; return their folder.

    Each file is checked by size (no checksum is published) and by its TIFF header
    when read. Files already present with the right size are not downloaded again.

    Raises
    ------
    DataDownloadError
        When a file cannot be downloaded (``err.offline`` when the host is unreachable).
    """
    folder = _root(data_dir) / LUCCHI["folder"]
    for name, spec in LUCCHI["files"].items():
        path = folder / name
        if path.is_file() and path.stat().st_size == spec["size"]:
            continue
        path.unlink(missing_ok=True)  # a wrong size: download again
        entry = {"url": spec["url"], "zip_name": name, "md5": None, "size": spec["size"],
                 "folder": "", "homepage": LUCCHI["homepage"]}
        got = download_archive(entry, folder, progress=progress, retries=retries)
        if got.stat().st_size != spec["size"]:
            size = got.stat().st_size
            got.unlink()
            raise DataDownloadError(f"{name} from {spec['url']} has {size:,} bytes, expected "
                                    f"{spec['size']:,}; it was removed", url=spec["url"])
    return folder


def load_lucchi(split, *, source="auto", data_dir=None, seed=0, shape=None):
    """Load one split of the Lucchi (EPFL) mitochondria dataset, real or synthetic.

    Parameters
    ----------
    split : {"train", "test"}
        See the module docstring for the convention.
    source : {"auto", "real", "phantom"}
        ``"real"``: the real data (downloaded on first use, about 520 MB), errors
        raise. ``"phantom"``: a synthetic stand-in, offline. ``"auto"``: real, falling
        back to the phantom (with a warning and a banner) only when the host is
        unreachable.
    data_dir : str or Path, optional
        Cache folder (default :func:`emseg.data.data_dir`).
    seed : int
        Phantom seed.
    shape : tuple of int, optional
        Phantom shape (z, y, x); default (32, 128, 128). Not allowed with ``"real"``.

    Returns
    -------
    Volume
        ``image`` float32 z-scored, ``labels`` uint8 (1 mitochondrion), ``source``
        ``"lucchi"`` or ``"phantom"``, ``voxel_size`` in nm.
    """
    _check_args(split, source, shape)
    return _load("lucchi", split, source, lambda: _read_lucchi(split, data_dir), seed, shape,
                 data_dir)


def _read_lucchi(split, data_dir):
    from emseg.data.io import read_volume

    folder = fetch_lucchi(data_dir=data_dir)
    image_name, label_name = LUCCHI["splits"][split]
    image, labels = read_volume(folder / image_name), read_volume(folder / label_name)
    for name, arr in ((image_name, image), (label_name, labels)):
        if arr.shape != LUCCHI["files"][name]["shape"]:
            raise ValueError(f"{folder / name} has shape {arr.shape}, expected "
                             f"{LUCCHI['files'][name]['shape']}; delete it to download it again")
    return Volume(zscore(image), _binary(labels), source="lucchi", name=split,
                  voxel_size=LUCCHI["voxel_size"])


# --------------------------------------------------------------------------- Lucchi++

def fetch_lucchi_pp(*, data_dir=None, progress=True, retries=3):
    """Download and unpack Lucchi++ if needed; return the folder holding Train_In etc.

    The zip is checked against its published SHA-256, unpacked safely and deleted.

    Raises
    ------
    DataDownloadError
        When the zip cannot be downloaded or has the wrong checksum.
    """
    root = _root(data_dir)
    folder = root / LUCCHI_PP["folder"]
    if all(any((folder / sub).glob("*.png")) for sub in LUCCHI_PP["files"]):
        return folder
    entry = {k: LUCCHI_PP[k] for k in ("url", "mirrors", "zip_name", "size", "folder",
                                        "homepage")}
    entry["md5"] = None  # pooch's check is MD5; the SHA-256 is checked below
    zip_path = download_archive(entry, root, progress=progress, retries=retries)
    actual = pooch.file_hash(str(zip_path), alg="sha256")
    if actual != LUCCHI_PP["sha256"]:
        zip_path.unlink()
        raise DataDownloadError(f"{zip_path.name} from {LUCCHI_PP['url']} has SHA-256 {actual} "
                                f"but {LUCCHI_PP['sha256']} was published; the file was "
                                f"removed. Try again; if it persists the file on the server "
                                f"changed: report it to the emseg developers.",
                                url=LUCCHI_PP["url"])
    safe_extract(zip_path, root)
    zip_path.unlink()
    missing = [sub for sub in LUCCHI_PP["files"] if not any((folder / sub).glob("*.png"))]
    if missing:
        raise DataDownloadError(f"{LUCCHI_PP['zip_name']} did not unpack to {folder} with "
                                f"{', '.join(missing)}; report this to the emseg developers",
                                url=LUCCHI_PP["url"])
    return folder


def load_lucchi_pp(split, *, source="auto", data_dir=None, seed=0, shape=None):
    """Load one split of Lucchi++ (Casser et al. 2018 labels), real or synthetic.

    ``"train"`` is ``Train_In``/``Train_Out`` and ``"test"`` is ``Test_In``/``Test_Out``
    (not swapped). Parameters and returns as :func:`load_lucchi`; ``source`` is
    ``"lucchi_pp"`` for the real data. Label PNGs may be RGBA: a voxel is a
    mitochondrion where all colour channels are white (> 127).
    """
    _check_args(split, source, shape)
    return _load("lucchi_pp", split, source, lambda: _read_lucchi_pp(split, data_dir), seed,
                 shape, data_dir)


def _read_lucchi_pp(split, data_dir):
    folder = fetch_lucchi_pp(data_dir=data_dir)
    image_dir, label_dir = LUCCHI_PP["splits"][split]
    image = _read_png_stack(folder / image_dir)
    labels = _binary(_read_png_stack(folder / label_dir))
    if image.shape != labels.shape:
        raise ValueError(f"{folder / image_dir} has shape {image.shape} but {folder / label_dir} "
                         f"has {labels.shape}; delete {folder} to download it again")
    return Volume(zscore(image), labels, source="lucchi_pp", name=split,
                  voxel_size=LUCCHI_PP["voxel_size"])


def _read_png_stack(folder, sections=None):
    """PNG slices in natural name order; RGB(A) kept as (z, y, x, channels).

    1-bit PNGs (read as bool) become uint8 0/255 slice by slice, so that a folder mixing
    1-bit and 8-bit masks reads as one mask stack: stacked as they come, a 1-bit slice's
    True became 1 beside the 8-bit slices' 255 and was lost to the > 127 threshold (the
    VNC mitochondria masks of sections 1, 7 and 18 are 1-bit; so were 19 of 20 synapse masks).
    """
    from skimage.io import imread

    files = _slices(folder, (".png",), sections)
    slices = [imread(p) for p in files]
    return np.stack([s.astype(np.uint8) * 255 if s.dtype == bool else s for s in slices])


# --------------------------------------------------------------------------- VNC

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
        return _phantom("vnc", "train" if stack == 1 else "test", seed, shape or (20, 256, 256),
                        labelled=stack == 1)
    root = Path(path).expanduser() if path is not None else _root(None) / VNC["folder"]
    stack_dir = root / f"stack{stack}"
    if not stack_dir.is_dir():
        raise FileNotFoundError(
            f"no VNC data at {stack_dir}: clone or download {VNC['homepage']} (about 44 MB, "
            f"{VNC['license']}) and pass its folder as path=, or use source='phantom'")
    import tifffile
    image = np.stack([tifffile.imread(p) for p in _slices(stack_dir / "raw", (".tif", ".tiff"),
                                                          sections)])
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
    raw = _read_png_stack(folder, sections)
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
    return _binary(raw)


# --------------------------------------------------------------------------- shared helpers

def _root(data_dir):
    return Path(data_dir).expanduser() if data_dir is not None else default_data_dir()


def _slices(folder, suffixes, sections=None):
    """The slice files of ``folder`` in natural name order, optionally a selection."""
    from emseg.data.io import list_image_files

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


def _binary(labels):
    """Foreground masks (white / > 127; RGB(A): every colour channel > 127) as uint8 0/1."""
    labels = np.asarray(labels)
    if labels.dtype == bool:
        return labels.astype(np.uint8)
    if labels.ndim == 4:  # (z, y, x, channels)
        return np.all(labels[..., :3] > 127, axis=-1).astype(np.uint8)
    return (labels > 127).astype(np.uint8)


def _check_args(split, source, shape):
    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r}; choose one of {', '.join(SPLITS)}")
    if source not in SOURCES:
        raise ValueError(f"unknown source {source!r}; choose one of {', '.join(SOURCES)} "
                         f"('phantom' runs offline on synthetic data)")
    if source == "real" and shape is not None:
        raise ValueError("shape only sets the size of the synthetic phantom; for the real data "
                         "leave shape=None and crop the returned volume (Volume.crop)")


def _load(name, split, source, read_real, seed, shape, data_dir):
    if source == "phantom":
        return _phantom(name, split, seed, shape or (32, 128, 128))
    try:
        return read_real()
    except DataDownloadError as err:
        if source == "real" or not getattr(err, "offline", False):
            raise
        _announce_fallback(name, split, err, data_dir)
        return _phantom(name, split, seed, shape or (32, 128, 128))


_PHANTOM_VOXEL = {"lucchi": (20.0, 20.0, 20.0), "lucchi_pp": (20.0, 20.0, 20.0),
                  "vnc": (40.0, 10.0, 10.0)}


def _phantom(name, split, seed, shape, *, labelled=True):
    """A synthetic mitochondria volume: the platelet phantom's mitochondria (class 2)."""
    from emseg.data.phantom import phantom_labels, render_image

    voxel = _PHANTOM_VOXEL[name]
    state = np.random.SeedSequence([int(seed), SPLITS.index(split)]).generate_state(2)
    labels = phantom_labels(tuple(shape), seed=int(state[0]), voxel_size=voxel)
    image = zscore(render_image(labels, seed=int(state[1]), voxel_size=voxel))
    mito = (labels == 2).astype(np.uint8) if labelled else None
    return Volume(image, mito, source="phantom", name=split, voxel_size=voxel)


def _announce_fallback(name, split, err, data_dir):
    """Warn, and print a banner on stderr, that synthetic data replace the real data."""
    warnings.warn(f"the {name} data host could not be reached, so split {split!r} is SYNTHETIC "
                  f"phantom data, not the real {name} data ({err.url})", SyntheticDataWarning,
                  stacklevel=4)
    rule = "!" * 78
    print(f"\n{rule}\n"
          f"!! Could not reach the {name} data host: using SYNTHETIC phantom data.\n"
          f"!! Every result below is on synthetic data, NOT on the real {name} data.\n"
          f"!! To get the real data: connect to the internet and run again, or download\n"
          f"!! {err.url or EM_DATASETS[name]['homepage']} by hand into "
          f"{display_path(_root(data_dir))}.\n"
          f"!! Pass source='phantom' to use synthetic data on purpose, without this message.\n"
          f"{rule}\n", file=sys.stderr)
