"""Tests of emseg.infer: sliding-window prediction, blending, TTA, ensembles, checks."""
import copy

import numpy as np
import pytest
import torch
from torch import nn

from emseg.device import cpu_bf16_supported
from emseg.infer import blending_weights, predict, predict_ensemble, window_starts
from emseg.models import Net2D3D, SegmentationNet, UNet2D


class PointNet(SegmentationNet):
    """A purely local net (1x1 conv): the prediction of a voxel depends on that voxel only.

    ``crop`` (per axis, low and high) removes border voxels like a valid-padded net,
    so that the output window is smaller than the input and sits at an offset.
    """

    in_channels = 1

    def __init__(self, n_classes=3, *, ndim=3, crop=None):
        super().__init__()
        self.n_classes, self.window_ndim = n_classes, ndim
        self.crop = crop or ((0, 0),) * ndim
        self.default_window = (8,) * ndim
        conv = nn.Conv3d if ndim == 3 else nn.Conv2d
        self.conv = conv(1, n_classes, 1)
        with torch.no_grad():  # spread the logits so that the test sees real differences
            self.conv.weight.copy_(torch.linspace(-3, 3, n_classes).reshape(self.conv.weight.shape))

    def output_window(self, input_shape):
        out = tuple(s - lo - hi for s, (lo, hi) in zip(input_shape, self.crop))
        if min(out) < 1:
            raise ValueError(f"window {tuple(input_shape)} is too small for crop {self.crop}")
        return out, tuple(lo for lo, _ in self.crop)

    def forward(self, x):
        y = self.conv(x)
        box = tuple(slice(lo, n - hi) for n, (lo, hi) in zip(y.shape[2:], self.crop))
        return y[(slice(None), slice(None)) + box]

    def whole(self, volume):
        """Softmax of the uncropped net applied to the whole volume at once: (C, z, y, x)."""
        with torch.no_grad():
            x = torch.from_numpy(volume.astype(np.float32))[None, None]
            if self.window_ndim == 2:
                logits = self.conv(x[0].transpose(0, 1)).transpose(0, 1)[None]
            else:
                logits = self.conv(x)
        return torch.softmax(logits, 1)[0].numpy()


def rand(*shape):
    return np.random.default_rng(1).normal(size=shape).astype(np.float32)


def direct(model, volume):
    """One forward pass of a same-padded net on the whole volume: softmax (C, z, y, x)."""
    model.eval()
    with torch.no_grad():
        x = torch.from_numpy(volume)[None, None]
        if model.window_ndim == 2:
            return torch.softmax(model.predict_logits(x[0].transpose(0, 1)), 1).transpose(0, 1).numpy()
        return torch.softmax(model.predict_logits(x), 1)[0].numpy()


def check_probabilities(p, n_classes, shape):
    assert p.dtype == np.float32 and p.shape == (n_classes,) + shape
    assert np.isfinite(p).all()
    np.testing.assert_allclose(p.sum(0), 1, atol=1e-5)


# ------------------------------------------------------------------ helpers

def test_window_starts_matches_monai_rule():
    assert window_starts(512, 256, 192) == [0, 192, 256]
    assert window_starts(256, 256, 192) == [0]
    assert window_starts(10, 5, 3) == [0, 3, 5]
    assert window_starts(9, 3, 3) == [0, 3, 6]
    with pytest.raises(ValueError, match="window <= size"):
        window_starts(4, 5, 1)


def test_blending_weights_shapes_and_values():
    g = blending_weights((1, 9, 12), blending="gaussian")
    assert g.shape == (1, 9, 12) and g.dtype == np.float32 and g.min() >= 1e-3
    assert g[0, 4, 5] == g.max() and np.allclose(g, g[:, ::-1, ::-1])
    d = blending_weights((1, 5, 7), blending="distance")
    assert d[0, 0, 0] == 1 and d[0, 2, 3] == 3 and d.min() == 1
    assert np.all(blending_weights((2, 3, 4), blending="constant") == 1)
    with pytest.raises(ValueError, match="unknown blending"):
        blending_weights((3, 3), blending="linear")


def test_gaussian_weights_match_monai():
    monai_utils = pytest.importorskip("monai.data.utils")
    for shape in [(1, 20, 33), (5, 32, 32)]:
        ours = blending_weights(shape, blending="gaussian")
        theirs = monai_utils.compute_importance_map(shape, mode="gaussian").numpy()
        np.testing.assert_allclose(ours, theirs, atol=1e-6)


# ------------------------------------------------------------------ exactness

