"""ECS-Net losses: hand-computed weight maps and focal values, the contrastive sampling and
both formulations, the total, and a few training steps that lower the loss."""
import math

import numpy as np
import pytest
import torch

from emseg.losses._ecs import (_info_nce, _sample_groups, ecs_loss, focal_shape_loss,
                               pixel_contrastive_loss, shape_weight_map)
from emseg.models.ecsnet import ECSNet


pytestmark = pytest.mark.usefixtures("one_thread")


# --------------------------------------------------------------------------- weight map

def test_weight_map_of_a_one_pixel_sheet_by_hand():
    m = np.zeros((9, 9), np.uint8)
    m[:, 4] = 1
    w, c = shape_weight_map(m, return_classes=True)
    # nf = 9, nb = 72: rf = 1, rb = 1/8. The sheet is edge (D = 1) and its own skeleton
    # (d = 0): W = rf + (rf + rf exp(1/25)); background: rb + rf (1 - D_out / 10)
    assert np.all(c[:, 4] == 3) and np.all(c[:, [0, 1, 2, 3, 5, 6, 7, 8]] == 0)
    np.testing.assert_allclose(w[:, 4], 2 + math.exp(1 / 25), rtol=1e-6)
    for x in (0, 1, 2, 3):
        np.testing.assert_allclose(w[:, x], 1 / 8 + 1 - (4 - x) / 10, rtol=1e-6)
    np.testing.assert_allclose(w[:, 8 - np.arange(4)], w[:, :4][:, ::-1][:, ::-1], rtol=1e-6)


@pytest.mark.parametrize("gap, is_gap", [(2, True), (6, True), (7, False)])
def test_thin_background_gaps_are_emphasised(gap, is_gap):
    m = np.zeros((20, 30), np.uint8)
    m[:, 5] = m[:, 6 + gap] = 1
    w, c = shape_weight_map(m, return_classes=True)
    between = slice(6, 6 + gap)
    nf, nb = 40, 560
    if is_gap:   # 7 x 7 closing fills gaps up to 6 px: weight 4 (rb + rf)
        assert np.all(c[:, between] == 1)
        np.testing.assert_allclose(w[:, between], 4 * (nf / nb + 1), rtol=1e-6)
    else:
        assert np.all(c[:, between] == 0)
    assert np.all(c[:, :5] == 0)   # no gap invented between a sheet and the image edge


def test_interior_weight_grows_with_depth():
    m = np.zeros((40, 40), np.uint8)
    m[:, 10:19] = 1                          # a 9-px band: depth 1..5
    w, c = shape_weight_map(m, return_classes=True)
    rf = 1.0                                 # ECS is the minority class
    assert np.all(c[:, 10] == 3) and np.all(c[:, 14] == 2)
    np.testing.assert_allclose(w[20, 14], rf + rf * math.exp(5 / 25), rtol=1e-6)
    np.testing.assert_allclose(w[20, 12], rf + rf * math.exp(3 / 25), rtol=1e-6)
    assert w[20, 14] > w[20, 12]


def test_same_structure_gets_same_weights_anywhere_in_the_image():
    # the original indexed the whole-image skeleton with tile-local coordinates, so a
    # structure's edge weights depended on which of 4 x 4 tiles it lay in
    blob = np.pad(np.ones((5, 11), np.uint8), 3)
    blob[5, 2:4] = 1                              # a spur: not symmetric
    h, w_ = blob.shape
    m = np.zeros((64, 64), np.uint8)
    m[2:2 + h, 2:2 + w_] = blob                   # tile (0, 0)
    m[44:44 + h, 40:40 + w_] = blob               # tile (2, 2) of 16 x 16 tiles
    w = shape_weight_map(m)
    np.testing.assert_array_equal(w[2:2 + h, 2:2 + w_], w[44:44 + h, 40:40 + w_])
    # edge pixels on the skeleton's ends get W = rf + W_sk with D_sk = 1 there
    assert w[2:2 + h, 2:2 + w_][blob == 1].max() == pytest.approx(2 + math.exp(1 / 25), rel=1e-6)
    np.testing.assert_array_equal(shape_weight_map(m), w)       # deterministic


def test_stack_is_processed_slice_by_slice_and_degenerate_slices_are_zero():
    a = np.zeros((16, 16), np.uint8)
    a[:, 3] = 1
    b = np.zeros((16, 20), bool)
    b[4:12, 4:12] = True
    stack = np.stack([a, np.zeros_like(a), np.ones_like(a)])
    w = shape_weight_map(stack)
    np.testing.assert_array_equal(w[0], shape_weight_map(a))
    assert np.all(w[1] == 0) and np.all(w[2] == 0) and w.dtype == np.float32
    assert shape_weight_map(b).shape == (16, 20)         # not square: fine


@pytest.mark.parametrize("mask, match", [
    (np.full((8, 8), 0.5), "binary"), (np.zeros(8), "2-D or 3-D"), (np.zeros((0, 4)), "empty"),
])
def test_weight_map_rejects_bad_masks(mask, match):
    with pytest.raises(ValueError, match=match):
        shape_weight_map(mask)


