"""Training: one small loop for every emseg network (see :func:`fit`).

Windows are sampled on a jittered grid over the training volumes (:class:`WindowSampler`),
augmented (:mod:`emseg.augment`), and fed to the network with the weighted
cross-entropy of :mod:`emseg.losses`; Adam; validation MIoU every N iterations;
``best``/``last`` checkpoints written atomically; exact resume. ``PRESETS`` name
networks with the recipes that train them (the originals, and small CPU variants).
"""
from emseg.train._config import PRESETS, Preset, TrainConfig
from emseg.train._loop import fit
from emseg.train._sampler import WindowSampler

__all__ = ["fit", "TrainConfig", "Preset", "PRESETS", "WindowSampler"]
