import pytest
import torch

from emseg.models import UNet2D, build_model, count_parameters, window_geometry


def test_original_parameter_count():
    # Ronneberger et al. 2015 with 7 classes: the number the platelet hub's example 3 printed
    assert count_parameters(UNet2D(n_classes=7)) == 31_030_983


def test_original_window_geometry():
    geo = window_geometry(UNet2D(7))
    assert geo.input == (1, 572, 572)
    assert geo.output == (1, 388, 388)
    assert geo.offset == (0, 92, 92)


@pytest.mark.parametrize("size", [44, 60, 76])
def test_small_valid_net_matches_declared_geometry(size):
    net = UNet2D(3, width=4, depth=2)
    (oy, ox), (fy, fx) = net.output_window((size, size + 16))
    out = net(torch.randn(2, 1, size, size + 16))
    assert out.shape == (2, 3, oy, ox)
    assert fy == (size - oy) // 2 and fx == (size + 16 - ox) // 2


def test_same_padding_keeps_size_and_checks_divisibility():
    net = UNet2D(2, width=4, depth=3, padding="same")
    assert net(torch.randn(1, 1, 32, 48)).shape == (1, 2, 32, 48)
    assert net.output_window((32, 48)) == ((32, 48), (0, 0))
    with pytest.raises(ValueError, match="divisible by 8"):
        net.output_window((30, 48))


def test_invalid_valid_size_suggests_sizes():
    net = UNet2D(7)
    with pytest.raises(ValueError, match="sizes that do"):
        net.output_window((570, 572))
    assert 572 in net.valid_sizes(570)
    for s in net.valid_sizes(300):
        net.output_window((s, s))  # every suggestion is accepted


def test_faithful_relu_on_logits():
    torch.manual_seed(1)
    plain = UNet2D(3, width=4, depth=2)
    faithful = UNet2D(3, width=4, depth=2, faithful=True)
    faithful.load_state_dict(plain.state_dict())
    x = torch.randn(1, 1, 60, 60)
    a, b = plain(x), faithful(x)
    assert (a < 0).any()
    assert torch.equal(torch.relu(a), b)


@pytest.mark.parametrize("kwargs, match", [
    (dict(n_classes=0), "n_classes"), (dict(width=2.5), "width"),
    (dict(depth=0), "depth"), (dict(padding="full"), "padding"),
])
def test_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        UNet2D(**kwargs)


def test_build_model_and_spec_round_trip():
    net = build_model("unet2d", n_classes=3, width=4, depth=2)
    spec = net.spec()
    assert spec["name"] == "UNet2D"
    again = build_model(spec["name"], **spec["kwargs"])
    assert count_parameters(again) == count_parameters(net)
    with pytest.raises(ValueError, match="unknown model"):
        build_model("resnet")


def test_2d_geometry_rejects_multi_slice_windows():
    with pytest.raises(ValueError, match="one slice"):
        window_geometry(UNet2D(3, width=4, depth=2), (3, 60, 60))


@pytest.mark.parametrize("norm, layer", [("batch", torch.nn.BatchNorm2d),
                                         ("instance", torch.nn.InstanceNorm2d),
                                         ("group", torch.nn.GroupNorm)])
def test_norm_layers_follow_every_conv_and_survive_a_checkpoint(tmp_path, norm, layer):
    from emseg.checkpoint import load_model, save_model
    net = UNet2D(3, width=8, depth=2, padding="same", norm=norm)
    convs = [m for m in net.modules() if isinstance(m, torch.nn.Conv2d) and m.kernel_size == (3, 3)]
    norms = [m for m in net.modules() if isinstance(m, layer)]
    assert len(norms) == len(convs) == 2 * (2 * 2 + 1)
    assert all(c.bias is None for c in convs)  # the norm's shift replaces the bias
    assert net.spec()["kwargs"]["norm"] == norm
    net.train()
    net(torch.randn(2, 1, 16, 16)).sum().backward()  # running statistics move
    save_model(net, tmp_path / "n.pt")
    back = load_model(tmp_path / "n.pt", device="cpu")
    net.eval()
    x = torch.randn(1, 1, 16, 16)
    with torch.no_grad():
        assert torch.equal(back(x), net(x))


def test_without_norm_the_layers_and_keys_are_the_originals():
    plain = UNet2D(7, width=4, depth=2)
    assert not any(isinstance(m, (torch.nn.BatchNorm2d, torch.nn.GroupNorm, torch.nn.InstanceNorm2d))
                   for m in plain.modules())
    # the converter and earlier checkpoints rely on these names: conv, ReLU, conv, ReLU
    assert [k for k in plain.state_dict() if k.startswith("down.0.")] == \
        ["down.0.0.weight", "down.0.0.bias", "down.0.2.weight", "down.0.2.bias"]
    assert UNet2D(7, width=4, depth=2, norm="none").norm is None
    with pytest.raises(ValueError, match="faithful=True reproduces the original"):
        UNet2D(7, norm="batch", faithful=True)
    with pytest.raises(ValueError, match="norm must be one of"):
        UNet2D(7, norm="layer")
