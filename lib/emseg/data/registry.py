"""Registry of downloadable datasets, as plain data.

``DATASETS`` maps a dataset name to one entry. An entry describes a single zip
archive and the files it must yield; adding a dataset means adding one entry
with the same keys:

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

__all__ = ["CACHE_ENV", "DATASETS", "PLATELET", "make_pooch"]

CACHE_ENV = "EMSEG_DATA_DIR"  # overrides the cache folder pooch.os_cache("emseg")

PLATELET = {
    "url": "https://www.dropbox.com/s/68yclbraqq1diza/platelet_data_1219.zip?dl=1",
    # Alternate link from third-party notes (unverified); dl=1 asks Dropbox for the file.
    "mirrors": ("https://www.dropbox.com/scl/fi/fg6y2dafj7116vfuucgcm/platelet_data_1219.zip"
                "?rlkey=afvwo6f6oiab1pc76peirjxzd&dl=1",),
    "md5": "253310093ee2c00304fbabdb0c7e3a4a",
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
}

DATASETS = {"platelet": PLATELET}


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
