"""Tests of emseg.data.fetch against a local HTTP server (no internet)."""
import hashlib
import io
import json
import os
import socket
import types
import zipfile

import pooch
import pytest
import urllib3.util.connection

from emseg.data import fetch
from emseg.data.fetch import DataDownloadError, _fetch_entry, data_dir, fetch_dataset, safe_extract
from emseg.data.registry import DATASETS, make_pooch

FILES = {"a.tif": b"II*\x00" + bytes(range(256)) * 40, "b.tif": b"MM\x00*" + b"xyz" * 1000}


def _zip_bytes(files, folder="toy_data"):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in files.items():
            zf.writestr(f"{folder}/{name}", data)
    return buf.getvalue()


def _entry(url, zip_data, *, mirrors=()):
    md5 = lambda b: hashlib.md5(b).hexdigest()  # noqa: E731
    return {"url": url, "mirrors": mirrors, "md5": md5(zip_data), "size": len(zip_data),
            "zip_name": "toy.zip", "folder": "toy_data", "homepage": "https://example.org/hub",
            "files": {n: {"md5": md5(d), "size": len(d)} for n, d in FILES.items()}}


def _closed_port_url():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/toy.zip"


@pytest.fixture(autouse=True)
def sleeps(monkeypatch):
    """pooch sleeps 1 s, 2 s, ... between tries (pooch.core.stream_download): just record."""
    waited = []
    monkeypatch.setattr(pooch.core, "time", types.SimpleNamespace(sleep=waited.append))
    return waited


def _get(entry, root, retries=0):
    return _fetch_entry(entry, root, progress=False, retries=retries)


def test_download_extract_verify_then_cache_hit_offline(server, tmp_path):
    data = _zip_bytes(FILES)
    server.routes["/toy.zip"] = (200, {}, data)
    entry = _entry(server.url("/toy.zip"), data)
    folder = _get(entry, tmp_path / "cache")
    assert folder == tmp_path / "cache" / "toy_data"
    assert (folder / "a.tif").read_bytes() == FILES["a.tif"]
    assert (folder / "b.tif").read_bytes() == FILES["b.tif"]
    assert sorted(os.listdir(tmp_path / "cache")) == ["toy_data"]  # zip and temp files removed
    assert sorted(os.listdir(folder)) == [fetch.STAMP_NAME, "a.tif", "b.tif"]
    stamp = json.loads((folder / fetch.STAMP_NAME).read_text())
    assert stamp["a.tif"][:2] == [entry["files"]["a.tif"]["md5"], len(FILES["a.tif"])]
    server.stop()
    assert _get(entry, tmp_path / "cache") == folder  # server gone: no network needed
    assert server.requests == ["/toy.zip"]


def test_files_unzipped_by_hand_are_verified_without_network(tmp_path):
    folder = tmp_path / "toy_data"
    folder.mkdir()
    for name, data in FILES.items():
        (folder / name).write_bytes(data)
    entry = _entry(_closed_port_url(), _zip_bytes(FILES))
    assert _get(entry, tmp_path) == folder
    assert (folder / fetch.STAMP_NAME).is_file()


def test_unreachable_host_is_offline_not_retried_and_mentions_phantom(tmp_path, sleeps,
                                                                     monkeypatch):
    connects = []

    def counting_connect(address, *args, **kwargs):
        connects.append(address)
        return create_connection(address, *args, **kwargs)

    create_connection = urllib3.util.connection.create_connection
    monkeypatch.setattr(urllib3.util.connection, "create_connection", counting_connect)
    entry = _entry(_closed_port_url(), _zip_bytes(FILES))
    with pytest.raises(DataDownloadError, match="could not reach 127.0.0.1") as info:
        _get(entry, tmp_path, retries=3)
    assert info.value.offline is True and info.value.transient is False
    assert len(connects) == 1 and sleeps == []  # one try, no waiting: source="auto" falls back
    assert 'source="phantom"' in str(info.value) and "--source phantom" in str(info.value)
    assert os.listdir(tmp_path) == []  # no partial file


