"""Download, unpack and verify the real datasets listed in :mod:`emseg.data.registry`.

Files are cached in :func:`data_dir` (``$EMSEG_DATA_DIR`` overrides it). A dataset is
downloaded once as a zip (with pooch's HTTP downloader), checked against the
registry's size and MD5, unpacked safely, and every file is checked again. After a
full check a small stamp file records each file's size and modification time, so
later calls confirm the cache with a few ``stat`` calls instead of hashing
hundreds of megabytes, and never touch the network.

Every failure raises :class:`DataDownloadError` with what to do next.
"""
import hashlib
import json
import os
import shutil
import stat
import sys
import tempfile
import time
import warnings
import zipfile
from pathlib import Path, PurePosixPath
from urllib.parse import urlparse

import pooch

from emseg.data.registry import DATASETS

__all__ = ["DataDownloadError", "data_dir", "fetch_dataset", "safe_extract"]

STAMP_NAME = ".emseg-verified.json"
_OFFLINE_HINT = ('To work offline on synthetic data instead, use source="phantom" '
                 '(CLI: --source phantom).')


class DataDownloadError(RuntimeError):
    """A dataset could not be downloaded, unpacked or verified.

    Attributes
    ----------
    offline : bool
        True only when the host could not be reached at all (no connection,
        DNS failure, proxy, firewall). Loaders with ``source="auto"`` fall back
        to synthetic data in this case and in no other.
    url : str or None
        The link that failed, when there is one.
    """

    def __init__(self, message, *, offline=False, url=None, transient=False):
        super().__init__(message)
        self.offline = offline
        self.url = url
        self.transient = transient  # worth retrying (lost connection, truncated file)


def data_dir():
    """Return the folder where datasets are cached.

    Returns
    -------
    Path
        ``$EMSEG_DATA_DIR`` when set, else the user cache folder
        ``pooch.os_cache("emseg")`` (for example ``~/.cache/emseg`` on Linux).
        The folder is created only when something is downloaded.
    """
    env = os.environ.get("EMSEG_DATA_DIR", "").strip()
    return Path(env).expanduser() if env else Path(pooch.os_cache("emseg"))


def fetch_dataset(name="platelet", *, data_dir=None, progress=True, retries=3):
    """Make sure a dataset is downloaded and intact; return its folder.

    When the files are already present and verified this returns at once,
    without any network access. Otherwise the dataset's zip is downloaded,
    checked (size and MD5), unpacked safely and every file is checked.

    Parameters
    ----------
    name : str
        A key of :data:`emseg.data.registry.DATASETS` (``"platelet"``).
    data_dir : str or Path, optional
        Cache folder; defaults to :func:`data_dir`. The files end up in a
        sub-folder named by the registry (``platelet_data`` for the platelets).
    progress : bool
        Show a progress bar (on stderr) while downloading.
    retries : int
        How many more times to try after a lost connection or an incomplete
        download (waiting 1 s, 2 s, ... between tries).

    Returns
    -------
    Path
        The folder holding the dataset's files.

    Raises
    ------
    ValueError
        For an unknown dataset name or a bad argument.
    DataDownloadError
        When the data cannot be downloaded or fail verification; the message
        says what to do, and ``err.offline`` is True when the host was unreachable.

    Examples
    --------
    >>> folder = fetch_dataset("platelet")              # doctest: +SKIP
    >>> sorted(p.name for p in folder.glob("*.tif"))[:2]  # doctest: +SKIP
    ['eval-images.tif', 'eval-labels.tif']
    """
    if name not in DATASETS:
        raise ValueError(f"unknown dataset {name!r}; available: {', '.join(sorted(DATASETS))}")
    if isinstance(retries, bool) or not isinstance(retries, int) or retries < 0:
        raise ValueError(f"retries must be an integer >= 0, got {retries!r}")
    return _fetch_entry(DATASETS[name], _resolve_root(data_dir), progress=bool(progress),
                        retries=retries)


def _resolve_root(root):
    """Return the cache folder to use for ``fetch_dataset(data_dir=root)``."""
    root = data_dir() if root is None else Path(root).expanduser()
    if root.exists() and not root.is_dir():
        raise ValueError(f"data_dir {root} is a file; give a folder (it is created if missing)")
    return root


