"""Tests of the TF 2D-3D checkpoint converter.

The acceptance test runs the converted genenet fixture (a real checkpoint written by
the original graph, in ../shared) on the fixture input and compares with the
original graph's outputs. The other tests use checkpoints written by conftest's
writer from a random Net2D3D, so that they run everywhere.
"""
import zipfile

import numpy as np
import pytest
import torch

from emseg.models import Net2D3D
from emseg.models.genenet import LAYERS, convert_genenet
from emseg.tfcheckpoint import CheckpointError

SCOPE = "QuietAmberRiverStone"


@pytest.fixture
def small_net():
    net = Net2D3D(5, width=4, pyramid_width=6, faithful=True)
    with torch.no_grad():
        for p in net.parameters():
            p.add_(0.05 * torch.randn_like(p))  # non-zero biases, so a swap would show
    return net.eval()


def test_round_trip_from_written_checkpoint(tmp_path, tf_checkpoint, genenet_tensors, small_net):
    tf_checkpoint(tmp_path / "best" / "model.ckpt-2500", genenet_tensors(small_net, SCOPE),
                  n_shards=2)
    model, info = convert_genenet(tmp_path / "best", device="cpu")
    assert isinstance(model, Net2D3D) and model.faithful and not model.training
    assert (model.n_classes, model.width, model.pyramid_width, model.in_channels) == (5, 4, 6, 1)
    assert info["prefix"] == SCOPE and info["global_step"] == 2500
    assert info["n_tensors"] == 2 * len(LAYERS) == 66
    assert len(info["ignored"]) == 2 * 66 + 3  # Adam slots, global_step, 2 beta powers
    for key, value in small_net.state_dict().items():
        torch.testing.assert_close(model.state_dict()[key], value, rtol=0, atol=0)
    x = torch.randn(1, 1, 5, 28, 28)
    with torch.no_grad():
        torch.testing.assert_close(model(x)[0], small_net(x)[0], rtol=0, atol=0)


def test_missing_extra_and_misshaped_are_all_listed(tmp_path, tf_checkpoint, genenet_tensors,
                                                    small_net):
    tensors = genenet_tensors(small_net, SCOPE)
    del tensors[f"{SCOPE}/{LAYERS['dec1.1.0']}/bias"]
    tensors[f"{SCOPE}/net/decoder/decode_block_9/comp_0/conv/kernel"] = np.zeros((1, 3, 3, 2, 2),
                                                                                 np.float32)
    up = f"{SCOPE}/{LAYERS['path1_up']}/kernel"
    tensors[up] = np.zeros((1, 2, 2, 6, 6), np.float32)  # a 1x2x2 up-conv where 2x2x2 belongs
    tf_checkpoint(tmp_path / "m", tensors)
    with pytest.raises(CheckpointError) as err:
        convert_genenet(tmp_path / "m")
    message = str(err.value)
    assert "3 problem(s)" in message
    assert f"missing {SCOPE}/{LAYERS['dec1.1.0']}/bias (for dec1.1.0.bias)" in message
    assert "unexpected tensor" in message and "decode_block_9" in message
    assert f"{up} has shape [1, 2, 2, 6, 6], expected [2, 2, 2, 6, 6]" in message


def test_checkpoint_of_another_network_is_refused(tmp_path, tf_checkpoint):
    tf_checkpoint(tmp_path / "a", {"unet/conv1/kernel": np.zeros((3, 3, 1, 4), np.float32),
                                   "unet/conv1/bias": np.zeros(4, np.float32)})
    with pytest.raises(CheckpointError, match="2D-3D"):
        convert_genenet(tmp_path / "a")
    tf_checkpoint(tmp_path / "b", {"one/x/kernel": np.zeros(2, np.float32),
                                   "two/x/kernel": np.zeros(2, np.float32)})
    with pytest.raises(CheckpointError, match="single name scope.*'one', 'two'"):
        convert_genenet(tmp_path / "b")


# --- the acceptance test on the real fixture ---------------------------------------------

@pytest.fixture(scope="module")
def fixture(tmp_path_factory, request):
    shared = request.getfixturevalue("shared_data") / "genenet-fixture"
    folder = tmp_path_factory.mktemp("genenet")
    with zipfile.ZipFile(shared / "tf1_checkpoint.zip") as zf:
        zf.extractall(folder)
    x = torch.from_numpy(np.load(shared / "input.npy"))
    ref = {k: np.load(shared / f"output_{k}.npy") for k in ("logits_2d", "logits_3d", "probs")}
    return folder, x, ref


def _errors(model, x, ref):
    with torch.no_grad():
        logits_3d, logits_2d = model(x)
        probs = torch.softmax(logits_3d, dim=1)
    got = {"logits_2d": logits_2d, "logits_3d": logits_3d, "probs": probs}
    return {k: float(np.abs(got[k].double().numpy() - ref[k].astype(np.float64)).max())
            for k in ref}


def test_converted_fixture_reproduces_the_original_graph(fixture):
    folder, x, ref = fixture
    model, info = convert_genenet(folder, device="cpu")
    assert info["prefix"] == "2D3D" and info["global_step"] == 0 and info["n_tensors"] == 66
    assert (model.width, model.pyramid_width, model.n_classes) == (8, 64, 7)
    assert sum(p.numel() for p in model.parameters()) == 2_234_470
    err = _errors(model, x, ref)
    assert err["logits_2d"] <= 1e-5 and err["logits_3d"] <= 1e-5, err
    assert err["probs"] <= 1e-6, err


def test_fixture_check_is_sensitive(fixture):
    """The same check fails for one mis-laid kernel and for our corrected data flow."""
    folder, x, ref = fixture
    model, _ = convert_genenet(folder, device="cpu")
    with torch.no_grad():
        w = model.bottom[1][0].weight  # the weakest tensors are the bottleneck's
        w.copy_(w.flip(3))             # flip along kh
    assert _errors(model, x, ref)["logits_3d"] > 1e-5
    model, _ = convert_genenet(folder, device="cpu")
    fixed = Net2D3D(7, width=8, pyramid_width=64, faithful=False)
    fixed.load_state_dict(model.state_dict())
    assert _errors(fixed.eval(), x, ref)["logits_3d"] > 1e-3
