"""Tests of emseg.pretrained with zips laid out like the published ones, served locally."""
import hashlib
import io
import zipfile

import numpy as np
import pytest
import torch

from emseg import pretrained
from emseg.checkpoint import load_checkpoint
from emseg.cli import main
from emseg.data import DataDownloadError
from emseg.models import Net2D3D
from emseg.pretrained import ORIGINAL_ENSEMBLE, PRETRAINED, fetch_pretrained, load_pretrained



def _net(seed):
    torch.manual_seed(seed)
    return Net2D3D(7, width=4, pyramid_width=4, faithful=True).eval()


def _published_zip(tmp_path, writers, *, best=None, last=None, name="2d3d-3x3x3_0"):
    """A zip like ``2d3d-3x3x3_N.zip``: pickles, history and model/checkpoints/{best,last}."""
    tf_checkpoint, genenet_tf_tensors = writers
    folder = tmp_path / "make" / name
    folder.mkdir(parents=True, exist_ok=True)
    if best is not None:
        tf_checkpoint(folder / "model/checkpoints/best/model.ckpt-41000", genenet_tf_tensors(best))
    if last is not None:
        tf_checkpoint(folder / "model/checkpoints/last/model.ckpt-50000", genenet_tf_tensors(last))
    (folder / "gene_graph.pkl").write_bytes(b"\x80\x04not to be unpickled")
    (folder / "file_history.json").write_text("{}")
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for path in sorted(folder.rglob("*")):
            if path.is_file():
                zf.write(path, path.relative_to(folder.parent).as_posix())
    return buf.getvalue()


@pytest.fixture
def writers(tf_checkpoint, genenet_tensors):
    return tf_checkpoint, genenet_tensors


@pytest.fixture
def served(server, monkeypatch):
    """Point the first pretrained entry at the local server; return a function to serve a zip."""
    entry = dict(PRETRAINED["2d3d-3x3x3_0"], url=server.url("/2d3d-3x3x3_0.zip?dl=1"))
    monkeypatch.setitem(PRETRAINED, "2d3d-3x3x3_0", entry)

    def serve(data):
        server.routes["/2d3d-3x3x3_0.zip?dl=1"] = (200, {}, data)
    return serve


def test_registry_lists_the_four_published_nets():
    assert ORIGINAL_ENSEMBLE == tuple(f"2d3d-3x3x3_{i}" for i in range(4))
    for i, name in enumerate(ORIGINAL_ENSEMBLE):
        entry = PRETRAINED[name]
        assert entry["url"].startswith("https://www.dropbox.com/s/")
        assert entry["url"].endswith(f"/2d3d-3x3x3_{i}.zip?dl=1")
        assert entry["kind"] == "weights" and entry["format"] == "tf-genenet"
        assert entry["md5"] is None  # none published


def test_fetch_converts_best_then_works_offline(served, server, tmp_path, writers):
    best, last = _net(1), _net(2)
    data = _published_zip(tmp_path, writers, best=best, last=last)
    served(data)
    path = fetch_pretrained("2d3d-3x3x3_0", data_dir=tmp_path / "cache", progress=False)
    assert path == tmp_path / "cache" / "weights" / "2d3d-3x3x3_0.pt"
    assert sorted(p.name for p in path.parent.iterdir()) == [  # zip, unpack gone
        "2d3d-3x3x3_0.pt", "trusted-sha256.json"]
    ckpt = load_checkpoint(path)
    assert ckpt["source"]["zip_sha256"] == hashlib.sha256(data).hexdigest()
    conversion = ckpt["source"]["conversion"]
    assert conversion["global_step"] == 2500
    assert conversion["checkpoint"].endswith("checkpoints/best/model.ckpt-41000")
    model = load_pretrained("2d3d-3x3x3_0", data_dir=tmp_path / "cache", device="cpu")
    for key, value in best.state_dict().items():
        torch.testing.assert_close(model.state_dict()[key], value, rtol=0, atol=0)
    server.stop()  # a cache hit needs no network
    assert fetch_pretrained("2d3d-3x3x3_0", data_dir=tmp_path / "cache") == path


def test_a_changed_zip_on_a_later_download_is_refused(served, tmp_path, writers):
    first = _published_zip(tmp_path, writers, best=_net(1))
    served(first)
    path = fetch_pretrained("2d3d-3x3x3_0", data_dir=tmp_path / "cache", progress=False)
    path.unlink()  # a later download: the converted file was deleted
    served(_published_zip(tmp_path, writers, best=_net(3)))  # the server now sends another zip
    with pytest.raises(DataDownloadError, match="SHA-256 .* first downloaded"):
        fetch_pretrained("2d3d-3x3x3_0", data_dir=tmp_path / "cache", progress=False)
    assert sorted(p.name for p in path.parent.iterdir()) == ["trusted-sha256.json"]
    served(first)  # the trusted content again: accepted
    assert fetch_pretrained("2d3d-3x3x3_0", data_dir=tmp_path / "cache", progress=False) == path


