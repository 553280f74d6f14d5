import math

import pytest
import torch

from emseg.losses import segmentation_loss, weighted_cross_entropy


def test_uniform_logits_give_log_c_times_mean_weight():
    logits = torch.zeros(1, 4, 2, 3)  # uniform over 4 classes: CE = log 4 everywhere
    target = torch.tensor([[[0, 1, 2], [3, 0, 1]]])
    weights = torch.tensor([[[0.0, 1.0, 2.0], [3.0, 0.0, 0.0]]])
    loss = weighted_cross_entropy(logits, target, weights, floor=0.01)
    # mean(w + 0.01) = (6 + 6 * 0.01) / 6 = 1.01
    assert loss.item() == pytest.approx(math.log(4) * 1.01, rel=1e-6)
    assert weighted_cross_entropy(logits, target).item() == pytest.approx(math.log(4), rel=1e-6)


def test_confident_correct_prediction_costs_nothing():
    target = torch.tensor([[0, 1]])
    logits = torch.tensor([[[50.0, -50.0], [-50.0, 50.0]]])  # (N=1, C=2, S=2)
    assert weighted_cross_entropy(logits, target, torch.ones(1, 2)).item() < 1e-20


def test_auxiliary_term_weighted():
    torch.manual_seed(0)
    main, aux = torch.randn(2, 3, 4, 4), torch.randn(2, 3, 4, 4)
    target = torch.randint(0, 3, (2, 4, 4))
    total, l_main, l_aux = segmentation_loss((main, aux), target, aux_weight=0.33)
    assert total.item() == pytest.approx(l_main.item() + 0.33 * l_aux.item(), rel=1e-6)
    single, l1, none = segmentation_loss(main, target)
    assert none is None and single.item() == pytest.approx(l_main.item())


def test_shape_mismatch_is_explained():
    with pytest.raises(ValueError, match="do not match"):
        weighted_cross_entropy(torch.zeros(1, 2, 4, 4), torch.zeros(1, 4, 5, dtype=torch.long))
    with pytest.raises(ValueError, match="weights"):
        weighted_cross_entropy(torch.zeros(1, 2, 4, 4), torch.zeros(1, 4, 4, dtype=torch.long),
                               torch.ones(1, 4, 3))