def test_checksum_mismatch_names_file_and_removes_it(server, tmp_path):
    data = _zip_bytes(FILES)
    evil = data[:-1] + bytes([data[-1] ^ 0xFF])  # same size, one byte flipped
    server.routes["/toy.zip"] = (200, {}, evil)
    entry = _entry(server.url("/toy.zip"), data)
    with pytest.raises(DataDownloadError) as info:
        _get(entry, tmp_path, retries=1)
    msg = str(info.value)
    assert "toy.zip" in msg and hashlib.md5(evil).hexdigest() in msg and entry["md5"] in msg
    assert info.value.offline is False
    assert server.requests == ["/toy.zip"] * 2  # pooch retries a checksum mismatch
    assert os.listdir(tmp_path) == []


def test_html_page_instead_of_zip(server, tmp_path, sleeps):
    page = b"<!DOCTYPE html>\n<html><head><title>Dropbox</title></head></html>"
    server.routes["/toy.zip"] = (200, {"Content-Type": "text/html"}, page)
    entry = _entry(server.url("/toy.zip"), _zip_bytes(FILES))
    with pytest.raises(DataDownloadError, match=r"web page \(HTML\).*\?dl=1") as info:
        _get(entry, tmp_path, retries=2)
    assert info.value.offline is False
    assert server.requests == ["/toy.zip"] and sleeps == []  # an HTML page is not retried
    assert os.listdir(tmp_path) == []


def test_complete_but_smaller_file_is_another_file_not_retried(server, tmp_path, sleeps):
    data = _zip_bytes(FILES)
    server.routes["/toy.zip"] = (200, {}, data[:100])  # Content-Length: 100, all sent
    entry = _entry(server.url("/toy.zip"), data)
    with pytest.raises(DataDownloadError, match=f"sent a complete file of 100 bytes, but the "
                       f"dataset's zip toy.zip is {len(data):,} bytes: the link may point to "
                       f"another file") as info:
        _get(entry, tmp_path, retries=2)
    assert "hub page https://example.org/hub" in str(info.value)
    assert info.value.offline is False and info.value.transient is False
    assert server.requests == ["/toy.zip"] and sleeps == []
    assert os.listdir(tmp_path) == []


def test_connection_dropped_mid_body_is_retried_then_reported(server, tmp_path, sleeps):
    data = _zip_bytes(FILES)
    server.routes["/toy.zip"] = (200, {"Content-Length": str(len(data))}, data[:50])
    entry = _entry(server.url("/toy.zip"), data)
    # (got 0 here: requests drops the part of its last 1 MiB chunk read before the cut)
    stopped = rf"stopped early: got \d+ of {len(data):,}"
    with pytest.raises(DataDownloadError, match=stopped) as info:
        _get(entry, tmp_path, retries=2)
    assert info.value.offline is False and info.value.transient is True
    assert server.requests == ["/toy.zip"] * 3 and sleeps == [1, 2]
    assert os.listdir(tmp_path) == []


def test_short_body_without_announced_length_counts_as_truncated(server, tmp_path, sleeps):
    data = _zip_bytes(FILES)
    server.routes["/toy.zip"] = (200, {"Content-Length": None}, data[:100])  # ends at close
    entry = _entry(server.url("/toy.zip"), data)
    with pytest.raises(DataDownloadError, match=f"stopped early: got 100 of {len(data):,}"):
        _get(entry, tmp_path, retries=1)
    assert server.requests == ["/toy.zip"] * 2 and sleeps == [1]


def test_mirror_is_used_when_main_link_serves_html(server, tmp_path):
    data = _zip_bytes(FILES)
    server.routes["/old.zip"] = (200, {}, b"<html>expired</html>")
    server.routes["/toy.zip"] = (200, {}, data)
    entry = _entry(server.url("/old.zip"), data, mirrors=(server.url("/toy.zip"),))
    folder = _get(entry, tmp_path)
    assert (folder / "a.tif").read_bytes() == FILES["a.tif"]
    assert server.requests == ["/old.zip", "/toy.zip"]


