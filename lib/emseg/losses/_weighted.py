"""Losses.

The platelet recipe (Guay et al. 2021): per-voxel softmax cross-entropy weighted by
``error_weight + floor`` (floor 0.01), on the 3D logits plus 0.33 x the same on the
auxiliary 2D logits of ``Net2D3D``.

Difference from the original: the original summed the weighted loss over the
voxels of a window; we average it, so the loss value does not depend on the window
size. With Adam this changes (almost) nothing but the printed numbers.
"""
import torch
import torch.nn.functional as F

__all__ = ["weighted_cross_entropy", "segmentation_loss"]


def weighted_cross_entropy(logits, target, weights=None, *, floor=0.01):
    """Mean over voxels of ``(weights + floor) * cross_entropy(logits, target)``.

    Parameters
    ----------
    logits : torch.Tensor
        (N, C, *spatial) raw scores.
    target : torch.Tensor
        (N, *spatial) integer class ids.
    weights : torch.Tensor, optional
        (N, *spatial) per-voxel error weights; ``None`` weighs every voxel 1 (no floor added).
    floor : float
        Added to every weight so that no voxel is ignored (original: 0.01).

    Returns
    -------
    torch.Tensor
        Scalar loss.
    """
    if logits.shape[0] != target.shape[0] or logits.shape[2:] != target.shape[1:]:
        raise ValueError(f"logits {tuple(logits.shape)} and target {tuple(target.shape)} "
                         "do not match: expected logits (N, C, *S) and target (N, *S)")
    ce = F.cross_entropy(logits.float(), target.long(), reduction="none")
    if weights is None:
        return ce.mean()
    if weights.shape != target.shape:
        raise ValueError(f"weights {tuple(weights.shape)} must have the target's shape {tuple(target.shape)}")
    return ((weights.float() + floor) * ce).mean()


def segmentation_loss(output, target, weights=None, *, floor=0.01, aux_weight=0.33):
    """Loss of a network output: main term plus ``aux_weight`` x the auxiliary term.

    ``output`` is the logits tensor, or ``(main_logits, aux_logits)`` as returned by
    ``Net2D3D`` in training. Returns ``(total, main, aux)`` where ``aux`` is ``None``
    for single-output networks.
    """
    if isinstance(output, (tuple, list)):
        main, aux = output
        l_main = weighted_cross_entropy(main, target, weights, floor=floor)
        l_aux = weighted_cross_entropy(aux, target, weights, floor=floor)
        return l_main + aux_weight * l_aux, l_main, l_aux
    l_main = weighted_cross_entropy(output, target, weights, floor=floor)
    return l_main, l_main, None
