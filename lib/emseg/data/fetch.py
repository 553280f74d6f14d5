"""Download, unpack and verify the real datasets listed in :mod:`emseg.data.registry`.

pooch does the downloading. :func:`~emseg.data.registry.make_pooch` builds the
dataset's ``pooch.Pooch``, which picks the cache folder (``$EMSEG_DATA_DIR``, else
``pooch.os_cache("emseg")``), reuses a zip already there if its MD5 matches, streams
the download into a temporary file, checks its MD5 (deleting a file that fails) and
retries failed tries after 1 s, 2 s, ... (``pooch.core.stream_download``), logging
each download and retry on stderr.

What we add:

* :class:`_Downloader` wraps ``pooch.HTTPDownloader`` and runs before pooch's MD5
  check: it spots an HTML page in place of the zip and a short download, and turns
  every failure into a :class:`DataDownloadError` saying what to do next
  (``offline=True`` only when the host could not be reached). pooch would retry any
  ``ValueError`` or ``requests`` error, even HTTP 404, so only failures worth
  retrying (connection lost mid-download, HTTP 429/5xx) reach it, wrapped in
  :class:`_Retry` (a ``ValueError``); the others end the download at once. An
  unreachable host is not retried, so that ``source="auto"`` falls back at once.
* Mirrors, tried in turn when the main link fails (an unreachable host only once).
* Safe unpacking (:func:`safe_extract`: paths, size and compression ratio checked),
  then a size and MD5 check of every file. Partial downloads of an interrupted earlier
  try (pooch's ``tmp*`` files, over an hour old) are removed first.
  The zip is deleted once its files are unpacked and verified, or when it is bad
  (unsafe, unreadable, wrong content); when unpacking fails otherwise (disk full,
  Ctrl-C) it is kept, and the next try unpacks it without downloading it again.
* A stamp file holding each verified file's MD5, size and mtime: a cache hit costs
  a few ``stat`` calls, and neither hashing nor network.
"""
import contextlib
import json
import os
import re
import shutil
import stat
import sys
import warnings
import zipfile
from pathlib import Path, PurePosixPath
from urllib.parse import urlparse

import pooch

from emseg.atomic import atomic_path
from emseg.data.registry import DATASETS, make_pooch

__all__ = ["DataDownloadError", "data_dir", "display_path", "download_archive", "fetch_dataset",
           "remove_partial_downloads", "safe_extract"]

STAMP_NAME = ".emseg-verified.json"
_OFFLINE_HINT = ('To work offline on synthetic data instead, use source="phantom" '
                 '(CLI: --source phantom).')
_RETRY_HTTP = (429, 500, 502, 503, 504)


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
    transient : bool
        True when trying again may help (connection lost mid-download, busy server).
    """

    def __init__(self, message, *, offline=False, url=None, transient=False):
        super().__init__(message)
        self.offline = offline
        self.url = url
        self.transient = transient


def data_dir():
    """Return the folder where datasets are cached.

    Returns
    -------
    Path
        ``$EMSEG_DATA_DIR`` when set, else the user cache folder
        ``pooch.os_cache("emseg")`` (for example ``~/.cache/emseg`` on Linux).
        The folder is created only when something is downloaded.
    """
    return Path(make_pooch(DATASETS["platelet"]).path)


def display_path(path):
    """``path`` as text for messages, with the home folder written ``~``.

    >>> from pathlib import Path
    >>> display_path(Path.home() / ".cache" / "emseg")
    '~/.cache/emseg'
    """
    path = Path(path).expanduser()
    try:
        return str(Path("~") / path.relative_to(Path.home())).replace("\\", "/")
    except ValueError:  # not under the home folder
        return str(path)


def fetch_dataset(name="platelet", *, data_dir=None, progress=True, retries=3):
    """Make sure a dataset is downloaded and intact; return its folder.

    When the files are already present and verified this returns at once,
    without any network access. Otherwise the dataset's zip is downloaded,
    checked (size and MD5), unpacked safely and every file is checked (Lucchi and
    Lucchi++ go through :func:`~emseg.data.datasets.lucchi.fetch_lucchi` and
    :func:`~emseg.data.datasets.lucchi.fetch_lucchi_pp`, which check what was published).

    Parameters
    ----------
    name : str
        A key of :data:`emseg.data.registry.DATASETS`: ``"platelet"``, ``"lucchi"``,
        ``"lucchi_pp"`` (``"vnc"`` has no verified link: the error says where to get it).
    data_dir : str or Path, optional
        Cache folder; defaults to :func:`data_dir`. The files end up in a
        sub-folder named by the registry (``platelet_data`` for the platelets).
    progress : bool
        Show a progress bar (on stderr) while downloading.
    retries : int
        How many more times to try after a lost connection, an incomplete or
        corrupted download or a busy server (waiting 1 s, 2 s, ... between tries).

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
    if name in ("lucchi", "lucchi_pp"):  # not one MD5-checked zip: their own fetchers
        from emseg.data.datasets import lucchi  # (they build on this module)

        fetch = lucchi.fetch_lucchi if name == "lucchi" else lucchi.fetch_lucchi_pp
        return fetch(data_dir=data_dir, progress=bool(progress), retries=retries)
    if DATASETS[name]["url"] is None:
        raise ValueError(f"{name} has no verified download link; get it from "
                         f"{DATASETS[name]['homepage']} and give its folder to "
                         f"{DATASETS[name]['loader']} (path=...)")
    root = Path(make_pooch(DATASETS[name], data_dir).path)  # pooch resolves the default
    if root.exists() and not root.is_dir():
        raise ValueError(f"data_dir {root} is a file; give a folder (it is created if missing)")
    return _fetch_entry(DATASETS[name], root, progress=bool(progress), retries=retries)