def test_corrupted_cached_file_is_reported_and_downloaded_again(server, tmp_path):
    data = _zip_bytes(FILES)
    server.routes["/toy.zip"] = (200, {}, data)
    entry = _entry(server.url("/toy.zip"), data)
    folder = _get(entry, tmp_path)
    target = folder / "b.tif"
    target.write_bytes(b"MM\x00*" + b"XYZ" * 1000)  # same size, different content
    st = target.stat()
    os.utime(target, ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))
    with pytest.warns(UserWarning, match=r"b.tif is corrupted"):
        _get(entry, tmp_path)
    assert target.read_bytes() == FILES["b.tif"]
    assert server.requests == ["/toy.zip"] * 2


def test_http_error_is_not_offline(server, tmp_path):
    entry = _entry(server.url("/gone.zip"), _zip_bytes(FILES))  # the server answers 404
    with pytest.raises(DataDownloadError, match="answered HTTP 404.*expired") as info:
        _get(entry, tmp_path, retries=2)
    assert info.value.offline is False and server.requests == ["/gone.zip"]  # not retried


def test_busy_server_is_retried(server, tmp_path):
    server.routes["/toy.zip"] = (503, {}, b"busy")
    entry = _entry(server.url("/toy.zip"), _zip_bytes(FILES))
    with pytest.raises(DataDownloadError, match="answered HTTP 503") as info:
        _get(entry, tmp_path, retries=1)
    assert info.value.offline is False and server.requests == ["/toy.zip"] * 2
    assert os.listdir(tmp_path) == []


def test_zip_already_in_the_cache_is_used_without_network(tmp_path):
    data = _zip_bytes(FILES)
    (tmp_path / "toy.zip").write_bytes(data)  # e.g. downloaded in a browser
    folder = _get(_entry(_closed_port_url(), data), tmp_path)  # pooch checks its MD5
    assert (folder / "b.tif").read_bytes() == FILES["b.tif"]
    assert sorted(os.listdir(tmp_path)) == ["toy_data"]


def test_bad_file_inside_a_good_zip_is_reported_and_removed(server, tmp_path):
    data = _zip_bytes({"a.tif": FILES["a.tif"], "b.tif": b"MM\x00*" + b"XYZ" * 1000})
    server.routes["/toy.zip"] = (200, {}, data)
    entry = _entry(server.url("/toy.zip"), data)  # the zip itself is as registered
    with pytest.raises(DataDownloadError, match=r"1 file unpacked from toy.zip is wrong and was "
                       r"removed: b.tif \(MD5 [0-9a-f]{32}, expected "):
        _get(entry, tmp_path)
    assert sorted(os.listdir(tmp_path)) == ["toy_data"]  # the zip is done with
    assert sorted(os.listdir(tmp_path / "toy_data")) == ["a.tif"]


def test_every_bad_file_inside_a_good_zip_is_named(server, tmp_path):
    data = _zip_bytes({"a.tif": b"II*\x00", "b.tif": b"MM\x00*" + b"XYZ" * 1000})
    server.routes["/toy.zip"] = (200, {}, data)
    entry = _entry(server.url("/toy.zip"), data)
    with pytest.raises(DataDownloadError) as info:
        _get(entry, tmp_path)
    msg = str(info.value)
    assert "2 files unpacked from toy.zip are wrong and were removed: " in msg
    assert f"a.tif (size 4 bytes, expected {len(FILES['a.tif']):,})" in msg
    assert "b.tif (MD5 " in msg
    assert os.listdir(tmp_path / "toy_data") == []


