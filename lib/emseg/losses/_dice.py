"""Soft Dice and Dice + cross-entropy: the loss of the modern training recipe.

``dice_ce_loss = CE + (1 - soft Dice)``, with the soft Dice taken over the
foreground classes (class 0 is the background) and over the whole batch ("batch
Dice", as nnU-Net): a class absent from every window of a batch then contributes an
almost constant term with almost no gradient instead of a noisy per-window score.
Error weights (and the floor) apply to the cross-entropy term only; optional class
weights weigh both terms. :func:`segmentation_loss` is what the networks' default
``training_loss`` calls: either loss, plus ``Net2D3D``'s auxiliary term.
"""
import torch
import torch.nn.functional as F

from emseg.losses._weighted import class_weight_tensor, weighted_cross_entropy

__all__ = ["soft_dice_loss", "dice_ce_loss", "segmentation_loss", "LOSSES"]

LOSSES = ("default", "dice_ce")  # TrainConfig.loss: the network's own loss, or Dice + CE


def soft_dice_loss(logits, target, *, class_weights=None, include_background=False,
                   smooth=1e-5):
    """``1 - soft Dice`` of softmax ``logits``, averaged over classes (batch Dice).

    Parameters
    ----------
    logits : torch.Tensor
        (N, C, *spatial) raw scores.
    target : torch.Tensor
        (N, *spatial) integer class ids.
    class_weights : sequence of float, optional
        One weight per class (all C classes); the classes' ``1 - Dice`` terms are
        averaged with these weights. Default: equal weights.
    include_background : bool
        Also score class 0 (always, when C == 1).
    smooth : float
        Added to the numerator and denominator of each class's Dice.

    Returns
    -------
    torch.Tensor
        Scalar in [0, 1].

    Examples
    --------
    >>> target = torch.tensor([[0, 1, 1, 0]])
    >>> perfect = torch.stack([1 - target, target], 1).float() * 40 - 20
    >>> round(float(soft_dice_loss(perfect, target)), 4)
    0.0
    """
    _check_shapes(logits, target)
    n_classes = logits.shape[1]
    probs = torch.softmax(logits.float(), dim=1)
    onehot = F.one_hot(target.long(), n_classes).movedim(-1, 1).to(probs.dtype)
    axes = (0,) + tuple(range(2, logits.ndim))
    inter = (probs * onehot).sum(axes)
    denom = probs.sum(axes) + onehot.sum(axes)
    dice = (2 * inter + smooth) / (denom + smooth)
    weights = class_weight_tensor(class_weights, n_classes, device=probs.device)
    if n_classes > 1 and not include_background:
        dice, weights = dice[1:], weights[1:]
    return ((1 - dice) * weights).sum() / weights.sum().clamp_min(1e-12)


def dice_ce_loss(logits, target, weights=None, *, floor=0.01, class_weights=None, smooth=1e-5):
    """Cross-entropy plus ``1 - soft Dice`` over the foreground classes (batch Dice).

    As nnU-Net's ``DC_and_CE_loss`` (batch Dice, no background) up to a constant:
    that adds ``-Dice``, this ``1 - Dice``, so a perfect prediction costs 0.

    Parameters
    ----------
    logits : torch.Tensor
        (N, C, *spatial).
    target : torch.Tensor
        (N, *spatial) class ids.
    weights : torch.Tensor, optional
        Per-voxel error weights for the cross-entropy term (see
        :func:`emseg.losses.weighted_cross_entropy`).
    floor : float
        Added to the error weights.
    class_weights : sequence of float, optional
        Per-class weights of both terms (C values).
    smooth : float
        Dice smoothing.

    Returns
    -------
    torch.Tensor
        Scalar.

    Examples
    --------
    >>> logits = torch.tensor([[[-9.0, 9.0], [9.0, -9.0]]])  # (1, 2, 2): a perfect prediction
    >>> round(float(dice_ce_loss(logits, torch.tensor([[1, 0]]))), 4)
    0.0
    """
    ce = weighted_cross_entropy(logits, target, weights, floor=floor, class_weights=class_weights)
    return ce + soft_dice_loss(logits, target, class_weights=class_weights, smooth=smooth)


def _check_shapes(logits, target):
    if logits.ndim < 3 or logits.shape[0] != target.shape[0] or logits.shape[2:] != target.shape[1:]:
        raise ValueError(f"logits {tuple(logits.shape)} and target {tuple(target.shape)} "
                         "do not match: expected logits (N, C, *S) and target (N, *S)")


def segmentation_loss(output, target, weights=None, *, floor=0.01, aux_weight=0.33, loss="default",
                      class_weights=None):
    """Loss of a network output: main term plus ``aux_weight`` x the auxiliary term.

    ``output`` is the logits tensor, or ``(main_logits, aux_logits)`` as returned by
    ``Net2D3D`` in training. ``loss`` is ``'default'`` (the platelet recipe's weighted
    cross-entropy) or ``'dice_ce'`` (:func:`emseg.losses.dice_ce_loss`, error weights on
    its cross-entropy term). Returns ``(total, main, aux)`` where ``aux`` is ``None``
    for single-output networks.
    """
    if loss not in LOSSES:
        raise ValueError(f"loss must be one of {LOSSES}, got {loss!r}")
    term = dice_ce_loss if loss == "dice_ce" else weighted_cross_entropy
    if isinstance(output, (tuple, list)):
        main, aux = output
        l_main = term(main, target, weights, floor=floor, class_weights=class_weights)
        l_aux = term(aux, target, weights, floor=floor, class_weights=class_weights)
        return l_main + aux_weight * l_aux, l_main, l_aux
    l_main = term(output, target, weights, floor=floor, class_weights=class_weights)
    return l_main, l_main, None