def _fetch_entry(entry, root, *, progress=True, retries=3):
    """Download, unpack and verify the registry ``entry`` under ``root``.

    Returns ``root / entry["folder"]``; see :mod:`emseg.data.registry` for the keys.
    """
    root = Path(root)
    folder = root / entry["folder"]
    zip_path = None
    try:
        if _cached(folder, entry):
            return folder
        zip_path = download_archive(entry, root, progress=progress, retries=retries)
        # The zip is deleted only when it is done with (files unpacked and verified) or
        # bad; on any other failure (disk full, Ctrl-C) it stays, and the next try finds
        # it (pooch checks its MD5) instead of downloading it again.
        try:
            safe_extract(zip_path, root)
        except (ValueError, zipfile.BadZipFile) as err:  # the zip is unsafe or unreadable
            zip_path.unlink(missing_ok=True)
            raise DataDownloadError(f"could not unpack {entry['zip_name']}: {err}. Nothing was "
                                    f"written outside {root}; report this to the emseg "
                                    f"developers.", url=entry["url"]) from err
        bad = _verify_files(folder, entry)
        zip_path.unlink(missing_ok=True)  # unpacked and checked: good or not, it is done with
        if bad:
            what = "; ".join(f"{name} ({problem})" for name, problem in bad)
            files = ("1 file" if len(bad) == 1 else f"{len(bad)} files") + " unpacked from"
            verb = "is wrong and was" if len(bad) == 1 else "are wrong and were"
            raise DataDownloadError(
                f"{files} {entry['zip_name']} {verb} removed: {what}. The "
                f"archive's checksum was right, so the registry is probably out of date: "
                f"report this to the emseg developers.", url=entry["url"])
        _write_stamp(folder, entry)
        return folder
    except OSError as exc:  # disk full, no write permission, ...
        need = sum(f["size"] for f in entry["files"].values()) + entry["size"]
        kept = (f" The downloaded {zip_path.name} was kept in {root}: the next try unpacks it "
                f"without downloading it again (or delete it to free "
                f"{entry['size'] / 1e6:,.0f} MB)."
                if zip_path is not None and zip_path.exists() else "")
        raise DataDownloadError(
            f"could not write the {entry['folder']} files under {root} ({exc}). Check the free "
            f"disk space (about {need / 1e6:,.0f} MB are needed while unpacking) and write "
            f"permission, or choose another folder with EMSEG_DATA_DIR or data_dir=.{kept}",
            url=entry["url"]) from exc


# --- the local cache ---------------------------------------------------------------------

