"""python -m emseg ecs train|predict|evaluate|quantify on tiny files."""
import csv

import numpy as np
import pytest
import tifffile

from emseg.cli import main
from emseg.data import ecs_phantom


pytestmark = pytest.mark.usefixtures("one_thread")


def test_quantify_a_mask(tmp_path, capsys):
    m = np.zeros((2, 40, 40), np.uint8)
    m[:, :, 10:13] = 255                   # 3-px sheets, saved as 0/255
    tifffile.imwrite(tmp_path / "mask.tif", m, photometric="minisblack")
    assert main(["ecs", "quantify", "--labels", str(tmp_path / "mask.tif"), "--voxel-size", "50",
                 "10", "10", "--output", str(tmp_path / "q")]) == 0
    out = capsys.readouterr().out
    assert "ECS volume fraction 0.0750" in out and "gap width median 30.0 nm" in out
    rows = list(csv.DictReader(open(tmp_path / "q" / "ecs.csv")))
    assert [r["z"] for r in rows] == ["0", "1", "all"]
    assert (tmp_path / "q" / "ecs.png").stat().st_size > 1000


def test_quantify_rejects_non_binary_labels(tmp_path, capsys):
    tifffile.imwrite(tmp_path / "labels.tif", np.arange(16, dtype=np.uint8).reshape(4, 4))
    assert main(["ecs", "quantify", "--labels", str(tmp_path / "labels.tif"), "--voxel-size", "1",
                 "1", "1", "--output", str(tmp_path / "q")]) == 1
    assert "is not a binary mask" in capsys.readouterr().err


def test_train_predict_evaluate(tmp_path, capsys):
    vol = ecs_phantom((2, 128, 128), seed=0)
    for sub in ("images", "labels"):
        (tmp_path / "data" / sub).mkdir(parents=True)
    for z in range(2):
        tifffile.imwrite(tmp_path / "data" / "images" / f"s{z}.tif", vol.image[z])
        tifffile.imwrite(tmp_path / "data" / "labels" / f"s{z}.tif", vol.labels[z] * 255)
    run = tmp_path / "run"
    assert main(["ecs", "train", "--data", str(tmp_path / "data"), "--output", str(run),
                 "--variant", "unet", "--iterations", "2", "--quiet", "--device", "cpu"]) == 0
    assert "trained unet for 2 iterations" in capsys.readouterr().out
    assert (run / "checkpoints" / "last.pt").is_file() and (run / "training-curve.png").is_file()
    # again into the same folder: refused, nothing lost
    assert main(["ecs", "train", "--data", str(tmp_path / "data"), "--output", str(run),
                 "--iterations", "2", "--quiet", "--device", "cpu"]) == 1
    err = capsys.readouterr().err
    assert "already holds a training run" in err
    # the advice names an option that exists: --overwrite replaces the run
    assert "--overwrite" in err
    assert main(["ecs", "train", "--data", str(tmp_path / "data"), "--output", str(run),
                 "--variant", "unet", "--iterations", "1", "--overwrite", "--quiet",
                 "--device", "cpu"]) == 0
    assert "trained unet for 1 iterations" in capsys.readouterr().out

    assert main(["ecs", "predict", "--model", str(run / "checkpoints" / "last.pt"), "--input",
                 str(tmp_path / "data" / "images"), "--output", str(tmp_path / "result"),
                 "--window", "64", "64", "--voxel-size", "50", "9", "9", "--quiet",
                 "--device", "cpu"]) == 0
    out = capsys.readouterr().out
    assert "s0: (1, 128, 128)" in out and "ECS volume fraction" in out
    for name in ("s0_probability.tif", "s0_labels.tif", "s1_labels.tif", "s0_ecs.csv"):
        assert (tmp_path / "result" / name).is_file()

    assert main(["ecs", "evaluate", "--labels", str(tmp_path / "data" / "labels" / "s0.tif"),
                 "--prediction", str(tmp_path / "result" / "s0_probability.tif"),
                 "--voxel-size", "50", "9", "9", "--json", str(tmp_path / "scores.json")]) == 0
    out = capsys.readouterr().out
    assert "dice" in out and "HD95" in out and (tmp_path / "scores.json").is_file()


def test_train_rejects_images_smaller_than_a_window(tmp_path, capsys):
    for sub in ("images", "labels"):
        (tmp_path / sub).mkdir()
    tifffile.imwrite(tmp_path / "images" / "a.tif", np.zeros((64, 64), np.uint8))
    tifffile.imwrite(tmp_path / "labels" / "a.tif", np.zeros((64, 64), np.uint8))
    assert main(["ecs", "train", "--data", str(tmp_path), "--output", str(tmp_path / "run"),
                 "--quiet"]) == 1
    assert "smaller than one 128x128 window" in capsys.readouterr().err


def test_ecs_without_an_action(capsys):
    assert main(["ecs"]) == 1
    assert "ecs needs an action" in capsys.readouterr().err
