"""python -m emseg trace: the CLI calls the same library functions as the notebook."""
import numpy as np
import pytest
import torch

from emseg.checkpoint import save_model
from emseg.cli import main
from emseg.data import read_volume, write_volume
from emseg.data.phantoms.neuron import neuron_phantom
from emseg.models import VoxResNet
from emseg.tracing import read_swc, skeleton_f1


@pytest.fixture(scope="module")
def stack():
    return neuron_phantom(shape=(24, 64, 64), seed=2)


def test_trace_a_mask_the_raw_stack_and_with_a_model(stack, tmp_path, capsys):
    write_volume(tmp_path / "mask.tif", stack.mask.astype(np.uint8))
    write_volume(tmp_path / "raw.tif", stack.image)
    vs = ["--voxel-size", "1.0", "0.5", "0.5"]
    assert main(["trace", "--input", str(tmp_path / "mask.tif"), "--threshold", "1",
                 "--output", str(tmp_path / "mask.swc"), *vs]) == 0
    tree = read_swc(tmp_path / "mask.swc")
    assert skeleton_f1(tree, stack.tree, voxel_size=(1.0, 0.5, 0.5))["f1"] > 0.9
    assert "voxel scooping" in capsys.readouterr().out
    # integer map without --threshold: the library's message, exit status 1
    assert main(["trace", "--input", str(tmp_path / "mask.tif"),
                 "--output", str(tmp_path / "x.swc")]) == 1
    assert "pass threshold=" in capsys.readouterr().err
    assert main(["trace", "--input", str(tmp_path / "raw.tif"), "--baseline",
                 "--output", str(tmp_path / "base.swc"), *vs]) == 0
    assert len(read_swc(tmp_path / "base.swc")) > 10
    # no overwrite without --overwrite
    assert main(["trace", "--input", str(tmp_path / "raw.tif"), "--baseline",
                 "--output", str(tmp_path / "base.swc")]) == 1
    assert "--overwrite" in capsys.readouterr().err
    torch.manual_seed(0)
    save_model(VoxResNet(width=4, blocks=1), tmp_path / "net.pt")
    code = main(["trace", "--input", str(tmp_path / "raw.tif"), "--model", str(tmp_path / "net.pt"),
                 "--output", str(tmp_path / "cnn.swc"), "--probabilities",
                 str(tmp_path / "prob.tif"), "--device", "cpu", *vs])
    assert code == 0, capsys.readouterr().err
    assert len(read_swc(tmp_path / "cnn.swc")) > 0
    prob = read_volume(tmp_path / "prob.tif")
    assert prob.shape == read_volume(tmp_path / "raw.tif").shape
    assert prob.min() >= 0 and prob.max() <= 1
    # the probability file is not replaced without --overwrite, and needs --model
    assert main(["trace", "--input", str(tmp_path / "raw.tif"), "--model", str(tmp_path / "net.pt"),
                 "--output", str(tmp_path / "cnn2.swc"), "--probabilities",
                 str(tmp_path / "prob.tif"), *vs]) == 1
    assert "prob.tif exists" in capsys.readouterr().err
    assert main(["trace", "--input", str(tmp_path / "raw.tif"), "--baseline", "--output",
                 str(tmp_path / "b2.swc"), "--probabilities", str(tmp_path / "p2.tif")]) == 1
    assert "needs --model" in capsys.readouterr().err
    assert main(["trace", "--input", str(tmp_path / "raw.tif"), "--baseline", "--output",
                 str(tmp_path / "b2.swc"), "--threshold", "7"]) == 1
    assert "--threshold applies" in capsys.readouterr().err
