import math

import numpy as np
import pytest
import torch

from emseg.infer import predict
from emseg.models import window_geometry
from emseg.models.unet3d import (UNet3D, conv_kernels, default_window, level_anisotropy,
                                 pooling_plan)
from emseg.train import TrainConfig, fit

A, B = (1, 2, 2), (2, 2, 2)  # in-plane-only and isotropic pools


pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.mark.parametrize("anisotropy, depth, plan", [
    (1.0, 4, (B, B, B, B)),          # FIB-SEM (Lucchi)
    (1.9, 3, (B, B, B)),             # below 2: isotropic enough
    (2.0, 4, (A, B, B, B)),
    (4.0, 4, (A, A, B, B)),          # SBF-SEM (platelets: 40 / 10 nm)
    (8.0, 4, (A, A, A, B)),
    (47.5 / 4.6, 4, (A, A, A, B)),   # VNC ssTEM: 10.3 -> 5.2 -> 2.6 -> 1.3
    (16.0, 4, (A, A, A, A)),
    (16.0, 2, (A, A)),
    (3.99, 3, (A, B, B)),            # 3.99 -> 1.995 < 2
])
def test_pooling_plan(anisotropy, depth, plan):
    assert pooling_plan(anisotropy, depth) == plan


@pytest.mark.parametrize("anisotropy, n_inplane", [(1, 0), (2, 1), (4, 2), (8, 3)])
def test_in_plane_pools_resolve_the_anisotropy_like_reisoseg_ani_scale(anisotropy, n_inplane):
    # ReIsoSeg's trainers RMA1/2/4/8 use 0/1/2/3 in-plane pools for anisotropy 1/2/4/8
    plan = pooling_plan(anisotropy, 4)
    assert sum(p == A for p in plan) == n_inplane
    assert plan[:n_inplane] == (A,) * n_inplane  # in-plane pools come first


def test_level_anisotropy_and_kernels():
    assert level_anisotropy(10.0, 4) == (10.0, 5.0, 2.5, 1.25, 1.25)
    assert conv_kernels(10.0, 4) == ((1, 3, 3),) * 3 + ((3, 3, 3),) * 2
    assert conv_kernels(1.0, 2) == ((3, 3, 3),) * 3


@pytest.mark.parametrize("bad", [0, -1.0, math.nan, math.inf, "4", True, None])
def test_bad_anisotropy(bad):
    with pytest.raises(ValueError, match="anisotropy must be a positive number"):
        pooling_plan(bad, 3)
    with pytest.raises(ValueError, match="anisotropy"):
        UNet3D(anisotropy=bad)


@pytest.mark.parametrize("anisotropy, depth, window", [
    (1.0, 2, (8, 16, 24)),
    (4.0, 3, (8, 32, 16)),
    (10.0, 3, (2, 16, 32)),   # only the last pool touches z: z needs to be even
    (10.0, 4, (6, 32, 32)),
])
def test_forward_matches_declared_geometry(anisotropy, depth, window):
    net = UNet3D(3, width=2, depth=depth, anisotropy=anisotropy)
    geo = window_geometry(net, window)
    assert geo.input == geo.output == window and geo.offset == (0, 0, 0)
    out = net(torch.randn(2, 1, *window))
    assert out.shape == (2, 3) + window


def test_bad_windows_name_sizes_that_fit():
    net = UNet3D(2, width=2, depth=3, anisotropy=4)  # pools (1,2,2) (1,2,2) (2,2,2): 2 x 8 x 8
    fits = r"divisible by \(2, 8, 8\) \(z, y, x\); y=20 is not \(sizes that fit: \[16, 24\]\)"
    with pytest.raises(ValueError, match=fits):
        net.output_window((4, 20, 16))
    with pytest.raises(ValueError, match="z=3"):
        net.output_window((3, 16, 16))
    with pytest.raises(ValueError, match="single voxel at the bottleneck"):
        net.output_window((2, 8, 8))
    assert UNet3D(2, width=2, depth=3, anisotropy=4, norm="batch").output_window((2, 8, 8))[0] \
        == (2, 8, 8)
    with pytest.raises(ValueError, match=r"needs a \(z, y, x\) window"):
        window_geometry(net, (16, 16))


@pytest.mark.parametrize("norm", ["instance", "batch", "group", "none"])
def test_norms(norm):
    net = UNet3D(2, width=4, depth=2, norm=norm)
    assert net(torch.randn(2, 1, 4, 8, 8)).shape == (2, 2, 4, 8, 8)
    has_bias = net.down[0][0].bias is not None
    assert has_bias == (norm == "none")


def test_bad_arguments():
    with pytest.raises(ValueError, match="norm must be one of"):
        UNet3D(norm="layer")
    with pytest.raises(ValueError, match="width must be a positive integer"):
        UNet3D(width=0)


def test_widths_are_capped_and_default_window_fits():
    net = UNet3D(2, width=32, depth=5, anisotropy=10.0)
    assert max(m.out_channels for m in net.modules() if isinstance(m, torch.nn.Conv3d)) == 320
    assert net.default_window == default_window(net.pools)
    assert window_geometry(net).input == net.default_window
    assert default_window(pooling_plan(4, 4)) == (32, 128, 128)
    assert default_window(pooling_plan(1, 4)) == (128, 128, 128)


def test_spec_rebuilds_the_same_network():
    net = UNet3D(2, width=4, depth=2, anisotropy=4.0, norm="group")
    spec = net.spec()
    assert spec == {"name": "UNet3D", "kwargs": {"n_classes": 2, "in_channels": 1, "width": 4,
                                                 "depth": 2, "anisotropy": 4.0, "norm": "group",
                                                 "max_width": 320}}
    copy = UNet3D(**spec["kwargs"])
    copy.load_state_dict(net.state_dict())
    x = torch.randn(1, 1, 4, 8, 8)
    assert torch.equal(copy.eval()(x), net.eval()(x))


def test_tiled_prediction_of_a_volume_that_is_not_a_window_multiple():
    net = UNet3D(3, width=2, depth=2, anisotropy=4)
    probs = predict(net, np.random.default_rng(0).normal(size=(5, 21, 18)), window=(2, 8, 8),
                    overlap=0.5, device="cpu", progress=False)
    assert probs.shape == (3, 5, 21, 18)
    np.testing.assert_allclose(probs.sum(0), 1.0, atol=1e-5)


def test_a_few_fit_iterations_reduce_the_loss(blob_volume):
    torch.manual_seed(0)
    net = UNet3D(2, width=4, depth=2, anisotropy=4)
    config = TrainConfig(iterations=30, batch_size=2, lr=1e-2, window=(4, 16, 16), augment=None,
                         eval_every=1000, amp=False)
    history = fit(net, blob_volume((8, 32, 32), 0), config=config, device="cpu", progress=False)
    loss = np.array(history["loss"])
    assert len(loss) == 30 and np.isfinite(loss).all()
    assert loss[-5:].mean() < 0.7 * loss[:5].mean()