@pytest.mark.parametrize("model", [
    UNet2D(3, width=4, depth=2, padding="same"),
    Net2D3D(3, width=4, pyramid_width=4),
], ids=["unet2d-same", "net2d3d"])
def test_one_window_equals_forward_pass(model):
    shape = (1, 32, 32) if model.window_ndim == 2 else (5, 32, 32)
    volume = rand(*shape)
    window = shape[1:] if model.window_ndim == 2 else shape
    got = predict(model, volume, window=window, precision="float32", progress=False)
    np.testing.assert_allclose(got, direct(model, volume), atol=1e-6)
    if model.window_ndim == 2:  # a 2D image gives 2D-shaped results
        got2d = predict(model, volume[0], window=window, precision="float32", progress=False)
        np.testing.assert_allclose(got2d, direct(model, volume)[:, 0], atol=1e-6)


@pytest.mark.parametrize("crop", [None, ((0, 0), (2, 2), (1, 3)), ((1, 0), (0, 3), (3, 0))],
                         ids=["same", "valid-centred", "valid-asymmetric"])
@pytest.mark.parametrize("blending", ["gaussian", "distance", "constant"])
def test_tiling_equals_whole_volume_for_local_net(crop, blending):
    model = PointNet(crop=crop)
    for shape, window, overlap in [((7, 19, 23), (4, 9, 10), 0.25),
                                   ((5, 31, 17), (5, 12, 8), (0.0, 0.5, 0.6)),
                                   ((3, 8, 9), (3, 11, 12), 0.6)]:
        volume = rand(*shape)
        got = predict(model, volume, window=window, overlap=overlap, blending=blending,
                      batch_size=3, precision="float32", progress=False)
        np.testing.assert_allclose(got, model.whole(volume), atol=1e-6)


def test_tiling_with_high_overlap_is_float32_accurate():
    """Each of the k windows over a voxel adds float32 rounding (about k x 1.2e-7)."""
    model = PointNet(crop=((1, 0), (0, 3), (3, 0)))
    volume = rand(5, 31, 17)
    got = predict(model, volume, window=(5, 12, 8), overlap=0.9, precision="float32", progress=False)
    np.testing.assert_allclose(got, model.whole(volume), atol=4e-6)


def test_tiling_local_2d_net_on_volume_and_image():
    model = PointNet(ndim=2, crop=((3, 1), (2, 2)))
    volume = rand(4, 21, 26)
    got = predict(model, volume, window=(12, 10), overlap=(0.3, 0.5), precision="float32", progress=False)
    np.testing.assert_allclose(got, model.whole(volume), atol=1e-6)
    got2d = predict(model, volume[1], window=(1, 12, 10), precision="float32", progress=False)
    np.testing.assert_allclose(got2d, model.whole(volume)[:, 1], atol=1e-6)


def test_tta_equals_no_tta_for_flip_equivariant_net():
    model = PointNet(crop=((0, 0), (1, 2), (0, 3)))
    volume = rand(4, 17, 14)
    plain = predict(model, volume, window=(3, 9, 9), precision="float32", progress=False)
    tta = predict(model, volume, window=(3, 9, 9), tta=True, precision="float32", progress=False)
    np.testing.assert_allclose(tta, plain, atol=1e-6)


def test_tta_runs_on_real_net():
    model = UNet2D(3, width=4, depth=2)
    got = predict(model, rand(2, 25, 31), window=(60, 60), tta=True, precision="float32", progress=False)
    check_probabilities(got, 3, (2, 25, 31))


# ------------------------------------------------------------------ real networks and sizes

def test_unet_valid_on_volume():
    model = UNet2D(3, width=4, depth=2)  # 60 -> 20, offset 20
    assert model.output_window((60, 60)) == ((20, 20), (20, 20))
    got = predict(model, rand(3, 45, 50), window=(60, 60), precision="float32", progress=False)
    check_probabilities(got, 3, (3, 45, 50))


def test_net2d3d_on_volume():
    model = Net2D3D(3, width=4, pyramid_width=4)
    got = predict(model, rand(7, 50, 45), window=(5, 36, 36), batch_size=2, precision="float32", progress=False)
    check_probabilities(got, 3, (7, 50, 45))


@pytest.mark.parametrize("shape", [(2, 10, 20), (1, 1, 5), (1, 3, 1)])
def test_volume_smaller_than_window(shape):
    unet = predict(UNet2D(3, width=4, depth=2), rand(*shape), window=(60, 60), precision="float32", progress=False)
    check_probabilities(unet, 3, shape)
    net = predict(Net2D3D(3, width=4, pyramid_width=4), rand(*shape), window=(5, 36, 36),
                  precision="float32", progress=False)
    check_probabilities(net, 3, shape)


