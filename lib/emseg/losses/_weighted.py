"""Losses.

The platelet recipe (Guay et al. 2021): per-voxel softmax cross-entropy weighted by
``error_weight + floor`` (floor 0.01); :func:`emseg.losses.segmentation_loss` adds
0.33 x the same on the auxiliary 2D logits of ``Net2D3D``.

Difference from the original: the original summed the weighted loss over the
voxels of a window; we average it, so the loss value does not depend on the window
size. With Adam this changes (almost) nothing but the printed numbers.
"""
import torch
import torch.nn.functional as F

__all__ = ["weighted_cross_entropy", "class_weight_tensor"]


def weighted_cross_entropy(logits, target, weights=None, *, floor=0.01, class_weights=None):
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
    class_weights : sequence of float, optional
        One factor per class, applied to the voxels of that (true) class; the mean
        stays a mean over voxels (not divided by the weights' sum).

    Returns
    -------
    torch.Tensor
        Scalar loss.
    """
    if logits.shape[0] != target.shape[0] or logits.shape[2:] != target.shape[1:]:
        raise ValueError(f"logits {tuple(logits.shape)} and target {tuple(target.shape)} "
                         "do not match: expected logits (N, C, *S) and target (N, *S)")
    ce = F.cross_entropy(logits.float(), target.long(), reduction="none")
    if class_weights is not None:
        ce = ce * class_weight_tensor(class_weights, logits.shape[1], device=ce.device)[target.long()]
    if weights is None:
        return ce.mean()
    if weights.shape != target.shape:
        raise ValueError(f"weights {tuple(weights.shape)} must have the target's shape {tuple(target.shape)}")
    return ((weights.float() + floor) * ce).mean()


def class_weight_tensor(class_weights, n_classes, *, device=None):
    """``class_weights`` as a float32 tensor of ``n_classes`` values (None: all ones).

    Raises
    ------
    ValueError
        Unless there is one finite, non-negative weight per class and not all are 0.
    """
    if class_weights is None:
        return torch.ones(n_classes, device=device)
    w = torch.as_tensor(class_weights, dtype=torch.float32, device=device).reshape(-1)
    if w.numel() != n_classes or not torch.isfinite(w).all() or (w < 0).any() or w.sum() <= 0:
        raise ValueError(f"class_weights must be {n_classes} non-negative numbers (one per class, "
                         f"not all 0), got {list(map(float, class_weights))}")
    return w