def test_zip_without_checkpoint_is_reported_and_removed(served, tmp_path, writers):
    served(_published_zip(tmp_path, writers))
    with pytest.raises(DataDownloadError, match="could not be unpacked: the zip holds no "
                                                "TensorFlow checkpoint"):
        fetch_pretrained("2d3d-3x3x3_0", data_dir=tmp_path / "cache", progress=False)
    assert not any((tmp_path / "cache" / "weights").iterdir())


def test_damaged_checkpoint_in_zip_is_reported(served, tmp_path, writers):
    data = bytearray(_published_zip(tmp_path, writers, best=_net(1)))
    # store the zip uncompressed so that a byte of a tensor can be flipped in place
    src = zipfile.ZipFile(io.BytesIO(bytes(data)))
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_STORED) as zf:
        for info in src.infolist():
            content = src.read(info)
            if ".data-" in info.filename:
                content = bytearray(content)
                content[7] ^= 0xFF
                content = bytes(content)
            zf.writestr(info.filename, content)
    served(buf.getvalue())
    with pytest.raises(DataDownloadError, match="could not be converted: .*CRC32C"):
        fetch_pretrained("2d3d-3x3x3_0", data_dir=tmp_path / "cache", progress=False)
    assert not (tmp_path / "cache" / "weights" / "2d3d-3x3x3_0.pt").exists()


def test_unreachable_host_says_offline(monkeypatch, tmp_path):
    entry = dict(PRETRAINED["2d3d-3x3x3_1"], url="http://127.0.0.1:9/2d3d-3x3x3_1.zip?dl=1")
    monkeypatch.setitem(PRETRAINED, "2d3d-3x3x3_1", entry)
    with pytest.raises(DataDownloadError) as err:
        fetch_pretrained("2d3d-3x3x3_1", data_dir=tmp_path, progress=False, retries=0)
    assert err.value.offline


def test_unknown_names_and_paths(tmp_path):
    with pytest.raises(ValueError, match="unknown pretrained network 'nope'"):
        fetch_pretrained("nope")
    with pytest.raises(FileNotFoundError, match="neither a pretrained network"):
        load_pretrained(str(tmp_path / "missing.pt"))


def test_cli_convert_zip_and_refuse_to_overwrite(tmp_path, writers, capsys):
    best = _net(3)
    zip_path = tmp_path / "2d3d-3x3x3_0.zip"
    zip_path.write_bytes(_published_zip(tmp_path, writers, best=best))
    out = tmp_path / "net.pt"
    assert main(["convert", str(zip_path), "--output", str(out)]) == 0
    assert "converted 66 tensors (scope 2D3D, step 2500" in capsys.readouterr().out
    model = load_pretrained(str(out), device="cpu")
    x = torch.randn(1, 1, 3, 20, 20)
    with torch.no_grad():
        torch.testing.assert_close(model(x)[0], best(x)[0], rtol=0, atol=0)
    assert main(["convert", str(zip_path), "--output", str(out)]) == 1
    assert "exists; pass --overwrite" in capsys.readouterr().err
    ckpt_folder = tmp_path / "make" / "2d3d-3x3x3_0" / "model" / "checkpoints" / "best"
    assert main(["convert", str(ckpt_folder), "--output", str(out), "--overwrite"]) == 0


def test_cli_predict_accepts_a_converted_net(tmp_path):
    from emseg.checkpoint import save_model
    from emseg.data import read_volume, write_volume

    save_model(_net(4), tmp_path / "net.pt")
    write_volume(tmp_path / "img.tif", np.random.default_rng(0).normal(size=(3, 24, 24))
                 .astype(np.float32))
    assert main(["predict", "--model", str(tmp_path / "net.pt"), "--input",
                 str(tmp_path / "img.tif"), "--output", str(tmp_path / "lab.tif"), "--quiet",
                 "--device", "cpu"]) == 0
    labels = read_volume(tmp_path / "lab.tif")
    assert labels.shape == (3, 24, 24) and labels.max() < 7


def test_bundled_phantom_nets_ship_small_and_load():
    from emseg.pretrained import BUNDLED_DIR, PHANTOM_ENSEMBLE

    assert PHANTOM_ENSEMBLE == tuple(f"phantom-2d3d_{i}" for i in range(4))
    for name in PHANTOM_ENSEMBLE:
        entry = PRETRAINED[name]
        path = fetch_pretrained(name)
        assert path == BUNDLED_DIR / entry["file"]
        assert path.stat().st_size < 2_000_000  # the limit per net
        assert "SYNTHETIC" in entry["description"] and "--seed" in entry["command"]
        ckpt = load_checkpoint(path)
        assert ckpt["stored_dtype"] == "float16"
        model = load_pretrained(name, device="cpu")
        assert isinstance(model, Net2D3D) and model.width == 16
        x = torch.zeros(1, 1, 5, 32, 32)
        with torch.no_grad():
            assert model(x)[0].dtype == torch.float32


def test_missing_bundled_file_says_how_to_make_it(monkeypatch, tmp_path):
    monkeypatch.setattr(pretrained, "BUNDLED_DIR", tmp_path)
    with pytest.raises(FileNotFoundError, match="python -m emseg train --model net2d3d"):
        fetch_pretrained("phantom-2d3d_2")
