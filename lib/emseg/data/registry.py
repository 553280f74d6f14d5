"""The one registry of everything emseg downloads or ships: datasets and trained nets,
as plain data.

:data:`REGISTRY` maps a name to one entry; every entry has a ``kind``:

* ``"dataset"``: the platelet data, Lucchi, Lucchi++, the VNC stack (:data:`DATASETS`;
  ``loader`` names the function that loads it);
* ``"weights"``: trained nets, with a ``format``: ``"tf-genenet"`` (a published
  TensorFlow checkpoint zip, converted on download) or ``"bundled"`` (a small file in
  ``emseg/weights``). :data:`emseg.pretrained.PRETRAINED` is this kind's view.

:func:`entries` gives the entries of one kind. The loaders take one ``source``
vocabulary, :data:`SOURCES`: ``"auto"`` (the real data, or the synthetic stand-in when
the host cannot be reached), ``"real"`` and ``"phantom"``.

A dataset downloaded as one zip has these keys (the others use the ones that apply, and
record unknown values as None with a comment):

``url``
    Download link of the zip (for Dropbox, with ``?dl=1``).
``mirrors``
    Further links to the same zip, tried in order when ``url`` fails.
``md5``, ``size``
    MD5 and byte size of the zip.
``zip_name``
    File name of the zip.
``folder``
    Folder the zip extracts to; the files below live in it.
``files``
    ``{file name: {"md5": ..., "size": bytes, "shape": (z, y, x)}}``.
``citation``, ``license``, ``homepage``, ``voxel_size``, ``voxel_size_source``
    Provenance shown in docs and error messages.

For ``"platelet"`` the MD5s are those published in the dataset's ``download.py``
(2 January 2020); sizes and shapes are those of the published files.

:func:`make_pooch` turns an entry into the :class:`pooch.Pooch` that downloads its zip.
"""
import pooch

__all__ = ["CACHE_ENV", "REGISTRY", "DATASETS", "KINDS", "SOURCES", "ENTRY_KEYS", "PLATELET",
           "LUCCHI", "LUCCHI_PP", "VNC", "WEIGHTS", "entries", "make_pooch"]

CACHE_ENV = "EMSEG_DATA_DIR"  # overrides the cache folder pooch.os_cache("emseg")
KINDS = ("dataset", "weights")
SOURCES = ("auto", "real", "phantom")  # every loader's source= choices

PLATELET = {
    "kind": "dataset",
    "loader": "emseg.data.load_platelet",
    "url": "https://www.dropbox.com/s/68yclbraqq1diza/platelet_data_1219.zip?dl=1",
    # Alternate link from third-party notes (unverified); dl=1 asks Dropbox for the file.
    "mirrors": ("https://www.dropbox.com/scl/fi/fg6y2dafj7116vfuucgcm/platelet_data_1219.zip"
                "?rlkey=afvwo6f6oiab1pc76peirjxzd&dl=1",),
    "md5": "253310093ee2c00304fbabdb0c7e3a4a",
    "sha256": None,  # not published; the MD5s are
    "size": 188_671_885,
    "zip_name": "platelet_data_1219.zip",
    "folder": "platelet_data",
    "files": {
        "train-images.tif": {"md5": "940ffa25038e9e9ca0ae86bc7e75553c", "size": 64_007_034,
                             "shape": (50, 800, 800)},
        "train-labels.tif": {"md5": "dc72be0033f8ce409cac0202928873ba", "size": 1_054_187,
                             "shape": (50, 800, 800)},
        "train-error-weights.tif": {"md5": "dd30e90f77b2141dd01ab7b76e238163",
                                    "size": 256_009_678, "shape": (50, 800, 800)},
        "eval-images.tif": {"md5": "0fd6642cd7cf0a1e758d7d48b3ac5b57", "size": 30_723_442,
                            "shape": (24, 800, 800)},
        "eval-labels.tif": {"md5": "abec7b896c2b57ebfc6bccac77cdcd2f", "size": 443_749,
                            "shape": (24, 800, 800)},
        "test-images.tif": {"md5": "d3f296cbedb7c3240e6be0e9e7217f3a", "size": 58_974_368,
                            "shape": (121, 609, 400)},
        "test-labels.tif": {"md5": "dd21ca5031d74b6f8be9f954e8fe7eac", "size": 390_918,
                            "shape": (121, 609, 400)},
    },
    "citation": ("Guay M. D. et al. Dense cellular segmentation for EM using 2D-3D neural "
                 "network ensembles. Scientific Reports 11:2561 (2021). "
                 "doi:10.1038/s41598-021-81590-0"),
    "license": "Licence and terms of use: see the dataset's hub page (homepage below).",
    "homepage": "https://leapmanlab.github.io/dense-cell/",
    "voxel_size": (40.0, 10.0, 10.0),  # nm, (z, y, x)
    "voxel_size_source": ("third-party dataset card huggingface.co/datasets/MedOtter/"
                          "3D-Platelet-EM (unverified); SBF-SEM, Gatan 3View"),
    "n_classes": 7,
}