@pytest.mark.parametrize("error, expected", [
    (OSError(28, "No space left on device"), DataDownloadError),
    (KeyboardInterrupt(), KeyboardInterrupt),  # Ctrl-C while unpacking
])
def test_failed_unpacking_keeps_the_zip_for_the_next_try(server, tmp_path, monkeypatch, error,
                                                         expected):
    data = _zip_bytes(FILES)
    server.routes["/toy.zip"] = (200, {}, data)
    entry = _entry(server.url("/toy.zip"), data)

    def failing_extract(zip_path, target):
        raise error

    with monkeypatch.context() as patch:
        patch.setattr(fetch, "safe_extract", failing_extract)
        with pytest.raises(expected) as info:
            _get(entry, tmp_path)
    if expected is DataDownloadError:
        assert "No space left" in str(info.value) and "free disk space" in str(info.value)
        assert "toy.zip was kept" in str(info.value)
    assert os.listdir(tmp_path) == ["toy.zip"]
    assert (tmp_path / "toy.zip").read_bytes() == data
    server.stop()  # the retry needs no network: pooch finds the zip and checks its MD5
    folder = _get(entry, tmp_path)
    assert (folder / "b.tif").read_bytes() == FILES["b.tif"]
    assert sorted(os.listdir(tmp_path)) == ["toy_data"]  # unpacked and verified: zip deleted
    assert server.requests == ["/toy.zip"]


def test_unreadable_zip_is_deleted(tmp_path):
    data = b"PK" + b"\x00" * 100  # not a zip, but as registered (so pooch accepts it)
    (tmp_path / "toy.zip").write_bytes(data)
    with pytest.raises(DataDownloadError, match="could not unpack toy.zip"):
        _get(_entry(_closed_port_url(), data), tmp_path)
    assert os.listdir(tmp_path) == []


def _zip_with(name, data=b"x", *, symlink=False):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        info = zipfile.ZipInfo(name)
        if symlink:
            info.external_attr = (0o120777 << 16)
        zf.writestr(info, data)
    return buf.getvalue()


@pytest.mark.parametrize("name, symlink, reason", [
    ("../evil.txt", False, r"'\.\.'"),
    ("ok/../../evil.txt", False, r"'\.\.'"),
    ("/tmp/evil.txt", False, "absolute"),
    ("link", True, "symbolic link"),
])
def test_safe_extract_refuses_escaping_members(tmp_path, name, symlink, reason):
    archive = tmp_path / "evil.zip"
    archive.write_bytes(_zip_with(name, b"/etc/passwd" if symlink else b"x", symlink=symlink))
    target = tmp_path / "target"
    with pytest.raises(ValueError, match=reason):
        safe_extract(archive, target)
    assert sorted(os.listdir(tmp_path)) == ["evil.zip", "target"]
    assert os.listdir(target) == []


def test_zip_slip_in_a_download_is_refused(server, tmp_path):
    data = _zip_with("../outside.tif")
    server.routes["/toy.zip"] = (200, {}, data)
    root = tmp_path / "cache"
    with pytest.raises(DataDownloadError, match="refusing zip member"):
        _get(_entry(server.url("/toy.zip"), data), root)
    assert os.listdir(tmp_path) == ["cache"] and os.listdir(root) == []


def test_safe_extract_writes_nested_files(tmp_path):
    archive = tmp_path / "ok.zip"
    archive.write_bytes(_zip_bytes(FILES, folder="d/e"))
    written = safe_extract(archive, tmp_path / "t")
    assert written == [tmp_path / "t/d/e/a.tif", tmp_path / "t/d/e/b.tif"]
    assert (tmp_path / "t/d/e/b.tif").read_bytes() == FILES["b.tif"]
    # temporary files are written next to their final names: none may be left there
    assert os.listdir(tmp_path / "t") == ["d"] and os.listdir(tmp_path / "t/d") == ["e"]
    assert sorted(os.listdir(tmp_path / "t/d/e")) == ["a.tif", "b.tif"]


