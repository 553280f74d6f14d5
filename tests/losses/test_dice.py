import math

import pytest
import torch

from emseg.losses import (dice_ce_loss, ecs_loss, segmentation_loss, soft_dice_loss,
                          weighted_cross_entropy)
from emseg.losses._ecs import binary_dice_loss


def test_dice_ce_loss_extremes():
    target = torch.tensor([[0, 1, 1, 0]])
    perfect = torch.stack([1 - target, target], dim=1).float() * 40 - 20
    assert float(dice_ce_loss(perfect, target)) == pytest.approx(0.0, abs=1e-6)
    wrong = -perfect
    assert float(dice_ce_loss(wrong, target)) > 1.9  # Dice ~0 and a large cross-entropy
    # an empty target predicted empty: the smoothed foreground Dice is ~1
    empty = torch.zeros(1, 4, dtype=torch.long)
    bg = torch.stack([torch.ones(1, 4), torch.zeros(1, 4)], dim=1) * 20
    assert float(dice_ce_loss(bg, empty)) < 0.01


def test_soft_dice_hand_computed():
    # uniform logits over 2 classes: p = 0.5 everywhere; 1 of 4 voxels is foreground
    logits = torch.zeros(1, 2, 4)
    target = torch.tensor([[1, 0, 0, 0]])
    # foreground Dice = 2 * 0.5 / (sum p = 2 + sum t = 1) = 1/3
    assert float(soft_dice_loss(logits, target, smooth=0)) == pytest.approx(2 / 3, rel=1e-6)
    # with the background: Dice_0 = 2 * 1.5 / (2 + 3) = 0.6, mean loss = (0.4 + 2/3) / 2
    assert float(soft_dice_loss(logits, target, include_background=True, smooth=0)) == \
        pytest.approx((0.4 + 2 / 3) / 2, rel=1e-6)
    # Dice + CE = log 2 + 2/3
    assert float(dice_ce_loss(logits, target, smooth=0)) == pytest.approx(math.log(2) + 2 / 3,
                                                                          rel=1e-6)


def test_batch_dice_pools_the_windows():
    # class 1 present in window 0 only; window 1 predicts it half-way: batch Dice counts both
    logits = torch.zeros(2, 2, 2)
    target = torch.tensor([[1, 1], [0, 0]])
    # sum p1 = 2 (4 voxels x 0.5), sum t1 = 2, intersection = 1: Dice = 2 / 4
    assert float(soft_dice_loss(logits, target, smooth=0)) == pytest.approx(0.5, rel=1e-6)


def test_class_weights_weigh_dice_and_ce():
    logits = torch.zeros(1, 3, 3)  # uniform over 3 classes
    target = torch.tensor([[0, 1, 2]])
    # Dice of classes 1, 2: 2 * (1/3) / (1 + 1) = 1/3 each; weights 1 and 3 -> still 2/3
    w = [1.0, 1.0, 3.0]
    assert float(soft_dice_loss(logits, target, class_weights=w, smooth=0)) == \
        pytest.approx(2 / 3, rel=1e-6)
    # CE: log 3 per voxel, times the true class's weight, averaged: log 3 * (1 + 1 + 3) / 3
    assert float(weighted_cross_entropy(logits, target, class_weights=w)) == \
        pytest.approx(math.log(3) * 5 / 3, rel=1e-6)
    sharper = torch.tensor([[[5.0, 0, 0], [0, 5.0, 0], [0, 0, -5.0]]])  # class 2 missed
    heavy = float(soft_dice_loss(sharper, target, class_weights=[1, 1, 10]))
    light = float(soft_dice_loss(sharper, target, class_weights=[1, 10, 1]))
    assert heavy > light  # the missed class counts more with its larger weight
    with pytest.raises(ValueError, match="class_weights must be 3"):
        soft_dice_loss(logits, target, class_weights=[1, 2])
    with pytest.raises(ValueError, match="non-negative"):
        weighted_cross_entropy(logits, target, class_weights=[1, -1, 1])


def test_error_weights_apply_to_the_ce_term_only():
    logits = torch.zeros(1, 2, 4)
    target = torch.tensor([[1, 0, 0, 0]])
    w = torch.tensor([[3.0, 0.0, 0.0, 0.0]])
    got = float(dice_ce_loss(logits, target, w, floor=0.0, smooth=0))
    ce = math.log(2) * 3 / 4  # mean of w * log 2
    assert got == pytest.approx(ce + 2 / 3, rel=1e-6)


def test_segmentation_loss_kinds():
    torch.manual_seed(0)
    main, aux = torch.randn(2, 3, 4, 4), torch.randn(2, 3, 4, 4)
    target = torch.randint(0, 3, (2, 4, 4))
    total, l_main, l_aux = segmentation_loss((main, aux), target, aux_weight=0.5, loss="dice_ce")
    assert float(l_main) == pytest.approx(float(dice_ce_loss(main, target)), rel=1e-6)
    assert float(total) == pytest.approx(float(l_main) + 0.5 * float(l_aux), rel=1e-6)
    plain, _, _ = segmentation_loss(main, target)
    assert float(plain) == pytest.approx(float(weighted_cross_entropy(main, target)), rel=1e-6)
    with pytest.raises(ValueError, match="loss must be one of"):
        segmentation_loss(main, target, loss="focal")


def test_binary_dice_and_the_ecs_dice_term():
    t = torch.tensor([[[1.0, 0.0], [0.0, 0.0]]])
    x = torch.zeros(1, 1, 2, 2)  # p = 0.5: Dice = 2 * 0.5 / (2 + 1) = 1/3
    assert float(binary_dice_loss(x, t, smooth=0)) == pytest.approx(2 / 3, rel=1e-6)
    out = (x, None, None)
    plain, parts = ecs_loss(out, t, heads=None, contrastive_weight=0)
    with_dice, _ = ecs_loss(out, t, heads=None, contrastive_weight=0, dice_weight=1.0)
    assert float(with_dice) - float(plain) == pytest.approx(float(binary_dice_loss(x, t)),
                                                            rel=1e-5)
