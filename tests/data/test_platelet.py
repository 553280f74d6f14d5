"""Tests of emseg.data.datasets.platelet: real label files, source selection and the loud fallback."""
import hashlib

import numpy as np
import pytest
import tifffile

from emseg.data.datasets import platelet
from emseg.data.fetch import DataDownloadError
from emseg.data.datasets.platelet import (CLASS_NAMES, N_CLASSES, ORGANELLE_CLASSES, SyntheticDataWarning,
                                 load_platelet, read_platelet_labels)
from emseg.data.registry import DATASETS
from emseg.data._volume import Volume

FILES = DATASETS["platelet"]["files"]


def _md5(path):
    return hashlib.md5(path.read_bytes()).hexdigest()


def test_constants():
    assert len(CLASS_NAMES) == N_CLASSES == 7
    assert CLASS_NAMES[2] == "mitochondrion" and CLASS_NAMES[6] == "dense granule core"
    assert ORGANELLE_CLASSES == (2, 3, 4, 5, 6)


@pytest.mark.parametrize("name", ["train-labels.tif", "eval-labels.tif", "test-labels.tif"])
def test_shared_label_files_match_registry_md5_and_size(shared_data, name):
    path = shared_data / "platelet" / name
    assert path.stat().st_size == FILES[name]["size"]
    assert _md5(path) == FILES[name]["md5"]


@pytest.mark.parametrize("name", ["eval-labels.tif", "test-labels.tif"])
def test_read_real_labels(shared_data, name):
    labels = read_platelet_labels(shared_data / "platelet" / name)
    assert labels.dtype == np.uint8
    assert labels.shape == FILES[name]["shape"]
    assert set(np.unique(labels).tolist()) == set(range(7))  # every class occurs in each split


def test_read_labels_rejects_out_of_range_and_non_tiff(tmp_path):
    tifffile.imwrite(tmp_path / "bad.tif", np.array([[[0, 3], [7, 1]]], np.uint16))
    with pytest.raises(ValueError, match=r"values must be in 0..6, found 0..7.*platelet label"):
        read_platelet_labels(tmp_path / "bad.tif")
    (tmp_path / "page.tif").write_bytes(b"<html>not a tiff</html>")
    with pytest.raises(ValueError, match="is not a TIFF file"):
        read_platelet_labels(tmp_path / "page.tif")
    tifffile.imwrite(tmp_path / "ok.tif", np.array([[[0, 6], [5, 1]]], np.uint16))
    assert read_platelet_labels(tmp_path / "ok.tif").tolist() == [[[0, 6], [5, 1]]]


@pytest.mark.parametrize("kwargs, match", [
    ({"split": "val"}, "unknown split 'val'; choose one of train, eval, test"),
    ({"split": "train", "source": "synthetic"},
     "unknown source 'synthetic'; choose one of auto, real, phantom"),
    ({"split": "eval", "source": "real", "shape": (4, 8, 8)}, "shape only sets the size"),
])
def test_bad_arguments(kwargs, match):
    split = kwargs.pop("split")
    with pytest.raises(ValueError, match=match):
        load_platelet(split, **kwargs)


@pytest.fixture
def fake_phantom(monkeypatch):
    """Replace the phantom generator by a recorder returning a tiny synthetic Volume."""
    calls = []

    def platelet_phantom(split="train", *, seed=0, shape=None):
        calls.append((split, seed, shape))
        return Volume(image=np.zeros((2, 3, 3), np.float32), labels=np.zeros((2, 3, 3), np.uint8),
                      source="phantom", name=split)

    monkeypatch.setattr(platelet, "platelet_phantom", platelet_phantom)
    return calls


def _offline(*args, **kwargs):
    raise DataDownloadError("could not reach www.dropbox.com", offline=True, url="https://x")


def _bad_checksum(*args, **kwargs):
    raise DataDownloadError("eval-images.tif has MD5 0000", offline=False)


def test_auto_falls_back_loudly_when_host_unreachable(monkeypatch, fake_phantom, capsys, tmp_path):
    monkeypatch.setattr(platelet, "fetch_dataset", _offline)
    with pytest.warns(SyntheticDataWarning, match="SYNTHETIC phantom data"):
        vol = load_platelet("eval", data_dir=tmp_path, seed=3, shape=(2, 3, 3))
    assert vol.synthetic and vol.name == "eval"
    assert fake_phantom == [("eval", 3, (2, 3, 3))]
    err = capsys.readouterr().err
    assert "SYNTHETIC" in err and "NOT on the real platelet data" in err
    assert str(tmp_path / "platelet_data") in err and "?dl=1" in err