def test_data_dir_env_override(monkeypatch, tmp_path):
    monkeypatch.setenv("EMSEG_DATA_DIR", str(tmp_path / "mine"))
    assert data_dir() == tmp_path / "mine"
    assert make_pooch(DATASETS["platelet"], tmp_path / "given").path == tmp_path / "given"
    monkeypatch.delenv("EMSEG_DATA_DIR")
    assert data_dir() == pooch.os_cache("emseg")


def test_make_pooch_registers_the_zip_md5_and_url():
    entry = DATASETS["platelet"]
    pup = make_pooch(entry, "/nowhere", url=entry["mirrors"][0], retries=2)
    assert pup.registry == {"platelet_data_1219.zip": "md5:253310093ee2c00304fbabdb0c7e3a4a"}
    assert pup.get_url("platelet_data_1219.zip") == entry["mirrors"][0]
    assert pup.retry_if_failed == 2


def test_fetch_dataset_argument_checks(tmp_path):
    with pytest.raises(ValueError, match="unknown dataset 'lucky'; available: lucchi, lucchi_pp, "
                                         "platelet, vnc"):
        fetch_dataset("lucky", data_dir=tmp_path)
    with pytest.raises(ValueError, match="retries must be an integer >= 0"):
        fetch_dataset(data_dir=tmp_path, retries=-1)
    (tmp_path / "file").write_text("")
    with pytest.raises(ValueError, match="is a file"):
        fetch_dataset(data_dir=tmp_path / "file")


def test_fetch_dataset_uses_registry_cache_without_network(monkeypatch, tmp_path):
    """fetch_dataset('platelet') trusts a stamp matching the registry and touches nothing else."""
    entry = DATASETS["platelet"]
    folder = tmp_path / entry["folder"]
    folder.mkdir()
    for name in entry["files"]:
        (folder / name).write_bytes(b"")
    monkeypatch.setattr(fetch, "download_archive", lambda *a, **k: pytest.fail("network used"))
    (folder / fetch.STAMP_NAME).write_text(json.dumps(fetch._stamp(folder, entry)))
    assert fetch_dataset("platelet", data_dir=tmp_path, progress=False) == folder


def test_registry_entry_is_complete():
    entry = DATASETS["platelet"]
    assert entry["url"].endswith("platelet_data_1219.zip?dl=1")
    assert entry["md5"] == "253310093ee2c00304fbabdb0c7e3a4a" and entry["size"] == 188_671_885
    assert len(entry["files"]) == 7
    assert entry["files"]["test-images.tif"] == {
        "md5": "d3f296cbedb7c3240e6be0e9e7217f3a", "size": 58_974_368, "shape": (121, 609, 400)}
    assert sum(f["size"] for f in entry["files"].values()) == 411_603_376
    assert entry["voxel_size"] == (40.0, 10.0, 10.0)


def test_safe_extract_refuses_a_zip_bomb_before_writing(tmp_path):
    bomb = tmp_path / "bomb.zip"
    with zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("zeros.bin", b"\0" * (20 * 2 ** 20))  # 20 MB of zeros: ratio ~1000
    with pytest.raises(ValueError, match="compressed .* times"):
        safe_extract(bomb, tmp_path / "out")
    with pytest.raises(ValueError, match="more than the"):
        safe_extract(bomb, tmp_path / "out", max_bytes=2 ** 20, max_ratio=10 ** 6)
    assert not any((tmp_path / "out").iterdir())
    assert [p.name for p in safe_extract(bomb, tmp_path / "ok", max_ratio=10 ** 6)] == ["zeros.bin"]


def test_partial_downloads_are_removed_only_when_old_and_named_by_tempfile(tmp_path):
    old, fresh = tmp_path / "tmpab12cd_9", tmp_path / "tmpzz99yy00"
    kept = [tmp_path / "tmpnotours.zip", tmp_path / "data.zip", fresh]
    for p in (old, *kept):
        p.write_bytes(b"partial")
    os.utime(old, (0, 0))  # last written long ago: an interrupted download
    assert fetch.remove_partial_downloads(tmp_path) == [old]
    assert not old.exists() and all(p.exists() for p in kept)
