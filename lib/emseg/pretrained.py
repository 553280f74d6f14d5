"""Trained networks ready to use: the original 2D-3D nets, converted to PyTorch.

``PRETRAINED`` lists the nets by name. The four ``phantom-2d3d_N`` entries are small
nets trained on the synthetic phantom and shipped in ``emseg/weights`` (so that
example 1 runs offline; each entry's ``command`` remakes it). The four ``2d3d-3x3x3_N`` entries are the
"top four trained 2D-3D+3x3x3 instances" of Guay et al. (2021), published as
TensorFlow 1 checkpoints in zips of about 128 MB. :func:`fetch_pretrained`
downloads one (pooch, into ``$EMSEG_DATA_DIR/weights``), unpacks it safely,
converts ``model/checkpoints/best`` with :func:`emseg.models.genenet.convert_genenet`
(no TensorFlow needed, nothing unpickled) and keeps only the converted PyTorch
file; later calls load that file without network access.

No checksum was published for these zips. Their integrity is checked on the
content instead: every tensor read is checked against the CRC32C stored in the
checkpoint's index, and every layer's name and shape must match the network. The
SHA-256 of the zip that was downloaded is stored in the converted file
(``load_checkpoint(path)["source"]["zip_sha256"]``) and in ``trusted-sha256.json`` of
the weights folder (trust on first use): a later download of the same net (after the
converted file was deleted) must have the same SHA-256, or it is refused.

Examples
--------
>>> from emseg.pretrained import ORIGINAL_ENSEMBLE, load_pretrained
>>> nets = [load_pretrained(name) for name in ORIGINAL_ENSEMBLE]     # doctest: +SKIP
"""
import contextlib
import hashlib
import shutil
import sys
import zipfile
from pathlib import Path

from emseg.data.registry import entries as registry_entries

__all__ = ["PRETRAINED", "ORIGINAL_ENSEMBLE", "PHANTOM_ENSEMBLE", "weights_dir",
           "fetch_pretrained", "load_pretrained"]

#: The trained nets: the entries of kind ``weights`` of the one registry
#: (:data:`emseg.data.registry.REGISTRY`); ``format`` is ``"tf-genenet"`` (a TF
#: checkpoint zip to convert) or ``"bundled"`` (a file in emseg/weights).
PRETRAINED = registry_entries("weights")

#: The ensemble of example 1: the four original nets.
ORIGINAL_ENSEMBLE = tuple(f"2d3d-3x3x3_{i}" for i in range(4))

#: Example 1's ensemble when it runs on the synthetic phantom.
PHANTOM_ENSEMBLE = tuple(f"phantom-2d3d_{i}" for i in range(4))
BUNDLED_DIR = Path(__file__).resolve().parent / "weights"

# Where the checkpoint sits in a published zip, best first (inference used 'best').
_PREFERRED = ("checkpoints/best", "checkpoints/last")


def weights_dir(data_dir=None):
    """Folder of the converted networks: ``<data_dir>/weights``.

    ``data_dir`` defaults to :func:`emseg.data.data_dir` (``$EMSEG_DATA_DIR`` or the
    OS cache folder).
    """
    from emseg.data.fetch import data_dir as default_dir

    return Path(data_dir if data_dir is not None else default_dir()) / "weights"