def _fetch_entry(entry, root, *, progress=True, retries=3, wait=1.0):
    """Download, unpack and verify one registry ``entry`` under ``root``.

    ``entry`` needs the keys ``url``, ``md5``, ``size``, ``zip_name``, ``folder``
    and ``files`` (see :mod:`emseg.data.registry`); ``mirrors`` is optional.
    Returns ``root / entry["folder"]``.
    """
    root = Path(root)
    try:
        return _fetch_into(entry, root, progress=progress, retries=retries, wait=wait)
    except OSError as exc:  # disk full, no write permission, ...
        need = sum(f["size"] for f in entry["files"].values()) + entry["size"]
        raise DataDownloadError(
            f"could not write the {entry['folder']} files under {root} ({exc}). Check the free "
            f"disk space (about {need / 1e6:,.0f} MB are needed while unpacking) and write "
            f"permission, or choose another folder with EMSEG_DATA_DIR or data_dir=.",
            url=entry["url"]) from exc


def _fetch_into(entry, root, *, progress, retries, wait):
    """The body of :func:`_fetch_entry`, without its translation of OSError."""
    folder = root / entry["folder"]
    if _cached(folder, entry):
        return folder
    root.mkdir(parents=True, exist_ok=True)
    (folder / STAMP_NAME).unlink(missing_ok=True)
    zip_path = _download(entry, root, progress=progress, retries=retries, wait=wait)
    try:
        safe_extract(zip_path, root)
    except (ValueError, zipfile.BadZipFile) as err:
        raise DataDownloadError(f"could not unpack {entry['zip_name']}: {err}. Nothing was "
                                f"written outside {root}; report this to the emseg developers.",
                                url=entry["url"]) from err
    finally:
        zip_path.unlink(missing_ok=True)
    bad = _verify_files(folder, entry)
    if bad:
        name, problem = bad[0]
        raise DataDownloadError(
            f"{name} unpacked from {entry['zip_name']} is wrong ({problem}); it was removed. "
            f"The archive's checksum was right, so the registry is probably out of date: "
            f"report this to the emseg developers.", url=entry["url"])
    _write_stamp(folder, _stamp_content(folder, entry))
    return folder


# --- the local cache ---------------------------------------------------------------------

def _md5(path, chunk=1 << 22):
    """MD5 hex digest of a file, read in 4 MiB chunks."""
    h = hashlib.md5()
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            h.update(block)
    return h.hexdigest()


def _stat_record(folder, entry):
    """``{file: [size, mtime_ns]}`` for the entry's files, or None if one is missing."""
    record = {}
    for name in entry["files"]:
        try:
            st = (folder / name).stat()
        except FileNotFoundError:
            return None
        record[name] = [st.st_size, st.st_mtime_ns]
    return record


def _cached(folder, entry):
    """True when every file of ``entry`` is in ``folder`` and verified.

    Uses the stamp when the files are unchanged since the last full check;
    otherwise checks sizes and MD5s, warns about and removes bad files.
    """
    record = _stat_record(folder, entry) if folder.is_dir() else None
    if record is None:
        return False
    try:
        if json.loads((folder / STAMP_NAME).read_text()) == _stamp_content(folder, entry, record):
            return True
    except (OSError, ValueError):
        pass
    if _verify_files(folder, entry, warn=True):
        return False
    _write_stamp(folder, _stamp_content(folder, entry))
    return True


def _stamp_content(folder, entry, record=None):
    """What the stamp holds: the registry's MD5s and each file's [size, mtime_ns]."""
    return {"md5": {name: f["md5"] for name, f in entry["files"].items()},
            "stat": record or _stat_record(folder, entry)}


def _verify_files(folder, entry, *, warn=False):
    """Check sizes and MD5s; remove bad files; return ``[(name, problem), ...]`` for them."""
    bad = []
    for name, spec in entry["files"].items():
        path = folder / name
        if not path.is_file():
            bad.append((name, "file missing"))
            continue
        size = path.stat().st_size
        if size != spec["size"]:
            problem = f"size {size:,} bytes, expected {spec['size']:,}"
        elif (actual := _md5(path)) != spec["md5"]:
            problem = f"MD5 {actual}, expected {spec['md5']}"
        else:
            continue
        bad.append((name, problem))
        path.unlink()
        if warn:
            warnings.warn(f"cached file {path} is corrupted ({problem}); it was removed and "
                          f"the dataset will be downloaded again", UserWarning, stacklevel=2)
    return bad