def test_auto_does_not_hide_other_errors(monkeypatch, fake_phantom):
    monkeypatch.setattr(platelet, "fetch_dataset", _bad_checksum)
    with pytest.raises(DataDownloadError, match="MD5"):
        load_platelet("eval")
    assert fake_phantom == []


def test_platelet_source_never_falls_back(monkeypatch, fake_phantom):
    monkeypatch.setattr(platelet, "fetch_dataset", _offline)
    with pytest.raises(DataDownloadError, match="could not reach") as info:
        load_platelet("test", source="real")
    assert info.value.offline and fake_phantom == []


def test_phantom_source_never_fetches(monkeypatch, fake_phantom, recwarn):
    monkeypatch.setattr(platelet, "fetch_dataset", lambda *a, **k: pytest.fail("fetch called"))
    vol = load_platelet("train", source="phantom", seed=1)
    assert vol.source == "phantom" and fake_phantom == [("train", 1, None)]
    assert not [w for w in recwarn if issubclass(w.category, SyntheticDataWarning)]


def test_real_loader_reads_a_fetched_folder(monkeypatch, tmp_path):
    """The real path with a tiny stand-in folder: z-scored image, uint8 labels, float32 weights."""
    image = np.arange(2 * 3 * 5, dtype=np.uint16).reshape(2, 3, 5)
    labels = (np.arange(30).reshape(2, 3, 5) % 7).astype(np.uint16)
    weights = np.linspace(0, 25, 30).reshape(2, 3, 5)  # float64, like the original file
    for name, arr in [("images", image), ("labels", labels), ("error-weights", weights)]:
        tifffile.imwrite(tmp_path / f"train-{name}.tif", arr, photometric="minisblack")
    monkeypatch.setattr(platelet, "fetch_dataset", lambda name, data_dir=None: tmp_path)
    vol = load_platelet("train", source="real")
    assert vol.source == "platelet" and not vol.synthetic and vol.voxel_size == (40.0, 10.0, 10.0)
    assert vol.image.dtype == np.float32 and abs(float(vol.image.mean())) < 1e-6
    assert float(vol.image.std()) == pytest.approx(1.0, abs=1e-5)
    assert vol.labels.dtype == np.uint8 and vol.labels[1, 2, 4] == 29 % 7
    assert vol.weights.dtype == np.float32 and vol.weights[1, 2, 4] == pytest.approx(25.0)


def test_render_real_geometry_is_a_centre_crop_with_a_rendered_image(tmp_path):
    from emseg.data import write_volume
    from emseg.data.datasets.platelet import render_real_geometry

    rng = np.random.default_rng(0)
    labels = rng.integers(0, 7, size=(10, 40, 50), dtype=np.uint8)
    path = tmp_path / "train-labels.tif"
    write_volume(path, labels)
    vol = render_real_geometry(path, crop=(4, 20, 30), seed=3, weights=True)
    np.testing.assert_array_equal(vol.labels, labels[3:7, 10:30, 10:40])
    assert vol.image.shape == (4, 20, 30) and vol.image.dtype == np.float32
    assert abs(float(vol.image.mean())) < 1e-3 and vol.weights.shape == (4, 20, 30)
    assert vol.source == "real-geometry" and vol.name == "train"
    again = render_real_geometry(path, crop=(4, 20, 30), seed=3)
    np.testing.assert_array_equal(again.image, vol.image)
    assert again.weights is None
    big = render_real_geometry(path, crop=(99, 99, 99))
    assert big.labels.shape == labels.shape
    with pytest.raises(ValueError, match="three positive sizes"):
        render_real_geometry(path, crop=(0, 10, 10))


def test_splits_never_mix_real_and_synthetic(monkeypatch, fake_phantom, tmp_path):
    from emseg.data import load_platelet_splits

    monkeypatch.setattr(platelet, "fetch_dataset", _offline)
    with pytest.warns(SyntheticDataWarning):  # once, for the first split
        vols = load_platelet_splits(("train", "eval", "test"), data_dir=tmp_path, seed=3,
                                    shape=(2, 3, 3))
    assert [v.name for v in vols] == ["train", "eval", "test"] and all(v.synthetic for v in vols)
    assert fake_phantom == [("train", 3, (2, 3, 3)), ("eval", 3, (2, 3, 3)), ("test", 3, (2, 3, 3))]
    monkeypatch.setattr(platelet, "fetch_dataset", lambda *a, **k: pytest.fail("fetched"))
    (one,) = load_platelet_splits("eval", source="phantom", shape=(2, 3, 3))
    assert one.name == "eval"
    with pytest.raises(ValueError, match="splits is empty"):
        load_platelet_splits(())
