import pytest
import torch

from emseg.checkpoint import load_checkpoint, load_model, save_checkpoint, save_model
from emseg.models import Net2D3D, SegmentationNet


def test_save_and_load_model_round_trip(tmp_path):
    torch.manual_seed(0)
    net = Net2D3D(3, width=4, pyramid_width=4, faithful=True)
    path = save_model(net, tmp_path / "sub" / "net.pt", note="hello")
    again = load_model(path, device="cpu")
    assert again.faithful and again.spec() == net.spec()
    x = torch.randn(1, 1, 3, 24, 24)
    net.eval()
    with torch.no_grad():
        assert torch.equal(again(x)[0], net(x)[0])
    assert load_checkpoint(path)["note"] == "hello"
    assert [p.name for p in (tmp_path / "sub").iterdir()] == ["net.pt"]  # no temp files left


def test_not_a_checkpoint(tmp_path):
    (tmp_path / "junk.pt").write_bytes(b"not a zip")
    with pytest.raises(ValueError, match="not a readable PyTorch checkpoint"):
        load_checkpoint(tmp_path / "junk.pt")
    torch.save({"weights": torch.zeros(2)}, tmp_path / "plain.pt")
    with pytest.raises(ValueError, match="not an emseg checkpoint"):
        load_model(tmp_path / "plain.pt")
    with pytest.raises(FileNotFoundError, match="no checkpoint"):
        load_checkpoint(tmp_path / "missing.pt")
    with pytest.raises(ValueError, match="model_spec"):
        save_checkpoint({"model_state": {}}, tmp_path / "x.pt")


def test_custom_network_without_spec_is_explained():
    class Tiny(SegmentationNet):
        n_classes, in_channels, window_ndim, default_window = 2, 1, 2, (8, 8)

        def __init__(self):
            super().__init__()
            self.conv = torch.nn.Conv2d(1, 2, 1)

    with pytest.raises(ValueError, match="_spec_kwargs"):
        Tiny().spec()


def test_export_model_half_precision(tmp_path):
    from emseg.checkpoint import export_model, load_checkpoint, load_model, save_model
    from emseg.models import Net2D3D

    net = Net2D3D(7, width=4, pyramid_width=4)
    save_model(net, tmp_path / "full.pt", optimizer_state={"junk": 1})
    export_model(tmp_path / "full.pt", tmp_path / "half.pt", half=True, source={"seed": 3})
    ckpt = load_checkpoint(tmp_path / "half.pt")
    assert "optimizer_state" not in ckpt and ckpt["source"] == {"seed": 3}
    assert ckpt["stored_dtype"] == "float16"
    assert all(v.dtype == torch.float16 for v in ckpt["model_state"].values())
    size_full, size_half = ((tmp_path / f).stat().st_size for f in ("full.pt", "half.pt"))
    assert size_half < 0.6 * size_full
    loaded = load_model(tmp_path / "half.pt", device="cpu")
    for key, value in net.state_dict().items():
        got = loaded.state_dict()[key]
        assert got.dtype == torch.float32
        torch.testing.assert_close(got, value, rtol=2 ** -10, atol=1e-7)


def test_damaged_or_foreign_checkpoints_are_explained(tmp_path):
    from pathlib import Path

    from emseg.checkpoint import load_model, save_model
    from emseg.models import UNet2D
    net = UNet2D(2, width=2, depth=2, padding="same")
    state = net.state_dict()
    state.pop(next(iter(state)))
    torch.save({"model_spec": net.spec(), "model_state": state}, tmp_path / "missing.pt")
    with pytest.raises(ValueError, match="weights do not fit .* 1 weight\\(s\\) missing"):
        load_model(tmp_path / "missing.pt")
    torch.save({"model_spec": net.spec(), "model_state": Path("x")}, tmp_path / "objects.pt")
    with pytest.raises(ValueError, match="not an emseg network file"):
        load_model(tmp_path / "objects.pt")
    save_model(net, tmp_path / "good.pt")
    data = (tmp_path / "good.pt").read_bytes()
    (tmp_path / "cut.pt").write_bytes(data[:len(data) // 2])
    with pytest.raises(ValueError, match="cut.pt is not a readable PyTorch checkpoint"):
        load_model(tmp_path / "cut.pt")


def test_a_trained_network_predicts_with_its_training_window_everywhere(tmp_path):
    """One default for every prediction: the window a network was trained with (stored in
    its checkpoint, kept by save_model), whether the CLI, predict --config or the API
    loads it."""
    import numpy as np

    from emseg.cli import main
    from emseg.data import write_volume, zscore
    from emseg.infer import predict
    from emseg.models import UNet2D
    from emseg.train import TrainConfig, fit

    rng = np.random.default_rng(0)
    image = rng.normal(size=(2, 48, 48)).astype(np.float32)
    labels = (image > 0.5).astype(np.uint8)
    torch.manual_seed(0)
    net = UNet2D(2, width=2, depth=2, padding="same")
    cfg = TrainConfig(window=(32, 32), batch_size=1, iterations=2, eval_every=2, augment=None)
    fit(net, (image, labels), (image, labels), config=cfg, output_dir=tmp_path / "run",
        device="cpu", progress=False)
    best = load_model(tmp_path / "run" / "checkpoints" / "best.pt", device="cpu")
    assert best.default_window == (32, 32) and UNet2D(2, padding="same").default_window == (256, 256)
    save_model(best, tmp_path / "net.pt")
    again = load_model(tmp_path / "net.pt", device="cpu")
    assert again.default_window == (32, 32)
    write_volume(tmp_path / "in.tif", image)
    assert main(["predict", "--model", str(tmp_path / "net.pt"), "--input", str(tmp_path / "in.tif"),
                 "--output", str(tmp_path / "out.tif"), "--probabilities", str(tmp_path / "p.tif"),
                 "--quiet", "--device", "cpu"]) == 0
    expected = predict(again, zscore(image), window=(32, 32), output="probabilities", progress=False)
    import tifffile
    np.testing.assert_allclose(tifffile.imread(tmp_path / "p.tif"), expected, atol=1e-5)
    other = predict(again, zscore(image), window=(48, 48), output="probabilities", progress=False)
    assert not np.allclose(other, expected, atol=1e-5)  # the window does change the result
