import pytest
import torch

from emseg.models import Net2D3D, count_parameters, window_geometry


def _count(module):
    return sum(p.numel() for p in module.parameters())


def test_original_parameter_count_and_split():
    net = Net2D3D(n_classes=7)
    assert count_parameters(net) == 10_283_406
    two_d = sum(_count(m) for m in (net.enc0, net.enc1, net.enc2, net.bottom, net.up2, net.dec2,
                                    net.up1, net.dec1, net.up0, net.dec0))
    pyramid = _count(net.path0) + _count(net.path1) + _count(net.path1_up)
    assert two_d == 7_881_856
    assert pyramid == 2_400_640
    assert _count(net.predictor_2d) == _count(net.predictor_3d) == 455


def test_decoder_up_convolutions_feed_block_widths():
    # the corrected trace: D1 up-convolves to 64 and its 3x3x3 conv takes 192 channels, D0 32 and 96
    net = Net2D3D(7)
    assert net.up1.out_channels == 64 and net.dec1[0][0].in_channels == 192
    assert net.up0.out_channels == 32 and net.dec0[0][0].in_channels == 96
    assert net.dec1[0][0].kernel_size == (3, 3, 3) and net.dec2[0][0].kernel_size == (1, 3, 3)
    assert net.path1_up.kernel_size == (2, 2, 2)


@pytest.mark.parametrize("faithful", [False, True])
def test_original_window_geometry(faithful):
    geo = window_geometry(Net2D3D(7, faithful=faithful))
    assert geo.input == (5, 300, 300) and geo.output == (5, 296, 296)
    assert geo.offset == ((0, 2, 2) if faithful else (0, 0, 0))


@pytest.mark.parametrize("faithful", [False, True])
@pytest.mark.parametrize("shape", [(5, 60, 60), (3, 36, 44), (1, 24, 31)])
def test_forward_matches_declared_geometry(faithful, shape):
    net = Net2D3D(4, width=4, pyramid_width=4, faithful=faithful)
    out_shape, _ = net.output_window(shape)
    l3, l2 = net(torch.randn(2, 1, *shape))
    assert l3.shape == l2.shape == (2, 4) + out_shape


def test_faithful_mode_relu_logits_and_default_plain_logits():
    torch.manual_seed(0)
    plain = Net2D3D(3, width=4, pyramid_width=4)
    faithful = Net2D3D(3, width=4, pyramid_width=4, faithful=True)
    faithful.load_state_dict(plain.state_dict())
    x = torch.randn(1, 1, 5, 60, 60)
    p3, p2 = plain(x)
    f3, f2 = faithful(x)
    assert (p3 < 0).any() and (p2 < 0).any()
    assert (f3 >= 0).all() and (f2 >= 0).all()
    assert not torch.allclose(p3.clamp(min=0), f3)  # the data flow differs too, not only the ReLU


class _ZIndex(torch.nn.Module):
    """Stand-in for the pyramid's up-convolution: outputs each up-sampled slice's z index."""

    def forward(self, x):
        n, c, z, y, x_ = x.shape
        zz = torch.arange(2 * z, dtype=x.dtype).view(1, 1, 2 * z, 1, 1)
        return zz.expand(n, c, 2 * z, 2 * y, 2 * x_).clone()


@pytest.mark.parametrize("faithful, expected", [
    (False, [0.5, 2.5, 4.5, 6.5, 8.5]),  # slices (2k, 2k+1) both come from slice k: averaged
    (True, [2.0, 3.0, 4.0, 5.0, 6.0]),   # the original's centre crop z[2:7]: about one slice off
])
def test_pyramid_up_sampling_z_alignment(faithful, expected):
    net = Net2D3D(2, width=4, pyramid_width=2, faithful=faithful)
    net.path1_up = _ZIndex()
    with torch.no_grad():
        for p in net.path0.parameters():
            p.zero_()  # path 0 contributes ReLU(0) = 0
        net.predictor_3d.weight.zero_()
        net.predictor_3d.weight[:, 0] = 1.0  # logits = channel 0 of (path0 + path1)
        net.predictor_3d.bias.zero_()
        l3, _ = net(torch.randn(1, 1, 5, 24, 24))
    per_slice = l3[0, 0].mean(dim=(1, 2))
    assert torch.allclose(per_slice, torch.tensor(expected))


@pytest.mark.parametrize("kwargs, match", [
    (dict(width=5), "even"), (dict(n_classes=0), "n_classes"), (dict(pyramid_width=-1), "pyramid_width"),
])
def test_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        Net2D3D(**kwargs)


def test_too_small_window():
    with pytest.raises(ValueError, match="at least"):
        Net2D3D(7).output_window((5, 12, 12))


def test_norm_option_and_original_keys():
    import torch
    from emseg.models import Net2D3D
    plain = Net2D3D(7, width=4, pyramid_width=4)
    normed = Net2D3D(7, width=4, pyramid_width=4, norm="batch")
    n_convs = sum(isinstance(m, torch.nn.Conv3d) for m in plain.modules())
    n_norms = sum(isinstance(m, torch.nn.BatchNorm3d) for m in normed.modules())
    assert n_norms == n_convs - 2  # every conv but the two 1x1x1 predictors
    assert not any(isinstance(m, torch.nn.BatchNorm3d) for m in plain.modules())
    assert "enc0.0.0.weight" in plain.state_dict() and "enc0.0.0.bias" in plain.state_dict()
    assert "enc0.0.0.bias" not in normed.state_dict() and "enc0.0.1.running_mean" in normed.state_dict()
    assert normed.spec()["kwargs"]["norm"] == "batch"
    out3d, out2d = normed(torch.randn(2, 1, 3, 16, 16))
    assert out3d.shape == (2, 7, 3, 16, 16) and out2d.shape == (2, 7, 3, 16, 16)
    with pytest.raises(ValueError, match="faithful=True reproduces the original"):
        Net2D3D(7, norm="group", faithful=True)
