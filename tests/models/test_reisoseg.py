import numpy as np
import pytest
import torch

from emseg.infer import predict
from emseg.models import count_parameters, window_geometry
from emseg.models.reisoseg import (DS_WEIGHTS, PERMUTATIONS, ReIsoSeg, _pseudo_isotropic,
                                   original_pools, pi_z_factors)
from emseg.models.unet3d import pooling_plan
from emseg.train import TrainConfig, fit

A, B = (1, 2, 2), (2, 2, 2)
TINY = (4, 4, 8, 8, 8)


pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.mark.parametrize("ani_scale, pools", [  # the reference sheet's trainer table
    ([1, 1, 1], (B, B, B, B)),
    ([1, 1, 2], (B, B, A, B)),
    ([1, 2, 2], (B, A, A, B)),
    ([2, 2, 2], (A, A, A, B)),
])
def test_original_pools_and_pi_factors(ani_scale, pools):
    assert original_pools(ani_scale) == pools
    # z_stage1 = ani_scale[1] * ani_scale[2] for x2, z_stage2 = ani_scale[2] for x3, x4 as is
    assert pi_z_factors(pools) == (ani_scale[1] * ani_scale[2], ani_scale[2], 1)


def test_default_plan_pools_in_plane_first():
    assert ReIsoSeg(2, features=TINY).pools == pooling_plan(4, 4) == (A, A, B, B)
    assert pi_z_factors(pooling_plan(8, 4)) == (4, 2, 1)
    assert pi_z_factors(pooling_plan(1, 4)) == (1, 1, 1)


@pytest.mark.parametrize("bad", [[1, 3, 1], [1, 2], "122"])
def test_bad_ani_scale(bad):
    with pytest.raises(ValueError, match="ani_scale must be 3 values"):
        original_pools(bad)


def test_bad_arguments():
    with pytest.raises(ValueError, match="not both"):
        ReIsoSeg(anisotropy=4, pools=original_pools([1, 2, 2]))
    with pytest.raises(ValueError, match="4 poolings"):
        ReIsoSeg(pools=[B, B, B])
    with pytest.raises(ValueError, match="features must be 5"):
        ReIsoSeg(features=(4, 4, 8))
    with pytest.raises(ValueError, match="alpha"):
        ReIsoSeg(alpha=1.5)


def test_parameter_counts_match_the_reference():
    """1.716 M ([1,1,1]) vs 1.698 M ([1,2,2]) in the original, which also holds ~3 k unused
    convs (Q3) that we do not build; PI blocks 6.5 k, 8.7 k, 11.6 k; PI module ~0.084 M."""
    iso, ani = (ReIsoSeg(2, pools=original_pools(s)) for s in ([1, 1, 1], [1, 2, 2]))
    assert count_parameters(ani) == 1_693_661
    assert count_parameters(iso) - count_parameters(ani) == 19_200  # (1,2,2) up-conv kernels
    assert [count_parameters(b) for b in (ani.pi.pi1, ani.pi.pi2, ani.pi.pi3)] == \
        [6_498, 8_664, 11_552]
    assert count_parameters(ani.pi) == 81_037
    assert [c.out_channels for c in ani.pi.squeeze] == [9, 12, 16]