_LUCCHI_URL = ("https://documents.epfl.ch/groups/c/cv/cvlab-unit/www/data/"
               "%20ElectronMicroscopy_Hippocampus/")  # the %20 is part of the published path
_LUCCHI_SIZE = 129_919_357  # bytes, each of the four split files

LUCCHI = {
    "kind": "dataset",
    "loader": "emseg.data.load_lucchi",
    "url": None,  # no archive: four TIFFs, each with its own "url" under "files"
    "mirrors": (),  # Academic Torrents (infohash below) is a torrent, not an HTTP mirror
    "md5": None,  # no MD5 or SHA-256 published; only the torrent infohash
    "sha256": None,
    "size": None,  # no archive (see the per-file sizes)
    "zip_name": None,
    "folder": "lucchi",
    "files": {
        name: {"url": _LUCCHI_URL + name, "size": _LUCCHI_SIZE, "md5": None, "sha256": None,
               "shape": (165, 768, 1024)}
        for name in ("training.tif", "training_groundtruth.tif", "testing.tif",
                     "testing_groundtruth.tif")
    },
    "splits": {"train": ("training.tif", "training_groundtruth.tif"),
               "test": ("testing.tif", "testing_groundtruth.tif")},
    "torrent_infohash": "3ada3ae6ec71097e63d897cf878051bba3eaba25",
    # The full volume volumedata.tif (1065 x 2048 x 1536, 3,353,674,357 bytes) is not used.
    "citation": ("Lucchi et al., EPFL CVLab electron microscopy dataset (mouse hippocampus CA1, "
                 "FIB-SEM); the dataset's home page names the paper to cite"),
    "license": None,  # not stated (research use, unverified)
    "homepage": _LUCCHI_URL,
    "voxel_size": (5.0, 5.0, 5.0),  # nm (z, y, x), "about 5 nm isotropic"
    "voxel_size_source": "approximate, as usually quoted for this dataset",
    "n_classes": 2,
}

LUCCHI_PP = {
    "kind": "dataset",
    "loader": "emseg.data.load_lucchi_pp",
    "url": "http://www.casser.io/files/lucchi_pp.zip",  # HTTP only
    # The PyTorch Connectomics copy (huggingface.co/pytc/tutorial, mito_lucchi%2B%2B/
    # lucchi%2B%2B.zip, sha256 d6c29c25db29780f068b40edf27918ad4af8a1ce7d699f043ed91c6b012a0637)
    # holds HDF5 files, not these PNGs, so it is not a mirror of this zip.
    "mirrors": (),
    "md5": None,  # not published; the SHA-256 below is checked instead
    "sha256": "770ce9e98fc6f29c1b1a250c637e6c5125f2b5f1260e5a7687b55a79e2e8844d",
    "size": None,  # byte size of the zip not published
    "zip_name": "lucchi_pp.zip",
    "folder": "Lucchi++",  # the zip unpacks to this folder
    "files": {  # folders of PNG slices; per-file sizes and checksums not published
        "Train_In": {"pattern": "mask%04i.png", "shape": (165, 768, 1024)},
        "Train_Out": {"pattern": "%i.png", "shape": (165, 768, 1024)},
        "Test_In": {"pattern": "mask%04i.png", "shape": (165, 768, 1024)},
        "Test_Out": {"pattern": "%i.png", "shape": (165, 768, 1024)},
    },
    "splits": {"train": ("Train_In", "Train_Out"), "test": ("Test_In", "Test_Out")},
    "citation": ("Casser V., Kang K., Pfister H., Haehn D. Fast Mitochondria Segmentation for "
                 "Connectomics. arXiv:1812.06024 (2018)"),
    "license": None,  # not stated
    "homepage": "http://www.casser.io/files/lucchi_pp.zip",
    "voxel_size": (5.0, 5.0, 5.0),  # nm, the Lucchi volumes
    "voxel_size_source": "the Lucchi volumes (approximate)",
    "n_classes": 2,
}

VNC = {
    "kind": "dataset",
    "loader": "emseg.data.load_vnc",
    "url": None,  # no verified download link; the data live in a GitHub repository (homepage)
    "mirrors": (),
    "md5": None,
    "sha256": None,  # torch-em's zip has a SHA-256 (f7bd0db0...7e86, truncated in our sheet)
    "size": None,  # about 44 MB in the repository; no single archive recorded
    "zip_name": None,
    "folder": "groundtruth-drosophila-vnc",
    "files": {  # sizes of the raw sections as published in the repository
        **{f"stack1/raw/{k:02d}.tif": {"size": 1_048_734, "shape": (1, 1024, 1024)}
           for k in range(20)},
        "stack1/mitochondria": {"total_size": 92_007, "count": 20},  # PNG masks, bytes in all
        "stack1/membranes": {"count": 20},
        "stack1/synapses": {"count": 20},
        "stack1/labels": {"count": 20},
        "stack2/raw": {"count": 20},
    },
    "citation": ("Gerhard S., Funke J., Martel J., Cardona A., Fetter R. Segmented anisotropic "
                 "ssTEM dataset of neural tissue. figshare (2013). "
                 "doi:10.6084/m9.figshare.856713"),
    "license": "CC BY-NC-SA 3.0 (non-commercial; cite the dataset)",
    "homepage": "https://github.com/unidesigner/groundtruth-drosophila-vnc",
    "voxel_size": (47.5, 4.6, 4.6),  # nm; sections are 45-50 nm (midpoint taken)
    "voxel_size_source": "the dataset's README: 4.6 x 4.6 nm pixels, 45-50 nm sections",
    "n_classes": 2,
}