# --------------------------------------------------------------------------- focal loss

def test_focal_loss_by_hand():
    logits = torch.zeros(1, 1, 1, 2)                   # p = 0.5 everywhere: BCE = log 2
    target = torch.tensor([[[1, 0]]])
    # positive: alpha 0.25 x (1 - 0.5)^2; negative: 0.75 x 0.25; mean of the two
    expected = math.log(2) * (0.25 * 0.25 + 0.75 * 0.25) / 2
    assert focal_shape_loss(logits, target).item() == pytest.approx(expected, rel=1e-6)
    s = torch.tensor([[[1.0, 3.0]]])
    expected_s = math.log(2) * (0.25 * 0.25 * 2 + 0.75 * 0.25 * 4) / 2
    assert focal_shape_loss(logits, target, s).item() == pytest.approx(expected_s, rel=1e-6)
    # gamma = 0 and alpha = 0.5: half the plain BCE
    x = torch.randn(2, 1, 4, 4)
    t = (torch.rand(2, 4, 4) > 0.5).long()
    bce = torch.nn.functional.binary_cross_entropy_with_logits(x[:, 0], t.float())
    half_bce = focal_shape_loss(x, t, gamma=0.0, alpha=0.5)
    assert half_bce.item() == pytest.approx(0.5 * bce.item(), rel=1e-6)


def test_focal_loss_checks_its_inputs():
    with pytest.raises(ValueError, match="binary"):
        focal_shape_loss(torch.zeros(1, 1, 2, 2), torch.full((1, 2, 2), 2))
    with pytest.raises(ValueError, match="do not match"):
        focal_shape_loss(torch.zeros(1, 1, 2, 2), torch.zeros(1, 2, 3))
    with pytest.raises(ValueError, match="shape_weight"):
        focal_shape_loss(torch.zeros(1, 1, 2, 2), torch.zeros(1, 2, 2), torch.zeros(1, 3, 2))


# --------------------------------------------------------------------------- contrastive

def test_sampling_groups_ring_and_hard_easy_split():
    target = torch.zeros(1, 20, 20)
    target[0, 8:12, 8:12] = 1
    logits = torch.randn(1, 20, 20)
    groups = _sample_groups(logits, target, 1000, 2, None)
    names = ("f_easy", "f_hard", "f_all", "b_easy", "b_hard", "b_all")
    flat_t, flat_p = target.flatten(), torch.sigmoid(logits).flatten()
    sel = {k: n * 400 + p for k, (n, p) in zip(names, groups)}
    assert len(sel["f_all"]) == 16 and len(sel["b_all"]) == 8 * 8 - 16     # a 2-px ring
    assert torch.all(flat_t[sel["f_all"]] == 1) and torch.all(flat_t[sel["b_all"]] == 0)
    ys, xs = sel["b_all"] // 20, sel["b_all"] % 20
    assert ys.min() == 6 and ys.max() == 13 and xs.min() == 6 and xs.max() == 13
    # hard = low probability for ECS, high probability for the ring
    assert flat_p[sel["f_hard"]].max() <= flat_p[sel["f_easy"]].min()
    assert flat_p[sel["b_hard"]].min() >= flat_p[sel["b_easy"]].max()
    # draws are capped at n_samples
    assert all(len(g[0]) <= 3 for g in _sample_groups(logits, target, 3, 2, None))


def test_info_nce_matches_its_formula():
    torch.manual_seed(1)
    a, p, n = (torch.nn.functional.normalize(torch.randn(k, 5), dim=1) for k in (3, 4, 6))
    tau = 0.1
    want = []
    for i in range(3):
        for j in range(4):
            pos = torch.exp(a[i] @ p[j] / tau)
            want.append(-torch.log(pos / (pos + torch.exp(a[i] @ n.T / tau).sum())))
    assert _info_nce(a, p, n, tau).item() == pytest.approx(torch.stack(want).mean().item(), rel=1e-5)


class _Identity(torch.nn.Module):
    """Heads that return the normalised embedding as both z and q."""
    def forward(self, e):
        e = torch.nn.functional.normalize(e, dim=1)
        return e, e


def _separable(bg_sign):
    target = torch.zeros(2, 12, 12)
    target[:, 4:8, 4:8] = 1
    emb = torch.zeros(2, 2, 12, 12)
    emb[:, 0] = target              # ECS along e1
    emb[:, 0] += bg_sign * (1 - target)
    emb[:, 1] = (1 - target) * (1 if bg_sign == 0 else 0)   # background along e2 if orthogonal
    return emb, torch.randn(2, 1, 12, 12), target


def test_cosine_formulation_by_hand():
    # classes orthogonal: pull 2 - 1 - 1 = 0 twice, push 0: total 0
    emb, logits, target = _separable(0)
    loss = pixel_contrastive_loss(emb, logits, target, heads=_Identity(), formulation="cosine")
    assert loss.item() == pytest.approx(0.0, abs=1e-6)
    # classes opposite: each push term is -1 - 1 = -2, two of them: -4
    emb, logits, target = _separable(-1)
    loss = pixel_contrastive_loss(emb, logits, target, heads=_Identity(), formulation="cosine")
    assert loss.item() == pytest.approx(-4.0, abs=1e-6)