@pytest.mark.parametrize("kwargs, window", [
    (dict(anisotropy=4), (4, 32, 32)),
    (dict(anisotropy=1), (16, 16, 32)),
    (dict(anisotropy=10), (2, 16, 48)),
    (dict(pools=original_pools([1, 2, 2])), (4, 32, 16)),
])
def test_forward_matches_declared_geometry(kwargs, window):
    net = ReIsoSeg(3, features=TINY, **kwargs)
    assert window_geometry(net, window).output == window
    x = torch.randn(1, 1, *window)
    low = tuple(s // p for s, p in zip(window, net.pools[0]))
    for axis_sub in "zxy":
        for axis_rot in range(4):
            outs = net.forward_branches(x, axis_sub=axis_sub, axis_rot=axis_rot)
            assert [o.shape[2:] for o in outs] == [window, window, low] * 2
    assert net.eval()(x).shape == (1, 3) + window


def test_bad_window():
    net = ReIsoSeg(2, features=TINY, anisotropy=4)  # z pools 1, 1, 2, 2
    with pytest.raises(ValueError, match=r"divisible by \(4, 16, 16\)"):
        net.output_window((6, 32, 32))


def test_permutations_are_their_own_inverse():
    x = torch.arange(2 * 3 * 4).reshape(1, 1, 2, 3, 4)
    for perm in PERMUTATIONS:
        assert torch.equal(x.permute(perm).permute(perm), x)


def test_pseudo_isotropic_up_sampling():
    x = torch.arange(2 * 2 * 4, dtype=torch.float32).reshape(1, 1, 2, 2, 4)
    z = _pseudo_isotropic(x, 2, "z")
    assert z.shape == (1, 1, 4, 2, 4) and torch.equal(z[:, :, 0], z[:, :, 1])
    assert torch.equal(z[:, :, ::2], x)
    sx = _pseudo_isotropic(x, 2, "x")  # blocky along x (dim 4), then up-sampled in z
    assert sx.shape == (1, 1, 4, 2, 4) and torch.equal(sx[..., 0], sx[..., 1])
    assert not torch.equal(sx, z)
    sy = _pseudo_isotropic(x, 2, "y")
    assert torch.equal(sy[:, :, :, 0], sy[:, :, :, 1])
    assert _pseudo_isotropic(x, 1, "x") is x


def test_eval_forward_never_touches_the_pi_module():
    net = ReIsoSeg(2, features=TINY, anisotropy=4)
    calls = []
    for module in net.pi.modules():
        module.register_forward_pre_hook(lambda m, args: calls.append(type(m).__name__))
    x = torch.randn(1, 1, 4, 32, 32)
    with torch.no_grad():
        ani = net.eval()(x)
        net.train()
        ani_in_train_mode = net.predict_logits(x)
    assert calls == []
    with torch.no_grad():
        outs = net.forward_branches(x)  # both branches: the PI module runs
    assert calls  # (the hooks work)
    # the anisotropic branch does not depend on the PI module's random choices
    torch.testing.assert_close(outs[3], ani)
    torch.testing.assert_close(ani_in_train_mode, ani)
    assert not torch.allclose(outs[0], outs[3])


def test_training_loss_mixes_the_branches_with_alpha():
    torch.manual_seed(0)
    x = torch.randn(2, 1, 4, 32, 32)
    target = (x[:, 0] > 0.5).long()
    for alpha in (0.0, 0.5):
        net = ReIsoSeg(2, features=TINY, anisotropy=4, alpha=alpha).train()
        out = net(x)
        assert isinstance(out, tuple) and len(out) == 6
        loss, l_ani, l_iso = net.training_loss(out, target, None, config=TrainConfig())
        assert not l_ani.requires_grad and not l_iso.requires_grad
        torch.testing.assert_close(loss.detach(), (1 - alpha) * l_iso + alpha * l_ani)
        loss.backward()
        pi_grad = sum(float(p.grad.abs().sum()) for p in net.pi.parameters() if p.grad is not None)
        assert pi_grad > 0
    with pytest.raises(ValueError, match="six head outputs"):
        net.training_loss(out[3], target, None, config=TrainConfig())


def test_alpha_1_skips_the_iso_branch_and_trains_the_ani_branch_the_same():
    torch.manual_seed(0)
    x = torch.randn(2, 1, 4, 32, 32)
    target = (x[:, 0] > 0.5).long()
    full = ReIsoSeg(2, features=TINY, anisotropy=4, alpha=0.5).train()
    skip = ReIsoSeg(2, features=TINY, anisotropy=4, alpha=1.0).train()
    skip.load_state_dict(full.state_dict())
    calls = []
    for module in skip.pi.modules():
        module.register_forward_pre_hook(lambda m, args: calls.append(type(m).__name__))
    torch.manual_seed(1)
    out_skip = skip(x)
    state = torch.get_rng_state()
    torch.manual_seed(1)
    out_full = full(x)
    assert torch.equal(state, torch.get_rng_state())  # the same draws either way
    assert calls == [] and out_skip[:3] == (None, None, None)
    for a, b in zip(out_skip[3:], out_full[3:]):
        torch.testing.assert_close(a, b)
    loss, l_ani, l_iso = skip.training_loss(out_skip, target, None, config=TrainConfig())
    assert l_iso is None and torch.equal(loss.detach(), l_ani)
    # the full forward with only the ani heads in the loss: the same loss and gradients
    ref, _, ref_iso = skip.training_loss((None, None, None) + tuple(out_full[3:]), target, None,
                                         config=TrainConfig())
    assert ref_iso is None
    with pytest.raises(ValueError, match="alpha = 0.5 needs the isotropic heads"):
        full.training_loss((None, None, None) + tuple(out_full[3:]), target, None,
                           config=TrainConfig())
    torch.testing.assert_close(loss, ref)
    loss.backward()
    ref.backward()
    unused = ("pi.", "heads.0.", "heads.1.", "heads.2.")  # the iso branch's own parameters
    for (name, p), q in zip(skip.named_parameters(), full.parameters()):
        if name.startswith(unused):
            assert p.grad is None
        else:
            torch.testing.assert_close(p.grad, q.grad, msg=name)
    with pytest.raises(ValueError, match="anisotropic heads"):
        skip.training_loss((out_skip[3],) * 3 + (None,) * 3, target, None, config=TrainConfig())


def test_deep_supervision_weights_and_low_resolution_targets():
    assert sum(DS_WEIGHTS) == pytest.approx(1.0)
    assert DS_WEIGHTS[0] == DS_WEIGHTS[3] == pytest.approx(1 / 3.5)
    net = ReIsoSeg(2, features=TINY, pools=original_pools([1, 2, 2]))  # pool 1 halves z too
    target = torch.zeros(1, 4, 32, 32, dtype=torch.long)
    good = [torch.zeros(1, 2, 4, 32, 32)] * 2 + [torch.zeros(1, 2, 2, 16, 16)]
    loss, _, _ = net.training_loss(tuple(good) * 2, target, None, config=TrainConfig())
    assert torch.isfinite(loss)
    with pytest.raises(ValueError, match="do not match"):
        net.training_loss(tuple(good[:2] + [good[0]]) * 2, target, None, config=TrainConfig())


def test_spec_rebuilds_the_same_network():
    for kwargs in (dict(anisotropy=10.0), dict(pools=original_pools([2, 2, 2])), {}):
        net = ReIsoSeg(2, features=TINY, **kwargs)
        copy = ReIsoSeg(**net.spec()["kwargs"])
        assert copy.pools == net.pools and copy.spec() == net.spec()
        copy.load_state_dict(net.state_dict())


def test_fit_reduces_the_loss_and_predict_uses_the_ani_branch(blob_volume):
    torch.manual_seed(0)
    net = ReIsoSeg(2, features=TINY, anisotropy=4)
    config = TrainConfig(iterations=20, batch_size=2, lr=1e-2, window=(4, 32, 32), augment=None,
                         eval_every=1000, amp=False)
    image, labels = blob_volume((8, 48, 48), 0, radius=(2.0, 6.0, 6.0))
    history = fit(net, (image, labels), config=config, device="cpu", progress=False)
    loss = np.array(history["loss"])
    assert np.isfinite(loss).all() and loss[-4:].mean() < 0.8 * loss[:4].mean()
    assert all(a is not None for a in history["loss_aux"])  # L_iso is recorded
    probs = predict(net, image, window=(4, 32, 32), device="cpu", progress=False)
    assert probs.shape == (2, 8, 48, 48)


def test_resumed_training_repeats_the_random_pi_choices(tmp_path, blob_volume):
    image, labels = blob_volume((4, 32, 32), 1, radius=(2.0, 6.0, 6.0))
    config = TrainConfig(iterations=4, batch_size=1, window=(4, 32, 32), augment=None,
                         eval_every=2, amp=False)
    torch.manual_seed(0)
    straight = fit(ReIsoSeg(2, features=TINY), (image, labels), config=config, device="cpu",
                   progress=False)
    torch.manual_seed(0)
    fit(ReIsoSeg(2, features=TINY), (image, labels), config=config.replace(iterations=2),
        output_dir=tmp_path, device="cpu", progress=False)
    torch.manual_seed(123)  # resuming restores the generator: the seed here does not matter
    resumed = fit(ReIsoSeg(2, features=TINY), (image, labels), config=config,
                  output_dir=tmp_path, resume=True, device="cpu", progress=False)
    assert resumed["loss"] == pytest.approx(straight["loss"], rel=1e-6)
