"""VoxResNet's loss (emseg.losses.voxres_loss), checked by hand."""
import pytest
import torch

from emseg.losses import voxres_class_weights, voxres_loss


def test_class_weights_and_loss_by_hand():
    t = torch.tensor([[0, 0, 0, 1]])
    w = voxres_class_weights(t, 2)
    torch.testing.assert_close(w, torch.tensor([0.25001, 0.74999]))
    logits = torch.tensor([[[0.0, 0.0, 0.0, 0.0], [0.0, 0.0, 0.0, 2.0]]])  # (1, 2, 4)
    p1 = torch.sigmoid(torch.tensor([0.0, 0.0, 0.0, 2.0]))
    p = torch.stack([1 - p1, p1])
    ce_vox = -torch.log(torch.stack([p[0, 0], p[0, 1], p[0, 2], p[1, 3]]))
    cw = w[t[0]]
    ce = 0.5 * (ce_vox * cw).sum() / cw.sum()
    onehot = torch.stack([1 - t[0], t[0]]).float()
    dice = (2 * (p * onehot).sum(1) + 1) / (p.sum(1) + onehot.sum(1) + 1)
    total, ce_part, dice_part = voxres_loss(logits, t)
    torch.testing.assert_close(ce_part, ce)
    torch.testing.assert_close(dice_part, (w * (1 - dice)).sum())
    torch.testing.assert_close(total, ce + (w * (1 - dice)).sum())
    with pytest.raises(ValueError, match="do not match"):
        voxres_loss(logits, torch.zeros(1, 3, dtype=torch.long))


def test_loss_rewards_the_rare_foreground():
    t = torch.zeros(1, 100, dtype=torch.long)
    t[0, :5] = 1
    all_bg = torch.zeros(1, 2, 100)
    all_bg[:, 0] = 5.0
    right = all_bg.clone()
    right[0, :, :5] = torch.tensor([[-5.0], [5.0]])
    assert voxres_loss(all_bg, t)[0] > 0.5 > voxres_loss(right, t)[0]