def _stamp(folder, entry):
    """``{file: [registry MD5, size, mtime_ns]}``, or None when a file is missing."""
    try:
        stats = {name: (folder / name).stat() for name in entry["files"]}
    except OSError:
        return None
    return {name: [entry["files"][name]["md5"], st.st_size, st.st_mtime_ns]
            for name, st in stats.items()}


def _cached(folder, entry):
    """True when every file of ``entry`` is in ``folder`` and verified.

    Trusts the stamp when the files are unchanged since the last full check;
    otherwise checks sizes and MD5s, warns about and removes bad files.
    """
    stamp = _stamp(folder, entry)
    if stamp is None:
        return False
    with contextlib.suppress(OSError, ValueError):
        if json.loads((folder / STAMP_NAME).read_text()) == stamp:
            return True
    bad = _verify_files(folder, entry)
    for name, problem in bad:
        warnings.warn(f"cached file {folder / name} is corrupted ({problem}); it was removed "
                      f"and the dataset will be downloaded again", UserWarning, stacklevel=3)
    if not bad:
        _write_stamp(folder, entry)
    return not bad


def _write_stamp(folder, entry):
    """Write the verification stamp; a read-only folder just means no stamp."""
    with contextlib.suppress(OSError), atomic_path(folder / STAMP_NAME) as tmp:
        tmp.write_text(json.dumps(_stamp(folder, entry)))


def _verify_files(folder, entry):
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
        elif (actual := pooch.file_hash(str(path), alg="md5")) != spec["md5"]:
            problem = f"MD5 {actual}, expected {spec['md5']}"
        else:
            continue
        bad.append((name, problem))
        path.unlink()
    return bad


# --- unpacking ---------------------------------------------------------------------------

MAX_UNPACKED_BYTES = 16 * 2 ** 30  # safe_extract: the most a zip may unpack to
MAX_RATIO = 200  # safe_extract: the highest compression ratio of a member over 8 MB


def safe_extract(zip_path, target, *, max_bytes=MAX_UNPACKED_BYTES, max_ratio=MAX_RATIO):
    """Unpack a zip archive into ``target``, refusing anything that could escape it.

    Every member is checked before anything is written: absolute paths, drive
    letters, ``..`` components and symbolic links are refused, and so is a "zip
    bomb": more than ``max_bytes`` in all, a member over 8 MB compressed more than
    ``max_ratio`` times, or more than the free disk space. Each file is written under
    a temporary name and then renamed, so an interrupted run leaves no partly written
    file under its final name; no member is written beyond its declared size.

    Parameters
    ----------
    zip_path : str or Path
        The archive.
    target : str or Path
        Destination folder (created if missing).
    max_bytes : int
        The largest total unpacked size accepted (default 16 GiB).
    max_ratio : float
        The largest compression ratio accepted for a member larger than 8 MB.

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
        total = sum(m.file_size for m in members)
        if total > max_bytes:
            raise ValueError(f"refusing {Path(zip_path).name}: it would unpack to "
                             f"{total / 2 ** 30:.1f} GiB, more than the {max_bytes / 2 ** 30:.1f} "
                             f"GiB allowed (max_bytes)")
        for m in members:
            if m.file_size > 8 * 2 ** 20 and m.file_size > max_ratio * max(m.compress_size, 1):
                raise ValueError(f"refusing {Path(zip_path).name}: member {m.filename!r} is "
                                 f"compressed {m.file_size / max(m.compress_size, 1):.0f} times "
                                 f"(over {max_ratio}); the archive looks malicious")
        free = shutil.disk_usage(target).free
        if total > free:
            raise ValueError(f"{target}: {Path(zip_path).name} unpacks to {total / 2 ** 20:.0f} MB "
                             f"but only {free / 2 ** 20:.0f} MB are free; free space or set "
                             f"another data folder (EMSEG_DATA_DIR)")
        for member in members:
            with atomic_path(target / member.filename) as tmp, zf.open(member) as src, \
                    open(tmp, "wb") as dst:
                shutil.copyfileobj(src, dst, 1 << 20)
    return [target / m.filename for m in members]


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

@contextlib.contextmanager
def _quiet_pooch():
    """Hold back pooch's INFO log line ("Downloading file ... to <cache path>")."""
    logger = pooch.get_logger()
    level = logger.level
    logger.setLevel("WARNING")
    try:
        yield
    finally:
        logger.setLevel(level)


