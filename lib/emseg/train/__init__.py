"""Training: one small loop for every emseg network (see :func:`fit`).

Windows are sampled on a jittered grid over the training volumes (:class:`WindowSampler`),
augmented (:mod:`emseg.augment`), and fed to the network with the weighted
cross-entropy of :mod:`emseg.losses`; Adam; validation MIoU every N iterations;
``best``/``last`` checkpoints written atomically; exact resume.
"""
from emseg.train._loop import PRESETS, TrainConfig, fit
from emseg.train._sampler import WindowSampler

__all__ = ["fit", "TrainConfig", "PRESETS", "WindowSampler"]
