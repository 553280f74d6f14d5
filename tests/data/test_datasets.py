import io
import re
import zipfile

import numpy as np
import pooch
import pytest
import tifffile

from emseg.data.datasets import (VNC_CLASS_NAMES, VNC_LABEL_VALUES, fetch_lucchi, fetch_lucchi_pp,
                                 load_lucchi, load_lucchi_pp, load_vnc, lucchi)
from emseg.data.datasets._common import read_png_stack
from emseg.data.fetch import DataDownloadError
from emseg.data.registry import DATASETS, ENTRY_KEYS, LUCCHI, LUCCHI_PP, VNC
from emseg.data.datasets.platelet import SyntheticDataWarning


# --------------------------------------------------------------------------- registry

EM_DATASETS = {name: DATASETS[name] for name in ("lucchi", "lucchi_pp", "vnc")}


@pytest.mark.parametrize("name", sorted(EM_DATASETS))
def test_registry_entries_are_complete(name):
    entry = EM_DATASETS[name]
    assert set(ENTRY_KEYS) <= set(entry) and entry["kind"] == "dataset"
    for key in ("url", "homepage"):
        assert entry[key] is None or re.match(r"https?://\S+$", entry[key]), key
    for key, size in (("md5", 32), ("sha256", 64)):
        assert entry[key] is None or re.fullmatch(f"[0-9a-f]{{{size}}}", entry[key]), key
    assert entry["citation"] and entry["folder"] and entry["files"]
    assert len(entry["voxel_size"]) == 3 and entry["n_classes"] == 2


def test_lucchi_entry():
    assert LUCCHI["splits"] == {"train": ("training.tif", "training_groundtruth.tif"),
                                "test": ("testing.tif", "testing_groundtruth.tif")}
    for name, spec in LUCCHI["files"].items():
        assert spec["size"] == 129_919_357 and spec["shape"] == (165, 768, 1024)
        assert spec["url"] == ("https://documents.epfl.ch/groups/c/cv/cvlab-unit/www/data/"
                               "%20ElectronMicroscopy_Hippocampus/" + name)
    assert LUCCHI["md5"] is None and LUCCHI["sha256"] is None  # only a torrent infohash exists
    assert LUCCHI["torrent_infohash"] == "3ada3ae6ec71097e63d897cf878051bba3eaba25"


def test_lucchi_pp_entry_keeps_the_splits_unswapped():
    assert LUCCHI_PP["splits"] == {"train": ("Train_In", "Train_Out"),
                                   "test": ("Test_In", "Test_Out")}
    assert LUCCHI_PP["sha256"] == "770ce9e98fc6f29c1b1a250c637e6c5125f2b5f1260e5a7687b55a79e2e8844d"
    assert LUCCHI_PP["url"] == "http://www.casser.io/files/lucchi_pp.zip"


def test_vnc_entry():
    assert VNC["url"] is None and VNC["license"].startswith("CC BY-NC-SA 3.0")
    raw = [k for k in VNC["files"] if k.startswith("stack1/raw/")]
    assert len(raw) == 20 and all(VNC["files"][k]["size"] == 1_048_734 for k in raw)
    assert len(VNC_LABEL_VALUES) == len(VNC_CLASS_NAMES) == 9


# --------------------------------------------------------------------------- VNC (real data)

@pytest.fixture(scope="module")
def vnc_dir(shared_data):
    folder = shared_data / "vnc"
    if not (folder / "stack1").is_dir():
        pytest.skip(f"no VNC stack in {folder}")
    return folder


def test_shared_vnc_files_match_the_registry(vnc_dir):
    for name, spec in VNC["files"].items():
        path = vnc_dir / name
        if "size" in spec:
            assert path.stat().st_size == spec["size"], name
        if "total_size" in spec:
            assert sum(p.stat().st_size for p in path.glob("*.png")) == spec["total_size"]
        if "count" in spec:
            assert len(list(path.iterdir())) == spec["count"], name


def test_load_vnc_mitochondria(vnc_dir):
    vol = load_vnc(path=vnc_dir)
    assert vol.shape == (20, 1024, 1024) and vol.source == "vnc" and not vol.synthetic
    assert vol.image.dtype == np.float32 and abs(float(vol.image.mean())) < 1e-3
    assert vol.labels.dtype == np.uint8 and set(np.unique(vol.labels)) == {0, 1}
    assert 0.01 < vol.labels.mean() < 0.2
    assert vol.voxel_size == (47.5, 4.6, 4.6)


def test_vnc_masks_of_1bit_and_8bit_pngs_are_all_read(vnc_dir):
    """Sections 1, 7 and 18 of mitochondria/ are 1-bit PNGs among 8-bit ones (and 19 of 20
    synapse masks): stacked naively their foreground (1) fell under the > 127 threshold."""
    merged = load_vnc(path=vnc_dir, target="labels")
    mito = load_vnc(path=vnc_dir)
    for k in range(20):  # the masks and the merged label 191 agree in every section
        a, b = mito.labels[k] == 1, merged.labels[k] == 6
        assert a.any() and (a & b).sum() / (a | b).sum() > 0.98, k
    synapses = load_vnc(path=vnc_dir, target="synapses")
    assert (synapses.labels.mean(axis=(1, 2)) > 0).sum() >= 15


