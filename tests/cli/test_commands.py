"""The commands end to end through :func:`emseg.cli.main`: help, phantom -> predict ->
evaluate, training on one's own TIFFs (and resuming), one-line errors."""
import numpy as np
import pytest
import tifffile
import torch

from emseg.checkpoint import save_model
from emseg.cli import main
from emseg.models import UNet2D


@pytest.mark.parametrize("command", ["fetch", "phantom", "train", "predict", "evaluate", "demo"])
def test_every_command_has_help(command, capsys):
    with pytest.raises(SystemExit) as exc:
        main([command, "--help"])
    assert exc.value.code == 0
    assert "usage" in capsys.readouterr().out


def test_no_command_prints_help(capsys):
    assert main([]) == 2
    assert "COMMAND" in capsys.readouterr().out


def test_phantom_then_predict_then_evaluate(tmp_path, capsys):
    assert main(["phantom", "--output", str(tmp_path / "data"), "--split", "test",
                 "--shape", "4,64,64"]) == 0
    image = tifffile.imread(tmp_path / "data" / "test-images.tif")
    labels = tifffile.imread(tmp_path / "data" / "test-labels.tif")
    assert image.shape == labels.shape == (4, 64, 64) and labels.max() <= 6
    torch.manual_seed(0)
    save_model(UNet2D(7, width=4, depth=2, padding="same"), tmp_path / "net.pt")
    assert main(["predict", "--model", str(tmp_path / "net.pt"), "--model", str(tmp_path / "net.pt"),
                 "--input", str(tmp_path / "data" / "test-images.tif"),
                 "--output", str(tmp_path / "pred.tif"), "--window", "32,32", "--quiet",
                 "--device", "cpu", "--probabilities", str(tmp_path / "probs.tif")]) == 0
    pred = tifffile.imread(tmp_path / "pred.tif")
    probs = tifffile.imread(tmp_path / "probs.tif")
    assert pred.shape == (4, 64, 64) and pred.dtype == np.uint8
    assert probs.shape == (7, 4, 64, 64)
    assert np.array_equal(pred, probs.argmax(0))
    assert main(["evaluate", "--labels", str(tmp_path / "data" / "test-labels.tif"),
                 "--prediction", str(tmp_path / "pred.tif"), "--json", str(tmp_path / "r.json")]) == 0
    out = capsys.readouterr().out
    assert "MIoU" in out and "alpha granule" in out
    assert (tmp_path / "r.json").is_file()


def test_train_on_own_tiffs_and_resume(tmp_path, capsys):
    rng = np.random.default_rng(0)
    labels = (rng.random((3, 48, 48)) > 0.5).astype(np.uint8)
    image = labels + rng.normal(scale=0.5, size=labels.shape).astype(np.float32)
    tifffile.imwrite(tmp_path / "x.tif", image, photometric="minisblack")
    tifffile.imwrite(tmp_path / "y.tif", labels, photometric="minisblack")
    args = ["train", "--model", "unet2d", "--output", str(tmp_path / "run"),
            "--train-images", str(tmp_path / "x.tif"), "--train-labels", str(tmp_path / "y.tif"),
            "--val-images", str(tmp_path / "x.tif"), "--val-labels", str(tmp_path / "y.tif"),
            "--n-classes", "2", "--width", "4", "--window", "32,32", "--batch-size", "1",
            "--eval-every", "2", "--quiet", "--device", "cpu"]
    # the preset's poly schedule spans the run: growing it on resume is refused in one line
    assert main(args + ["--iterations", "2", "--output", str(tmp_path / "poly")]) == 0
    assert main(args + ["--iterations", "4", "--resume", "--output", str(tmp_path / "poly")]) == 1
    assert "poly learning-rate schedule spans config.iterations" in capsys.readouterr().err
    args += ["--lr-schedule", "constant"]  # a constant rate: a run may grow
    assert main(args + ["--iterations", "2"]) == 0
    assert main(args + ["--iterations", "4", "--resume"]) == 0
    for name in ("checkpoints/best.pt", "checkpoints/last.pt", "history.json", "training-curve.png"):
        assert (tmp_path / "run" / name).is_file()
    assert torch.load(tmp_path / "run" / "checkpoints" / "last.pt", weights_only=False)["iteration"] == 4


def test_errors_are_one_line_messages(tmp_path, capsys):
    (tmp_path / "notes.tif").write_text("not an image")
    assert main(["evaluate", "--labels", str(tmp_path / "notes.tif"),
                 "--prediction", str(tmp_path / "notes.tif")]) == 1
    assert "not a TIFF" in capsys.readouterr().err
    assert main(["predict", "--model", str(tmp_path / "missing.pt"), "--input",
                 str(tmp_path / "notes.tif"), "--output", str(tmp_path / "o.tif")]) == 1
    assert "error:" in capsys.readouterr().err
    assert main(["train", "--output", str(tmp_path / "r"), "--train-images", "a.tif"]) == 1
    assert "go together" in capsys.readouterr().err


def test_train_and_predict_say_what_is_missing(capsys):
    from emseg.cli import main

    assert main(["train", "--model", "unet2d"]) == 1
    assert "train needs --output RUN_FOLDER (or --config TEMPLATE)" in capsys.readouterr().err
    assert main(["predict", "--input", "x.tif"]) == 1
    assert "predict needs --model, --output (or --config TEMPLATE)" in capsys.readouterr().err
    assert main(["train", "--model", "unet3d", "--preset", "original", "--output", "x"]) == 1
    assert "no preset 'unet3d-original'" in capsys.readouterr().err
    assert main(["train", "--model", "unet3d", "--preset", "cpu-legacy", "--output", "x"]) == 1
    assert "no preset 'unet3d-cpu-legacy'" in capsys.readouterr().err
