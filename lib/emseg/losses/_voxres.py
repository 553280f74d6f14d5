"""VoxResNet's own loss (Huang et al. 2021, the original ``DiceLossPlusCrossEntrophy``):
class-weighted cross-entropy plus class-weighted soft Dice, the classes weighed by their
share in each batch (:func:`voxres_class_weights`, the original ``GetWeight``)."""
import torch
import torch.nn.functional as F

__all__ = ["voxres_loss", "voxres_class_weights"]


def voxres_class_weights(target, n_classes):
    """Per-batch class weights of the original loss (``GetWeight``).

    For two classes ``[beta, 1 - beta]`` with ``beta = n_foreground / n_voxels + 1e-5``;
    for more, ``1 - fraction_c`` normalised to sum to 1 (the same for two classes).

    Examples
    --------
    >>> voxres_class_weights(torch.tensor([0, 0, 0, 1]), 2)
    tensor([0.2500, 0.7500])
    """
    counts = torch.bincount(target.reshape(-1).long(), minlength=n_classes)[:n_classes].float()
    frac = counts / counts.sum()
    if n_classes == 2:
        beta = frac[1] + 1e-5
        return torch.stack([beta, 1 - beta])
    w = 1 - frac
    return w / w.sum()


def voxres_loss(logits, target, weights=None, *, floor=0.01, ce_factor=0.5, smooth=1.0):
    """Class-weighted cross-entropy plus class-weighted soft Dice (the VoxResNet loss).

    Parameters
    ----------
    logits : torch.Tensor
        (N, C, *spatial) logits.
    target : torch.Tensor
        (N, *spatial) class ids.
    weights : torch.Tensor, optional
        Per-voxel error weights for the cross-entropy (``+ floor``).
    floor : float
        Added to the error weights.
    ce_factor : float
        Factor of the cross-entropy term (original 0.5: "weighted and dice: 0.5:1").
    smooth : float
        Dice smoothing (original 1).

    Returns
    -------
    tuple of torch.Tensor
        ``(total, ce_factor * CE_w, dice_term)``.

    Examples
    --------
    >>> t = torch.tensor([[0, 1, 1, 0]])
    >>> perfect = torch.stack([1 - t, t], 1).float() * 40 - 20
    >>> [round(float(v), 4) for v in voxres_loss(perfect, t)]
    [0.0, 0.0, 0.0]
    """
    if logits.ndim < 3 or logits.shape[0] != target.shape[0] or logits.shape[2:] != target.shape[1:]:
        raise ValueError(f"logits (N, C, *spatial) and target (N, *spatial) do not match: "
                         f"{tuple(logits.shape)} vs {tuple(target.shape)}")
    logits = logits.float()
    n_classes = logits.shape[1]
    target = target.long()
    w = voxres_class_weights(target, n_classes).to(logits.device)
    ce = F.cross_entropy(logits, target, reduction="none")
    vw = w[target]
    if weights is not None:
        vw = vw * (weights.float() + floor)
    ce = (ce * vw).sum() / vw.sum().clamp_min(1e-12)
    probs = torch.softmax(logits, dim=1)
    onehot = F.one_hot(target, n_classes).movedim(-1, 1).float()
    axes = (0,) + tuple(range(2, logits.ndim))
    inter = (probs * onehot).sum(axes)
    dice = (2 * inter + smooth) / (probs.sum(axes) + onehot.sum(axes) + smooth)
    dice_term = (w * (1 - dice)).sum()
    ce = ce_factor * ce
    return ce + dice_term, ce, dice_term