def download_archive(entry, root, *, progress=True, retries=3):
    """Let pooch fetch a registry entry's zip into ``root``, trying mirrors in turn.

    ``entry`` needs ``url``, ``zip_name``, ``md5`` and ``size`` (both may be None when
    the publisher gave none: pooch then skips the hash check, and the caller must
    verify the content) and optionally ``mirrors`` and ``homepage``. Returns the
    zip's path; raises :class:`DataDownloadError` saying what to do next.
    """
    remove_partial_downloads(root)
    errors = []
    for url in (entry["url"], *entry.get("mirrors", ())):
        if any(e.offline and urlparse(e.url).hostname == urlparse(url).hostname for e in errors):
            continue  # that host was already unreachable: do not wait on it again
        downloader = _Downloader(entry, progress)  # it draws the progress bar, not pooch
        try:
            pup = make_pooch(entry, root, url=url, retries=retries)
            with _quiet_pooch():  # our downloader reports progress; pooch's log line
                return Path(pup.fetch(entry["zip_name"], downloader=downloader))
        except _Retry as last:  # pooch retried and gave up
            errors.append(last.args[0])
        except DataDownloadError as err:
            errors.append(err)
        except ValueError as exc:  # pooch's MD5 check failed; it deleted the download
            actual = re.search(r"but got (\w+)", str(exc))
            errors.append(DataDownloadError(
                f"{entry['zip_name']} downloaded from {url} has MD5 "
                f"{actual[1] if actual else '(unknown)'} but the registry expects "
                f"{entry['md5']} ({downloader.size:,} bytes, expected {entry['size']:,}); the "
                f"file was removed. The download was corrupted or the file on the server "
                f"changed: try again, and if it persists report it to the emseg developers.",
                url=url))
    main = next((e for e in errors if not e.offline), errors[0])
    if str(entry["zip_name"]).lower().endswith(".zip"):
        manual = (f"unzip it into {root} (it must create {root / entry['folder']})")
    else:  # a single file (a TIFF of the Lucchi data): saved as it is
        manual = f"save it into {root / entry['folder']}"
    lines = [f"{main} You can also download {main.url} in a browser and {manual}."
             + (f" {_OFFLINE_HINT}" if main.offline else "")]
    if len(errors) > 1:
        lines += ["Other links tried:"] + [f"  {e.url}: {str(e).splitlines()[0][:160]}"
                                           for e in errors if e is not main]
    main.args = ("\n".join(lines),)
    raise main


_POOCH_TMP = re.compile(r"^tmp[a-z0-9_]{8}$")  # tempfile's names, where pooch downloads


def remove_partial_downloads(folder, *, older_than=3600.0):
    """Remove the partial downloads an interrupted pooch download left in ``folder``.

    Only files named as :mod:`tempfile` names them (``tmp`` and 8 characters, no
    extension) directly in ``folder`` and not modified for ``older_than`` seconds (a
    download still running writes to its file) are removed.

    Returns
    -------
    list of Path
        The removed files.
    """
    import time

    folder, removed = Path(folder), []
    if not folder.is_dir():
        return removed
    for p in folder.iterdir():
        with contextlib.suppress(OSError):
            if _POOCH_TMP.match(p.name) and p.is_file() \
                    and time.time() - p.stat().st_mtime > older_than:
                p.unlink()
                removed.append(p)
    return removed


class _Retry(ValueError):
    """``_Retry(error)`` carries a DataDownloadError through pooch, which retries ValueError."""