def test_labels_output():
    model = UNet2D(3, width=4, depth=2)
    volume = rand(2, 30, 33)
    labels = predict(model, volume, window=(60, 60), output="labels", precision="float32", progress=False)
    probs = predict(model, volume, window=(60, 60), precision="float32", progress=False)
    assert labels.dtype == np.uint8 and labels.shape == (2, 30, 33)
    np.testing.assert_array_equal(labels, probs.argmax(0))
    labels2d = predict(model, volume[0], window=(60, 60), output="labels", precision="float32", progress=False)
    assert labels2d.shape == (30, 33) and labels2d.dtype == np.uint8


def test_ensemble_of_copies_equals_single_model():
    model = UNet2D(3, width=4, depth=2)
    volume = rand(2, 30, 33)
    single = predict(model, volume, window=(60, 60), precision="float32", progress=False)
    both = predict_ensemble([model, copy.deepcopy(model)], volume, window=(60, 60), precision="float32", progress=False)
    np.testing.assert_allclose(both, single, atol=1e-6)
    labels = predict_ensemble([model, copy.deepcopy(model)], volume, window=(60, 60),
                              output="labels", precision="float32", progress=False)
    np.testing.assert_array_equal(labels, single.argmax(0))


def test_ensemble_is_the_mean():
    a, b = PointNet(), PointNet()
    with torch.no_grad():
        b.conv.weight.mul_(-0.5)
    volume = rand(3, 10, 11)
    got = predict_ensemble([a, b], volume, window=(3, 8, 8), precision="float32", progress=False)
    np.testing.assert_allclose(got, (a.whole(volume) + b.whole(volume)) / 2, atol=1e-6)


def test_training_flag_restored_and_progress_bar(capsys):
    model = PointNet().train()
    predict(model, rand(3, 8, 8), progress=True)
    assert model.training
    assert "predict" in capsys.readouterr().err


# ------------------------------------------------------------------ bad inputs

@pytest.mark.parametrize("image, match", [
    (np.full((3, 8, 8), np.nan, np.float32), "NaN"),
    (np.zeros((2, 3, 8, 8), np.float32), "2 or 3-D"),
    (np.zeros(8, np.float32), "2 or 3-D"),
    (np.zeros((0, 8, 8), np.float32), "empty"),
])
def test_bad_images(image, match):
    with pytest.raises(ValueError, match=match):
        predict(PointNet(), image, progress=False)


@pytest.mark.parametrize("options, match", [
    (dict(overlap=1.0), "overlap"),
    (dict(overlap=-0.1), "overlap"),
    (dict(overlap=(0.1, 0.2, 0.3, 0.4)), "overlap"),
    (dict(overlap=(0.1, 0.2)), "3D network"),
    (dict(blending="linear"), "unknown blending"),
    (dict(output="logits"), "unknown output"),
    (dict(batch_size=0), "batch_size"),
    (dict(window=(0, 8, 8)), "window"),
    (dict(window=(8, 8)), r"\(z, y, x\) window"),
])
def test_bad_options(options, match):
    with pytest.raises(ValueError, match=match):
        predict(PointNet(), rand(3, 8, 8), progress=False, **options)


def test_window_the_model_cannot_take():
    with pytest.raises(ValueError, match="sizes that do"):
        predict(UNet2D(3, width=4, depth=2), rand(2, 30, 30), window=(61, 61), progress=False)
    with pytest.raises(ValueError, match="one slice"):
        predict(UNet2D(3, width=4, depth=2), rand(2, 30, 30), window=(2, 60, 60), progress=False)


def test_bad_ensembles():
    with pytest.raises(ValueError, match="non-empty list"):
        predict_ensemble([], rand(3, 8, 8))
    with pytest.raises(ValueError, match="non-empty list"):
        predict_ensemble(PointNet(), rand(3, 8, 8))
    with pytest.raises(ValueError, match="numbers of classes"):
        predict_ensemble([PointNet(3), PointNet(4)], rand(3, 8, 8), progress=False)
    with pytest.raises(ValueError, match="unknown option"):
        predict_ensemble([PointNet()], rand(3, 8, 8), overlaps=0.5)


def test_multichannel_model_rejected():
    model = PointNet()
    model.in_channels = 2
    with pytest.raises(ValueError, match="single-channel"):
        predict(model, rand(3, 8, 8), progress=False)


def test_blending_weights_reject_empty_windows():
    with pytest.raises(ValueError, match="positive sizes"):
        blending_weights((0, 5), blending="gaussian")


def test_predict_moves_the_model_to_the_device():
    net = UNet2D(2, width=4, depth=2, padding="same")
    out = predict(net, np.zeros((1, 16, 16), np.float32), window=(16, 16), device="cpu", progress=False)
    assert out.shape == (2, 1, 16, 16)
    assert next(net.parameters()).device.type == "cpu"


