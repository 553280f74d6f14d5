import numpy as np
import pytest
import torch

from emseg.checkpoint import load_model
from emseg.data import neuron_phantom
from emseg.infer import predict
from emseg.models import VoxResNet, build_model, count_parameters, window_geometry
from emseg.train import PRESETS, TrainConfig, fit
from emseg.train._loop import scheduled_lr
from emseg.tracing import normalize_stack, probability_map


pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def stack():
    image, mask, _ = neuron_phantom(shape=(16, 48, 48), voxel_size=(1.0, 0.5, 0.5), seed=1)
    return normalize_stack(image), mask.astype(np.uint8)


def test_original_size_and_layout():
    net = VoxResNet()
    assert count_parameters(net) == 1_714_688          # as the reference sheet counts
    assert net.default_window == (120, 120, 120)
    ups = [m for m in net.modules() if isinstance(m, torch.nn.ConvTranspose3d)]
    assert [m.stride for m in ups] == [(2, 2, 2), (4, 4, 4), (8, 8, 8)]
    assert sum(isinstance(m, torch.nn.Conv3d) and m.stride == (2, 2, 2)
               for m in net.modules()) == 3
    assert build_model("voxresnet", width=4).spec()["name"] == "VoxResNet"


def test_shapes_and_the_output_is_the_sum_of_four_side_outputs():
    net = VoxResNet(3, width=4, blocks=1).eval()
    x = torch.randn(2, 1, 16, 24, 8)
    out = net(x)
    assert out.shape == (2, 3, 16, 24, 8)
    with torch.no_grad():
        feats = [net.stem(x)]
        for stage in net.stages:
            feats.append(stage(feats[-1]))
        sides = [side(f) for side, f in zip(net.sides, feats)]
    assert [tuple(f.shape[2:]) for f in feats] == [(16, 24, 8), (8, 12, 4), (4, 6, 2), (2, 3, 1)]
    assert all(s.shape == out.shape for s in sides)
    torch.testing.assert_close(out, sum(sides))
    assert window_geometry(net, (16, 24, 8)).output == (16, 24, 8)


@pytest.mark.parametrize("window, match", [((20, 32, 32), "divisible by 8.*z=20.*16, 24"),
                                           ((32, 32), r"\(z, y, x\) windows"),
                                           ((0, 8, 8), "divisible by 8")])
def test_bad_windows_name_sizes_that_fit(window, match):
    with pytest.raises(ValueError, match=match):
        VoxResNet(width=4).output_window(window)


def test_bad_construction_and_input():
    with pytest.raises(ValueError, match="n_classes must be at least 2"):
        VoxResNet(1)
    with pytest.raises(ValueError, match="width"):
        VoxResNet(width=0)
    with pytest.raises(ValueError, match=r"\(N, C, z, y, x\)"):
        VoxResNet(width=4)(torch.zeros(1, 8, 8, 8))
    with pytest.raises(ValueError, match="divisible by 8"):
        VoxResNet(width=4)(torch.zeros(1, 1, 8, 8, 12))


def test_the_loss_s_old_names_still_work_and_warn():
    import emseg.losses
    import emseg.models.voxresnet as old

    with pytest.warns(DeprecationWarning, match="moved to emseg.losses.voxres_loss"):
        assert old.voxres_loss is emseg.losses.voxres_loss
    with pytest.warns(DeprecationWarning, match="emseg.losses.voxres_class_weights"):
        assert old.class_weights is emseg.losses.voxres_class_weights
    with pytest.raises(AttributeError):
        old.no_such_name  # noqa: B018