#: The keys every dataset entry has.
ENTRY_KEYS = ("kind", "loader", "url", "mirrors", "md5", "sha256", "size", "zip_name", "folder",
              "files", "citation", "license", "homepage", "voxel_size", "voxel_size_source",
              "n_classes")

_CITATION = ("Guay M. D. et al. Dense cellular segmentation for EM using 2D-3D neural network "
             "ensembles. Scientific Reports 11:2561 (2021). doi:10.1038/s41598-021-81590-0")
_URLS = ("https://www.dropbox.com/s/peroaqonnq1chtv/2d3d-3x3x3_0.zip?dl=1",
         "https://www.dropbox.com/s/seqjvr7ulx9j8cp/2d3d-3x3x3_1.zip?dl=1",
         "https://www.dropbox.com/s/p536tuy8hgz2gmb/2d3d-3x3x3_2.zip?dl=1",
         "https://www.dropbox.com/s/uwhfq3jsijlfv9j/2d3d-3x3x3_3.zip?dl=1")

#: The original nets. ``format`` "tf-genenet": a TF checkpoint zip to convert.
#: ``md5``/``size`` are None: none were published (see the module docstring).
WEIGHTS = {
    f"2d3d-3x3x3_{i}": {
        "kind": "weights", "format": "tf-genenet", "url": url, "md5": None, "size": None,
        "zip_name": f"2d3d-3x3x3_{i}.zip", "folder": f"2d3d-3x3x3_{i}",
        "description": f"original 2D-3D+3x3x3 net no. {i} of the published top four, trained on "
                       f"the real platelet data (TensorFlow checkpoint, converted)",
        "trained_on": "platelet (real)", "citation": _CITATION,
        "homepage": "https://leapmanlab.github.io/dense-cell/"}
    for i, url in enumerate(_URLS)}

_PHANTOM_COMMAND = ("python -m emseg train --model net2d3d --preset cpu-legacy --source phantom "
                    "--seed {i} --output runs/phantom-2d3d_{i} && python -m emseg export "
                    "runs/phantom-2d3d_{i}/checkpoints/best.pt --half "
                    "--output lib/emseg/weights/phantom-2d3d_{i}.pt")
# Small nets shipped with the library so that example 1 runs offline. ``format`` "bundled":
# a file in emseg/weights, stored as float16 (loaded as float32).
WEIGHTS.update({
    f"phantom-2d3d_{i}": {
        "kind": "weights", "format": "bundled", "file": f"phantom-2d3d_{i}.pt",
        "description": f"small 2D-3D net (width 16, legacy CPU preset, seed {i}) trained on the "
                       f"SYNTHETIC platelet phantom, for offline runs only",
        "trained_on": "platelet phantom (synthetic)", "command": _PHANTOM_COMMAND.format(i=i),
        "citation": _CITATION}
    for i in range(4)})

REGISTRY = {"platelet": PLATELET, "lucchi": LUCCHI, "lucchi_pp": LUCCHI_PP, "vnc": VNC, **WEIGHTS}


def entries(kind):
    """The entries of one kind, ``{name: entry}`` in registry order.

    Parameters
    ----------
    kind : {"dataset", "weights"}

    Examples
    --------
    >>> sorted(entries("dataset"))
    ['lucchi', 'lucchi_pp', 'platelet', 'vnc']
    """
    if kind not in KINDS:
        raise ValueError(f"unknown kind {kind!r}; choose one of {', '.join(KINDS)}")
    return {name: e for name, e in REGISTRY.items() if e["kind"] == kind}


DATASETS = entries("dataset")


def make_pooch(entry, path=None, *, url=None, retries=0):
    """Return the :class:`pooch.Pooch` that downloads ``entry``'s zip.

    Parameters
    ----------
    entry : dict
        A value of :data:`DATASETS`.
    path : str or Path, optional
        Cache folder. By default ``$EMSEG_DATA_DIR`` when set, else
        ``pooch.os_cache("emseg")``; a given ``path`` is used as it is.
    url : str, optional
        The link to download from (``entry["url"]`` or one of its mirrors).
    retries : int
        pooch's ``retry_if_failed``: extra tries after a failed download.
    """
    url = url or entry["url"]
    return pooch.create(path=pooch.os_cache("emseg") if path is None else path,
                        base_url=url.rsplit("/", 1)[0], env=CACHE_ENV if path is None else None,
                        registry={entry["zip_name"]: f"md5:{entry['md5']}" if entry.get("md5") else None},
                        urls={entry["zip_name"]: url}, retry_if_failed=retries)