def test_load_vnc_targets_and_sections(vnc_dir):
    merged = load_vnc(path=vnc_dir, target="labels", sections=slice(0, 2))
    assert merged.shape == (2, 1024, 1024)
    assert set(np.unique(merged.labels)) == set(range(9))
    ecs = load_vnc(path=vnc_dir, target="extracellular", sections=slice(0, 2))
    np.testing.assert_array_equal(ecs.labels, merged.labels == 5)  # value 159
    mito = load_vnc(path=vnc_dir, sections=[1])  # a 1-bit PNG: its mitochondria are read
    a, b = mito.labels[0] == 1, merged.labels[1] == 6  # value 191
    assert (a & b).sum() / (a | b).sum() > 0.98
    membranes = load_vnc(path=vnc_dir, target="membranes", sections=[0])
    assert 0.05 < membranes.labels.mean() < 0.5
    stack2 = load_vnc(path=vnc_dir, stack=2, sections=slice(18, None))
    assert stack2.shape == (2, 1024, 1024) and stack2.labels is None


def test_vnc_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="groundtruth-drosophila-vnc"):
        load_vnc(path=tmp_path)
    with pytest.raises(ValueError, match="unknown target"):
        load_vnc(target="neurons")
    with pytest.raises(ValueError, match="stack must be"):
        load_vnc(stack=3)
    with pytest.raises(ValueError, match="shape only sets"):
        load_vnc(shape=(4, 32, 32))
    (tmp_path / "stack1" / "raw").mkdir(parents=True)
    for k in range(3):
        tifffile.imwrite(tmp_path / "stack1" / "raw" / f"{k:02d}.tif", np.zeros((8, 8), np.uint8))
    with pytest.raises(ValueError, match="selects none"):
        load_vnc(path=tmp_path, sections=slice(5, 9))


def test_vnc_phantom():
    vol = load_vnc(source="phantom", shape=(4, 32, 32))
    assert vol.synthetic and vol.shape == (4, 32, 32) and vol.labels.dtype == np.uint8


# --------------------------------------------------------------------------- Lucchi, Lucchi++

def test_lucchi_reads_a_fetched_folder(monkeypatch, tmp_path):
    image = np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4)
    labels = np.where(image % 2, 255, 0).astype(np.uint8)
    for name in LUCCHI["files"]:
        monkeypatch.setitem(LUCCHI["files"][name], "shape", (2, 3, 4))
    tifffile.imwrite(tmp_path / "training.tif", image, photometric="minisblack")
    tifffile.imwrite(tmp_path / "training_groundtruth.tif", labels, photometric="minisblack")
    monkeypatch.setattr(lucchi, "fetch_lucchi", lambda data_dir=None: tmp_path)
    vol = load_lucchi("train", source="real")
    assert vol.source == "lucchi" and vol.name == "train" and vol.voxel_size == (5.0, 5.0, 5.0)
    np.testing.assert_array_equal(vol.labels, image % 2)
    monkeypatch.setitem(LUCCHI["files"]["training.tif"], "shape", (165, 768, 1024))
    with pytest.raises(ValueError, match=r"expected \(165, 768, 1024\)"):
        load_lucchi("train", source="real")


def _png_split(folder, value, n, *, rgba):
    from skimage.io import imsave
    (folder / "In").mkdir(parents=True)
    (folder / "Out").mkdir()
    for k in range(n):  # natural order matters: 10.png after 9.png
        raw = np.full((6, 8), value + k, np.uint8)
        imsave(folder / "In" / f"mask{k:04d}.png", raw, check_contrast=False)
        mask = np.zeros((6, 8), np.uint8)
        mask[:, :k % 8] = 255
        lab = np.dstack([mask] * 4) if rgba else mask
        imsave(folder / "Out" / f"{k}.png", lab, check_contrast=False)


def test_lucchi_pp_splits_are_not_swapped(monkeypatch, tmp_path):
    for split, value, n, rgba in (("Train", 10, 12, True), ("Test", 100, 11, False)):
        _png_split(tmp_path / split, value, n, rgba=rgba)
        (tmp_path / split / "In").rename(tmp_path / f"{split}_In")
        (tmp_path / split / "Out").rename(tmp_path / f"{split}_Out")
    monkeypatch.setattr(lucchi, "fetch_lucchi_pp", lambda data_dir=None: tmp_path)
    train, test = load_lucchi_pp("train", source="real"), load_lucchi_pp("test", source="real")
    assert train.shape == (12, 6, 8) and test.shape == (11, 6, 8)  # Train_* is "train"
    assert train.source == "lucchi_pp"
    assert np.all(np.diff(train.image[:, 0, 0]) > 0)  # slice k holds value + k: natural order
    for vol in (train, test):  # RGBA (train) and grey (test) masks
        n = vol.shape[0]
        assert [int(vol.labels[k].sum()) for k in range(n)] == [6 * (k % 8) for k in range(n)]
    raw_train = read_png_stack(tmp_path / "Train_In")
    assert raw_train[0, 0, 0] == 10 and raw_train[11, 0, 0] == 21


