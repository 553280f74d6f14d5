"""Training: one small loop for every emseg network (see :func:`fit`).

Windows are sampled on a jittered grid over the training volumes, a set fraction
centred on rare-class voxels (:class:`WindowSampler`), augmented (:mod:`emseg.augment`),
and fed to the network with its loss (:mod:`emseg.losses`: the papers' losses, or Dice +
cross-entropy); Adam or AdamW with warm-up and a decaying rate, optional gradient
clipping, an optional working resolution; validation MIoU every N iterations;
``best``/``last`` checkpoints written atomically; exact resume. ``PRESETS`` name
networks with the recipes that train them (the originals, and small CPU variants).
"""
from emseg.train._config import PRESETS, TASKS, Preset, TrainConfig, models_for_task
from emseg.train._loop import check_config, fit, scheduled_lr
from emseg.train._sampler import WindowSampler

__all__ = ["fit", "check_config", "scheduled_lr", "TrainConfig", "Preset", "PRESETS", "TASKS",
           "models_for_task", "WindowSampler"]