def fetch_pretrained(name, *, data_dir=None, progress=True, retries=3):
    """Make sure a pretrained network is available as a PyTorch file; return its path.

    Parameters
    ----------
    name : str
        A key of :data:`PRETRAINED`.
    data_dir : str or Path, optional
        Cache folder (default ``$EMSEG_DATA_DIR`` or the OS cache); the file is
        ``<data_dir>/weights/<name>.pt``.
    progress : bool
        Show a download progress bar.
    retries : int
        Extra download tries after a lost connection or a busy server.

    Returns
    -------
    Path
        The converted network, readable with :func:`emseg.checkpoint.load_model`.

    Raises
    ------
    ValueError
        For an unknown name.
    emseg.data.DataDownloadError
        When the zip cannot be downloaded, unpacked or converted; ``err.offline``
        is True when the host could not be reached.
    """
    from emseg.checkpoint import save_model
    from emseg.data.fetch import DataDownloadError, download_archive, safe_extract
    from emseg.models.genenet import convert_genenet
    from emseg.tfcheckpoint import CheckpointError

    if name not in PRETRAINED:
        raise ValueError(f"unknown pretrained network {name!r}; available: "
                         f"{', '.join(PRETRAINED)}")
    entry = PRETRAINED[name]
    if entry["format"] == "bundled":
        path = BUNDLED_DIR / entry["file"]
        if not path.is_file():
            raise FileNotFoundError(f"the bundled network {path} is missing from this copy of "
                                    f"emseg; re-install it, or make it with: {entry['command']}")
        return path
    root = weights_dir(data_dir)
    target = root / f"{name}.pt"
    if target.is_file():
        return target
    zip_path = download_archive(entry, root, progress=progress, retries=retries)
    sha = _check_trusted(root, name, zip_path, entry)
    unpack = root / f".{name}.unpack"
    try:
        shutil.rmtree(unpack, ignore_errors=True)
        try:
            safe_extract(zip_path, unpack)
            checkpoint = find_checkpoint(unpack)
            model, info = convert_genenet(checkpoint, device="cpu")
        except (ValueError, zipfile.BadZipFile, FileNotFoundError) as err:
            zip_path.unlink(missing_ok=True)  # bad content: a new download is needed
            what = "converted" if isinstance(err, CheckpointError) else "unpacked"
            raise DataDownloadError(
                f"{entry['zip_name']} from {entry['url']} could not be {what}: {err}\nThe zip "
                f"was removed; try again, and if it persists report it to the emseg "
                f"developers.", url=entry["url"]) from err
        info["checkpoint"] = str(Path(info["checkpoint"]).relative_to(unpack))
        info["ignored"] = len(info["ignored"])
        save_model(model, target, overwrite=True, source={  # the cache's own file
            "name": name, "url": entry["url"], "zip_sha256": sha,
            "conversion": info, "description": entry["description"],
            "citation": entry["citation"]})
        _record_trusted(root, name, sha)
        print(f"emseg: converted {name} ({info['checkpoint']}, step {info['global_step']}) "
              f"to {target}", file=sys.stderr)
    finally:
        shutil.rmtree(unpack, ignore_errors=True)
    with contextlib.suppress(OSError):
        zip_path.unlink()
    return target


def load_pretrained(name, *, data_dir=None, device=None, progress=True):
    """Load a pretrained network (downloading and converting it the first time).

    Parameters
    ----------
    name : str
        A key of :data:`PRETRAINED`, or the path of a checkpoint saved by emseg
        (your own trained net: ``best.pt``, or a file from :func:`emseg.checkpoint.save_model`).
    data_dir : str or Path, optional
        Cache folder (see :func:`fetch_pretrained`).
    device : str or torch.device, optional
        Default: CUDA if available, else CPU.
    progress : bool
        Show a download progress bar.

    Returns
    -------
    SegmentationNet
        The network in eval mode.
    """
    from emseg.checkpoint import load_model

    if name in PRETRAINED:
        path = fetch_pretrained(name, data_dir=data_dir, progress=progress)
    elif Path(name).is_file():
        path = Path(name)
    else:
        raise FileNotFoundError(f"{name!r} is neither a pretrained network "
                                f"({', '.join(PRETRAINED)}) nor an existing checkpoint file")
    return load_model(path, device=device)


def find_checkpoint(folder):
    """The checkpoint folder inside an unpacked zip: ``.../checkpoints/best`` first."""
    found = sorted({p.parent for p in Path(folder).rglob("*.index")})
    if not found:
        raise FileNotFoundError("the zip holds no TensorFlow checkpoint (*.index file)")
    for wanted in _PREFERRED:
        for candidate in found:
            if candidate.as_posix().endswith(wanted):
                return candidate
    return found[0]


TRUSTED = "trusted-sha256.json"  # {name: SHA-256 of the zip first downloaded}


def _check_trusted(root, name, zip_path, entry):
    """The zip's SHA-256; DataDownloadError (zip removed) if it differs from the recorded one."""
    import json

    from emseg.data.fetch import DataDownloadError
    sha = _sha256(zip_path)
    try:
        known = json.loads((root / TRUSTED).read_text()).get(name)
    except (OSError, ValueError, AttributeError):
        known = None
    if known is not None and known != sha:
        zip_path.unlink(missing_ok=True)
        raise DataDownloadError(
            f"{entry['zip_name']} from {entry['url']} has SHA-256 {sha}, but the copy first "
            f"downloaded into {root} had {known}: the file on the server changed or the "
            f"download was altered. The zip was removed. If the change is expected, delete "
            f"{root / TRUSTED} and try again.", url=entry["url"])
    return sha


def _record_trusted(root, name, sha):
    """Record the SHA-256 of a net's zip on its first download (trust on first use)."""
    import json

    from emseg.atomic import atomic_path
    path = root / TRUSTED
    try:
        known = json.loads(path.read_text())
    except (OSError, ValueError):
        known = {}
    if known.get(name) != sha:
        with atomic_path(path) as tmp:
            tmp.write_text(json.dumps({**known, name: sha}, indent=1, sort_keys=True))


def _sha256(path):
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()