class _Downloader:
    """``pooch.HTTPDownloader`` plus the checks pooch lacks, raising DataDownloadError.

    pooch calls it as ``downloader(url, temp_file, pooch)`` and checks the MD5 after it
    returns; errors worth retrying are raised as :class:`_Retry` so that pooch retries.
    """

    def __init__(self, entry, progress):
        self.entry, self.size, self.headers, self.progress = entry, 0, {}, progress
        # The response hook records the headers of the final response (after redirects),
        # which tell a complete response from one cut short (see _check_file).
        self.http = pooch.HTTPDownloader(progressbar=progress, chunk_size=1 << 20,
                                         timeout=(15, 60), hooks={"response": self._record})

    def _record(self, response, *args, **kwargs):
        self.headers = response.headers

    def __call__(self, url, output_file, pup):
        import requests  # pooch's own dependency; imported late, as pooch does

        self.headers = {}
        if self.progress:
            size = f" ({self.entry['size'] / 1e6:,.0f} MB)" if self.entry.get("size") else ""
            print(f"downloading {self.entry['zip_name']}{size} from {urlparse(url).hostname} "
                  f"into {display_path(Path(output_file).parent)}", file=sys.stderr)
        try:
            self.http(url, output_file, pup)
            error = self._check_file(url, output_file)
        except requests.exceptions.RequestException as exc:
            error = self._request_error(url, exc, os.path.getsize(output_file))
            error.__cause__ = exc
        if error is not None:
            raise _Retry(error) if error.transient else error

    def _check_file(self, url, path):
        """The error for a web page or a short file in place of the zip, else None.

        Called after the body was received without error. When the response declared
        its length (Content-Length or chunked encoding), requests raises on a body cut
        short, so a short file here is a complete but different file: not worth
        retrying. Only a response without a declared length may have been cut short.
        """
        self.size = os.path.getsize(path)
        with open(path, "rb") as fh:
            head = fh.read(1024)
        low = head.lstrip(b"\xef\xbb\xbf \t\r\n").lower()
        if not head.startswith(b"PK") and (low.startswith(b"<!doctype html") or b"<html" in low):
            return DataDownloadError(
                f"{url} returned a web page (HTML) instead of the zip {self.entry['zip_name']}; "
                f"the page was removed. The link probably needs '?dl=1' (Dropbox serves a "
                f"preview page without it) or has expired: check the dataset's hub page "
                f"{self.entry.get('homepage', '')} for a current link.", url=url)
        if self.entry.get("size") is None or self.size >= self.entry["size"]:
            return None  # a larger file fails pooch's MD5 check
        headers = {k.lower(): v.lower() for k, v in self.headers.items()}
        if "content-length" not in headers and "chunked" not in headers.get(
                "transfer-encoding", ""):
            return self._short(url, self.size)  # the end of the body was not announced
        return DataDownloadError(
            f"{urlparse(url).hostname} sent a complete file of {self.size:,} bytes, but the "
            f"dataset's zip {self.entry['zip_name']} is {self.entry['size']:,} bytes: the link "
            f"may point to another file (moved, replaced or an error notice); the file was "
            f"removed. Trying again will not help: look for a current link on the dataset's "
            f"hub page {self.entry.get('homepage', '')}, or report this to the emseg "
            f"developers.", url=url)

    def _short(self, url, got):
        return DataDownloadError(
            f"the download of {self.entry['zip_name']} from {urlparse(url).hostname} stopped "
            f"early: got {got:,}" + (f" of {self.entry['size']:,}" if self.entry.get("size") else "")
            + " bytes; the partial file was removed. "
            "Try again (a stable connection helps).", url=url, transient=True)

    def _request_error(self, url, exc, got):
        import requests

        host = urlparse(url).hostname or url
        if isinstance(exc, requests.exceptions.HTTPError):
            code = exc.response.status_code if exc.response is not None else "error"
            return DataDownloadError(
                f"{host} answered HTTP {code} for {url}; the link may have expired or the "
                f"server is busy. Try again later or look for a current link on the dataset's "
                f"hub page {self.entry.get('homepage', '')}.", url=url,
                transient=code in _RETRY_HTTP)
        if not self.headers and got == 0 and isinstance(exc, requests.exceptions.ConnectionError):
            # No response at all. Not transient: retrying an unreachable host (waits plus
            # connect timeouts) would only delay the fallback to synthetic data.
            return DataDownloadError(
                f"could not reach {host} to download {self.entry['zip_name']} "
                f"({type(exc).__name__}). Check your internet connection and proxy settings "
                f"(HTTPS_PROXY).", offline=True, url=url)
        if isinstance(exc, (requests.exceptions.ConnectionError, requests.exceptions.Timeout,
                            requests.exceptions.ChunkedEncodingError)):
            return self._short(url, got)
        return DataDownloadError(f"downloading {url} failed ({type(exc).__name__}: {exc}).",
                                 url=url)  # bad URL, redirect loop, ...