def test_cosine_schedule():
    cfg = TrainConfig(iterations=100, lr=1e-2, lr_schedule="cosine")
    assert scheduled_lr(cfg, 0) == pytest.approx(1e-2)
    assert scheduled_lr(cfg, 50) == pytest.approx(1e-2 * 0.525)
    assert scheduled_lr(cfg, 100) == pytest.approx(5e-4)
    assert scheduled_lr(cfg.replace(lr_schedule="constant"), 70) == 1e-2
    assert PRESETS["voxresnet-original"].config.lr_schedule == "cosine"
    assert PRESETS["voxresnet-cpu"].config.lr_schedule == "poly"  # the modern recipe
    with pytest.raises(ValueError, match="lr_schedule must be one of"):
        fit(VoxResNet(width=4), (np.zeros((8, 8, 8), np.float32), np.zeros((8, 8, 8), np.uint8)),
            config=TrainConfig(iterations=1, window=(8, 8, 8), lr_schedule="step"),
            progress=False)


def test_fit_lowers_the_loss_on_a_tiny_phantom_and_resumes_exactly(stack, tmp_path):
    image, labels = stack
    cfg = TrainConfig(iterations=24, batch_size=2, lr=1e-2, lr_schedule="cosine",
                      window=(16, 32, 32), eval_every=12, augment=None)
    torch.manual_seed(0)
    net = VoxResNet(width=4, blocks=1)
    hist = fit(net, (image, labels), (image, labels), config=cfg, output_dir=tmp_path / "a",
               progress=False)
    loss = np.array(hist["loss"])
    assert loss[-6:].mean() < 0.8 * loss[:6].mean()
    assert hist["val"][-1]["miou_all"] > 0.4
    # the same run stopped after iteration 12 (its last checkpoint), then resumed: with the
    # learning rate a pure function of the iteration, the losses are the same
    torch.manual_seed(0)
    net = VoxResNet(width=4, blocks=1)
    calls, original = [], net.training_loss

    def stop_at_13(*args, **kwargs):
        calls.append(1)
        if len(calls) == 13:
            raise KeyboardInterrupt
        return original(*args, **kwargs)

    net.training_loss = stop_at_13
    with pytest.raises(KeyboardInterrupt):
        fit(net, (image, labels), (image, labels), config=cfg, output_dir=tmp_path / "b",
            progress=False)
    torch.manual_seed(123)
    resumed = fit(VoxResNet(width=4, blocks=1), (image, labels), (image, labels), config=cfg,
                  output_dir=tmp_path / "b", progress=False, resume=True)
    np.testing.assert_allclose(resumed["loss"], loss, rtol=1e-6)
    # more iterations would stretch the cosine and make the rate jump: refused
    with pytest.raises(ValueError, match="cosine learning-rate schedule"):
        fit(VoxResNet(width=4, blocks=1), (image, labels), config=cfg.replace(iterations=48),
            output_dir=tmp_path / "b", progress=False, resume=True)


def test_predict_round_trip_through_a_checkpoint(stack, tmp_path):
    image, labels = stack
    torch.manual_seed(0)
    net = VoxResNet(width=4, blocks=1)
    fit(net, (image, labels), (image, labels), output_dir=tmp_path,
        config=TrainConfig(iterations=4, batch_size=1, window=(16, 32, 32), eval_every=4,
                           augment=None), progress=False)
    vol = image[:13, :37, :45]                      # not a multiple of the window or of 8
    probs = predict(net, vol, window=(16, 32, 32), overlap=0.25, progress=False)
    assert probs.shape == (2, 13, 37, 45)
    np.testing.assert_allclose(probs.sum(0), 1.0, atol=1e-5)
    again = load_model(tmp_path / "checkpoints" / "last.pt")
    assert isinstance(again, VoxResNet)
    np.testing.assert_allclose(predict(again, vol, window=(16, 32, 32), progress=False), probs,
                               atol=1e-6)
    prob = probability_map(again, image[:13, :37, :45] * 3 + 7, window=(16, 32, 32),
                           normalize=False)
    assert prob.shape == (13, 37, 45) and 0 <= prob.min() and prob.max() <= 1
    with pytest.raises(ValueError, match="divisible by 8"):
        predict(net, vol, window=(12, 32, 32), progress=False)