def _write_stamp(folder, content):
    """Write the verification stamp atomically; a read-only folder just means no stamp."""
    try:
        fd, tmp = tempfile.mkstemp(dir=folder, prefix=f"{STAMP_NAME}.", suffix=".tmp")
    except OSError:
        return
    try:
        with os.fdopen(fd, "w") as fh:
            json.dump(content, fh)
        os.replace(tmp, folder / STAMP_NAME)
    except OSError:
        Path(tmp).unlink(missing_ok=True)


# --- unpacking ---------------------------------------------------------------------------

def safe_extract(zip_path, target):
    """Unpack a zip archive into ``target``, refusing anything that could escape it.

    Every member is checked before anything is written: absolute paths, drive
    letters, ``..`` components and symbolic links are refused. The members are
    unpacked into a temporary folder inside ``target`` and only then moved into
    place, so an interrupted run leaves no partly written file under its final name.

    Parameters
    ----------
    zip_path : str or Path
        The archive.
    target : str or Path
        Destination folder (created if missing).

    Returns
    -------
    list of Path
        The unpacked files, in archive order.

    Raises
    ------
    ValueError
        If a member is unsafe (nothing is written then).
    zipfile.BadZipFile
        If ``zip_path`` is not a valid zip archive.
    """
    target = Path(target)
    target.mkdir(parents=True, exist_ok=True)
    root = target.resolve()
    with zipfile.ZipFile(zip_path) as zf:
        members = [m for m in zf.infolist() if _check_member(m, root)]
        staging = Path(tempfile.mkdtemp(dir=target, prefix=".extract-"))
        try:
            for member in members:
                zf.extract(member, staging)
            written = []
            for member in members:
                dest = target / member.filename
                dest.parent.mkdir(parents=True, exist_ok=True)
                os.replace(staging / member.filename, dest)
                written.append(dest)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
    return written


def _check_member(member, root):
    """Raise ValueError for an unsafe zip member; return True for a file, False for a folder."""
    name = member.filename
    parts = PurePosixPath(name.replace("\\", "/")).parts
    if name.startswith(("/", "\\")) or (len(name) > 1 and name[1] == ":"):
        raise ValueError(f"refusing zip member {name!r}: absolute path")
    if ".." in parts:
        raise ValueError(f"refusing zip member {name!r}: '..' would escape the target folder")
    if stat.S_ISLNK(member.external_attr >> 16):
        raise ValueError(f"refusing zip member {name!r}: symbolic link")
    if not (root / name).resolve().is_relative_to(root):
        raise ValueError(f"refusing zip member {name!r}: resolves outside {root}")
    return not member.is_dir()


# --- downloading -------------------------------------------------------------------------

def _download(entry, root, *, progress, retries, wait):
    """Download the entry's zip (trying mirrors in turn); return the verified temp file."""
    errors = []
    for url in (entry["url"], *entry.get("mirrors", ())):
        if any(e.offline and urlparse(e.url).hostname == urlparse(url).hostname for e in errors):
            continue  # that host was already unreachable: do not wait on it again
        try:
            return _download_url(url, entry, root, progress=progress, retries=retries, wait=wait)
        except DataDownloadError as err:
            errors.append(err)
    main = next((e for e in errors if not e.offline), errors[0])
    if len(errors) == 1:
        raise main
    others = "\n".join(f"  {e.url}: {str(e).splitlines()[0][:160]}"
                       for e in errors if e is not main)
    raise DataDownloadError(f"{main}\nOther links tried:\n{others}", offline=main.offline,
                            url=main.url) from main