def test_infonce_uses_the_temperature_and_rewards_separation():
    emb, logits, target = _separable(-1)
    good = [pixel_contrastive_loss(emb, logits, target, heads=_Identity(), temperature=t).item()
            for t in (0.1, 0.5)]
    # positives at similarity 1, negatives at -1: loss = log(1 + n_neg exp(-2 / tau))
    n_neg = 4 * 4 * 2        # every ECS pixel of the batch is a negative for the ring, and
    n_ring = (8 * 8 - 16) * 2  # vice versa; average of the four (class, direction) terms
    want = [(2 * math.log1p(n_ring * math.exp(-2 / t)) + 2 * math.log1p(n_neg * math.exp(-2 / t))) / 4
            for t in (0.1, 0.5)]
    assert good == pytest.approx(want, rel=1e-5)
    torch.manual_seed(0)
    rand = pixel_contrastive_loss(torch.randn(2, 2, 12, 12), logits, target, heads=_Identity())
    assert rand.item() > good[0] + 1


def test_contrastive_loss_without_enough_ecs_is_zero_and_differentiable():
    emb = torch.randn(1, 4, 8, 8, requires_grad=True)
    loss = pixel_contrastive_loss(emb, torch.zeros(1, 1, 8, 8), torch.zeros(1, 8, 8),
                                  heads=_Identity())
    assert loss.item() == 0.0
    loss.backward()
    with pytest.raises(ValueError, match="formulation"):
        pixel_contrastive_loss(emb, torch.zeros(1, 1, 8, 8), torch.zeros(1, 8, 8),
                               heads=_Identity(), formulation="infoNCE!")


def test_mixed_precision_embeddings_reach_float32_heads():
    # under CUDA autocast the embedding is bf16/fp16 while the loss runs outside autocast
    net = ECSNet(width=4, depth=2, proj_dim=8).train()
    target = torch.zeros(2, 16, 16)
    target[:, 5:9, 5:9] = 1
    emb = torch.randn(2, 4, 16, 16).bfloat16().requires_grad_()
    loss = pixel_contrastive_loss(emb, torch.randn(2, 1, 16, 16).bfloat16(), target, heads=net.heads)
    loss.backward()
    assert loss.dtype == torch.float32 and emb.grad is not None


def test_total_loss_weights_and_parts():
    torch.manual_seed(0)
    net = ECSNet(width=4, depth=2, proj_dim=8).train()
    target = torch.zeros(2, 16, 16, dtype=torch.long)
    target[:, :, 6:9] = 1
    weights = torch.from_numpy(shape_weight_map(target.numpy()))
    out = net(torch.randn(2, 1, 16, 16))
    torch.manual_seed(5)                      # the projector's dropout
    g = torch.Generator().manual_seed(3)      # the pixel draws
    total, parts = ecs_loss(out, target, weights, heads=net.heads, generator=g)
    want = 0.1 * parts["contrastive"] + 0.5 * parts["focal"] + 0.5 * parts["focal_stage1"]
    assert total.item() == pytest.approx(want.item(), rel=1e-6)
    assert parts["focal"].item() == pytest.approx(
        focal_shape_loss(out.logits, target, weights).item(), rel=1e-6)
    torch.manual_seed(5)
    g = torch.Generator().manual_seed(3)      # same draws, same dropout: the same loss
    again, _ = ecs_loss(out, target, weights, heads=net.heads, generator=g)
    assert again.item() == pytest.approx(total.item(), rel=1e-6)
    with pytest.raises(ValueError, match="training mode"):
        ecs_loss(out.logits, target, heads=net.heads)


def test_a_few_adam_steps_lower_the_loss_on_a_tiny_batch():
    from emseg.data.phantoms.ecs import ecs_phantom
    vol = ecs_phantom((2, 32, 32), seed=0, voxel_size=(50.0, 9.0, 9.0), ecs_fraction=0.2,
                      gap_width=30.0)
    x = torch.from_numpy(vol.image)[:, None]
    y = torch.from_numpy(vol.labels.astype(np.int64))
    s = torch.from_numpy(shape_weight_map(vol.labels))
    torch.manual_seed(0)
    net = ECSNet(width=4, depth=2, proj_dim=8).train()
    opt = torch.optim.Adam(net.parameters(), lr=1e-2)
    g = torch.Generator().manual_seed(0)
    losses = []
    for _ in range(12):
        total, _ = ecs_loss(net(x), y, s, heads=net.heads, n_samples=64, generator=g)
        opt.zero_grad()
        total.backward()
        opt.step()
        losses.append(total.item())
    assert np.isfinite(losses).all()
    assert np.mean(losses[-3:]) < 0.8 * np.mean(losses[:3]), losses