def _zip_bytes():
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for sub in LUCCHI_PP["files"]:
            zf.writestr(f"Lucchi++/{sub}/0.png", b"\x89PNG fake")
    return buf.getvalue()


def test_fetch_lucchi_pp_checks_the_sha256(server, tmp_path, monkeypatch):
    body = _zip_bytes()
    server.routes["/lucchi_pp.zip"] = (200, {}, body)
    monkeypatch.setitem(LUCCHI_PP, "url", server.url("/lucchi_pp.zip"))
    with pytest.raises(DataDownloadError, match="has SHA-256 .* was published; the file was "
                                                "removed") as info:
        fetch_lucchi_pp(data_dir=tmp_path, progress=False, retries=0)
    assert not info.value.offline and not (tmp_path / "lucchi_pp.zip").exists()
    tmp = tmp_path / "probe.zip"
    tmp.write_bytes(body)
    monkeypatch.setitem(LUCCHI_PP, "sha256", pooch.file_hash(str(tmp), alg="sha256"))
    folder = fetch_lucchi_pp(data_dir=tmp_path, progress=False, retries=0)
    assert folder == tmp_path / "Lucchi++" and (folder / "Test_Out" / "0.png").is_file()
    assert not (tmp_path / "lucchi_pp.zip").exists()  # unpacked and removed
    requests = len(server.requests)
    assert fetch_lucchi_pp(data_dir=tmp_path, progress=False) == folder
    assert len(server.requests) == requests  # the cache is used, no network


def test_fetch_lucchi_checks_sizes_and_reuses_files(server, tmp_path, monkeypatch):
    for name in LUCCHI["files"]:
        server.routes[f"/{name}"] = (200, {}, b"II*\x00" + name.encode())
        monkeypatch.setitem(LUCCHI["files"][name], "url", server.url(f"/{name}"))
        monkeypatch.setitem(LUCCHI["files"][name], "size", 4 + len(name))
    folder = fetch_lucchi(data_dir=tmp_path, progress=False, retries=0)
    assert sorted(p.name for p in folder.iterdir()) == sorted(LUCCHI["files"])
    requests = len(server.requests)
    assert fetch_lucchi(data_dir=tmp_path, progress=False) == folder
    assert len(server.requests) == requests
    monkeypatch.setitem(LUCCHI["files"]["testing.tif"], "size", 10_000)  # the server's is smaller
    with pytest.raises(DataDownloadError, match="complete file of 15 bytes"):
        fetch_lucchi(data_dir=tmp_path, progress=False, retries=0)


# --------------------------------------------------------------------------- sources

def _offline(*args, **kwargs):
    raise DataDownloadError("could not reach documents.epfl.ch", offline=True, url="https://x")


def _bad(*args, **kwargs):
    raise DataDownloadError("has SHA-256 0000", offline=False)


@pytest.mark.parametrize("loader, fetcher", [(load_lucchi, "fetch_lucchi"),
                                             (load_lucchi_pp, "fetch_lucchi_pp")])
def test_sources(monkeypatch, capsys, loader, fetcher):
    monkeypatch.setattr(lucchi, fetcher, _offline)
    with pytest.warns(SyntheticDataWarning, match="SYNTHETIC phantom data"):
        vol = loader("test", shape=(4, 32, 32))
    assert vol.synthetic and vol.name == "test" and vol.shape == (4, 32, 32)
    assert "NOT on the real" in capsys.readouterr().err
    with pytest.raises(DataDownloadError, match="could not reach"):
        loader("test", source="real")
    monkeypatch.setattr(lucchi, fetcher, _bad)
    with pytest.raises(DataDownloadError, match="SHA-256"):
        loader("test")  # auto: only an unreachable host falls back
    monkeypatch.setattr(lucchi, fetcher, lambda *a, **k: pytest.fail("fetched"))
    phantom = loader("train", source="phantom", shape=(4, 32, 32), seed=1)
    assert phantom.synthetic and set(np.unique(phantom.labels)) <= {0, 1}


@pytest.mark.parametrize("kwargs, match", [
    (dict(split="eval"), "unknown split"),
    (dict(split="train", source="lucchi"), "unknown source"),
    (dict(split="train", source="real", shape=(4, 32, 32)), "shape only sets"),
])
def test_bad_arguments(kwargs, match):
    for loader in (load_lucchi, load_lucchi_pp):
        with pytest.raises(ValueError, match=match):
            loader(**dict(kwargs))


def test_fetch_lucchi_failure_says_what_to_do(server, tmp_path, monkeypatch):
    name = "training.tif"
    monkeypatch.setitem(LUCCHI["files"][name], "url", server.url("/gone.tif"))  # HTTP 404
    with pytest.raises(DataDownloadError, match=r"HTTP 404 .* and save it into") as info:
        fetch_lucchi(data_dir=tmp_path, progress=False, retries=0)
    assert "unzip" not in str(info.value) and not info.value.offline