def _download_url(url, entry, root, *, progress, retries, wait):
    """Download ``url`` into a temp file in ``root``, retrying transient failures."""
    for attempt in range(retries + 1):
        fd, tmp = tempfile.mkstemp(dir=root, prefix=f".{entry['zip_name']}.", suffix=".part")
        os.close(fd)
        tmp = Path(tmp)
        try:
            _download_once(url, tmp, entry, root, progress=progress)
            return tmp
        except BaseException as err:
            tmp.unlink(missing_ok=True)
            if not getattr(err, "transient", False) or attempt == retries:
                raise
            delay = wait * (attempt + 1)
            if progress:
                print(f"{str(err).split('. ')[0]}.\nRetrying in {delay:g} s "
                      f"(try {attempt + 2} of {retries + 1}).", file=sys.stderr)
            time.sleep(delay)


def _download_once(url, tmp, entry, root, *, progress):
    """One download attempt into ``tmp``; raise DataDownloadError on any problem."""
    import requests  # pooch's own dependency; imported here to keep `import emseg` cheap

    host = urlparse(url).hostname or url
    by_hand = (f"You can also download {url} in a browser and unzip it into {root} "
               f"(it must create {root / entry['folder']}).")
    downloader = pooch.HTTPDownloader(progressbar=progress, chunk_size=1 << 20, timeout=(15, 60))
    try:
        downloader(url, str(tmp), None)
    except requests.exceptions.HTTPError as exc:
        code = exc.response.status_code if exc.response is not None else "error"
        raise DataDownloadError(
            f"{host} answered HTTP {code} for {url}; the link may have expired or the server "
            f"is busy. Try again later or look for a current link on the dataset's hub page "
            f"{entry.get('homepage', '')}. {by_hand}",
            url=url, transient=code in (429, 500, 502, 503, 504)) from exc
    except (requests.exceptions.ConnectionError, requests.exceptions.Timeout,
            requests.exceptions.ChunkedEncodingError) as exc:
        got = tmp.stat().st_size
        if got == 0 and isinstance(exc, requests.exceptions.ConnectionError):
            raise DataDownloadError(
                f"could not reach {host} to download {entry['zip_name']} "
                f"({type(exc).__name__}). Check your internet connection and proxy settings "
                f"(HTTPS_PROXY). {by_hand} {_OFFLINE_HINT}",
                offline=True, url=url, transient=True) from exc
        raise _truncated(url, entry, got, by_hand) from exc
    except requests.exceptions.RequestException as exc:  # bad URL, redirect loop, ...
        raise DataDownloadError(f"downloading {url} failed ({type(exc).__name__}: {exc}). "
                                f"{by_hand}", url=url) from exc
    _check_zip(url, tmp, entry, by_hand)


def _truncated(url, entry, got, by_hand):
    """The error for a download that ended after ``got`` bytes (worth retrying)."""
    return DataDownloadError(
        f"the download of {entry['zip_name']} from {urlparse(url).hostname} stopped early: got "
        f"{got:,} of {entry['size']:,} bytes; the partial file was removed. Try again (a "
        f"stable connection helps). {by_hand}", url=url, transient=True)


def _check_zip(url, path, entry, by_hand):
    """Raise DataDownloadError unless ``path`` is the entry's zip (HTML, truncated, checksum)."""
    with open(path, "rb") as fh:
        head = fh.read(1024)
    low = head.lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    if not head.startswith(b"PK") and (low.startswith(b"<!doctype html") or b"<html" in low):
        raise DataDownloadError(
            f"{url} returned a web page (HTML) instead of the zip {entry['zip_name']}; the page "
            f"was removed. The link probably needs '?dl=1' (Dropbox serves a preview page "
            f"without it) or has expired: check the dataset's hub page "
            f"{entry.get('homepage', '')} for a current link. {by_hand}", url=url)
    size = path.stat().st_size
    if size < entry["size"]:
        raise _truncated(url, entry, size, by_hand)
    actual = _md5(path)
    if actual != entry["md5"]:
        raise DataDownloadError(
            f"{entry['zip_name']} downloaded from {url} has MD5 {actual} but the registry "
            f"expects {entry['md5']} ({size:,} bytes, expected {entry['size']:,}); the file was "
            f"removed. The download was corrupted or the file on the server changed: try "
            f"again, and if it persists report it to the emseg developers.", url=url)