def test_boolean_image_is_refused():
    net = UNet2D(2, width=4, depth=2, padding="same")
    with pytest.raises(ValueError, match="dtype bool"):
        predict(net, np.zeros((1, 16, 16), bool), window=(16, 16), progress=False)


# --------------------------------------------------------------------------- precision, layout

def test_predict_precision_auto_matches_the_device_rule(monkeypatch):
    """'auto' on a CPU: bfloat16 where it is native, float32 otherwise; probabilities float32."""
    import emseg.device
    import emseg.infer

    net = UNet2D(3, width=4, depth=2, padding="same")
    volume = rand(2, 32, 32)
    seen = []
    original = net.predict_logits
    monkeypatch.setattr(net, "predict_logits",
                        lambda x: seen.append(torch.get_autocast_dtype("cpu")
                                              if torch.is_autocast_enabled("cpu") else None)
                        or original(x))
    for native in (True, False):
        monkeypatch.setattr(emseg.device, "cpu_bf16_supported", lambda native=native: native)
        seen.clear()
        out = emseg.infer.predict(net, volume, window=(32, 32), device="cpu", progress=False)
        assert out.dtype == np.float32
        assert seen and set(seen) == {torch.bfloat16 if native else None}
    seen.clear()
    emseg.infer.predict(net, volume, window=(32, 32), device="cpu", precision="float32",
                        progress=False)
    assert set(seen) == {None}


@pytest.mark.skipif(not cpu_bf16_supported(), reason="this CPU has no native bfloat16")
def test_bfloat16_labels_agree_with_float32():
    """A net that separates classes (not an untrained one, whose classes tie) keeps its
    labels in bfloat16 on all but a few voxels near the class boundaries."""
    net = PointNet(3)
    volume = rand(3, 40, 40) * 2
    f32 = predict(net, volume, window=(3, 8, 8), output="labels", precision="float32",
                  progress=False)
    bf16 = predict(net, volume, window=(3, 8, 8), output="labels", precision="bfloat16",
                   progress=False)
    assert np.mean(f32 == bf16) >= 0.99
    probs = predict(net, volume, window=(3, 8, 8), precision="bfloat16", progress=False)
    np.testing.assert_allclose(probs.sum(0), 1, atol=1e-5)


def test_bad_precision_is_refused_early(monkeypatch):
    import emseg.device

    with pytest.raises(ValueError, match="unknown precision 'half'"):
        predict(PointNet(), rand(3, 8, 8), precision="half", progress=False)
    with pytest.raises(ValueError, match="float16.*CUDA"):
        predict(PointNet(), rand(3, 8, 8), device="cpu", precision="float16", progress=False)
    monkeypatch.setattr(emseg.device, "cpu_bf16_supported", lambda: False)
    with pytest.raises(ValueError, match="no native bfloat16"):
        predict(PointNet(), rand(3, 8, 8), device="cpu", precision="bfloat16", progress=False)


@pytest.mark.parametrize("make", [lambda: UNet2D(3, width=4, depth=2, padding="same"),
                                  lambda: Net2D3D(3, width=4, pyramid_width=4)])
def test_prediction_leaves_the_weights_as_they_were(make, monkeypatch):
    """Convolutions run channels-last while predicting; the same tensors come back after."""
    net = make()
    before = {k: (v.data_ptr(), v.stride(), v.clone()) for k, v in net.state_dict().items()}
    layouts = []
    original = net.predict_logits
    monkeypatch.setattr(net, "predict_logits", lambda x: layouts.extend(
        w.is_contiguous(memory_format=torch.channels_last if w.dim() == 4 else
                        torch.channels_last_3d)
        for w in net.parameters() if w.dim() in (4, 5)) or original(x))
    window = (32, 32) if net.window_ndim == 2 else (5, 36, 36)
    predict(net, rand(5, 36, 36), window=window, precision="float32", progress=False)
    assert layouts and all(layouts)
    after = net.state_dict()
    for k, (ptr, stride, value) in before.items():
        assert after[k].data_ptr() == ptr and after[k].stride() == stride, k
        assert torch.equal(after[k], value), k


def test_compiled_prediction_equals_eager():
    """compile=True: torch.compile'd network, every batch padded to batch_size."""
    net = PointNet(3)
    volume = rand(3, 20, 20)
    eager = predict(net, volume, window=(3, 8, 8), batch_size=4, precision="float32",
                    progress=False)
    compiled = predict(net, volume, window=(3, 8, 8), batch_size=4, precision="float32",
                       compile=True, progress=False)
    np.testing.assert_allclose(compiled, eager, atol=1e-5)
