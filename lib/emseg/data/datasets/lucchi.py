"""Lucchi (EPFL mitochondria, FIB-SEM) and Lucchi++ (the same volumes relabelled by
Casser et al. 2018); see :mod:`emseg.data.datasets` for the split conventions."""
import pooch

from emseg.data._volume import Volume, zscore
from emseg.data.datasets._common import (SPLITS, check_split_args, dataset_root,
                                         load_real_or_phantom, read_png_stack, white_mask)
from emseg.data.fetch import DataDownloadError, download_archive, safe_extract
from emseg.data.io import read_volume
from emseg.data.registry import LUCCHI, LUCCHI_PP

__all__ = ["load_lucchi", "load_lucchi_pp", "fetch_lucchi", "fetch_lucchi_pp", "SPLITS"]


def fetch_lucchi(*, data_dir=None, progress=True, retries=3):
    """Download the four Lucchi split TIFFs (about 520 MB) if needed; return their folder.

    Each file is checked by size (no checksum is published) and by its TIFF header
    when read. Files already present with the right size are not downloaded again.

    Raises
    ------
    DataDownloadError
        When a file cannot be downloaded (``err.offline`` when the host is unreachable).
    """
    folder = dataset_root(data_dir) / LUCCHI["folder"]
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
    check_split_args(split, source, shape)
    return load_real_or_phantom("lucchi", split, source, lambda: _read_lucchi(split, data_dir),
                                seed, shape, data_dir)


def _read_lucchi(split, data_dir):
    folder = fetch_lucchi(data_dir=data_dir)
    image_name, label_name = LUCCHI["splits"][split]
    image, labels = read_volume(folder / image_name), read_volume(folder / label_name)
    for name, arr in ((image_name, image), (label_name, labels)):
        if arr.shape != LUCCHI["files"][name]["shape"]:
            raise ValueError(f"{folder / name} has shape {arr.shape}, expected "
                             f"{LUCCHI['files'][name]['shape']}; delete it to download it again")
    return Volume(zscore(image), white_mask(labels), source="lucchi", name=split,
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
    root = dataset_root(data_dir)
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
    check_split_args(split, source, shape)
    return load_real_or_phantom("lucchi_pp", split, source,
                                lambda: _read_lucchi_pp(split, data_dir), seed, shape, data_dir)


def _read_lucchi_pp(split, data_dir):
    folder = fetch_lucchi_pp(data_dir=data_dir)
    image_dir, label_dir = LUCCHI_PP["splits"][split]
    image = read_png_stack(folder / image_dir)
    labels = white_mask(read_png_stack(folder / label_dir))
    if image.shape != labels.shape:
        raise ValueError(f"{folder / image_dir} has shape {image.shape} but {folder / label_dir} "
                         f"has {labels.shape}; delete {folder} to download it again")
    return Volume(zscore(image), labels, source="lucchi_pp", name=split,
                  voxel_size=LUCCHI_PP["voxel_size"])
