"""Training settings and named presets (a network plus the recipe that trains it).

:class:`TrainConfig` is the one place where a training setting is defined: its fields'
types, defaults and ``help`` metadata also make the ``[train]`` keys of the TOML
templates (:mod:`emseg.templates`) and the ``train`` command's options (:mod:`emseg.cli.train`).
"""
import dataclasses
import typing
from dataclasses import dataclass, field

from emseg.augment import AugmentConfig
from emseg.losses import LOSSES

__all__ = ["TrainConfig", "Preset", "PRESETS", "LR_SCHEDULES", "OPTIMIZERS", "LOSSES",
           "setting_help", "MODERN", "TASKS", "models_for_task"]

TASKS = ("labels", "ecs", "tracing")

PLATELET_ORGANELLES = (2, 3, 4, 5, 6)
LR_SCHEDULES = ("constant", "cosine", "poly")
OPTIMIZERS = ("adam", "adamw")
Ints = typing.Optional[typing.Tuple[int, ...]]
Floats = typing.Optional[typing.Tuple[float, ...]]


def _setting(default=None, help="", *, choices=None, factory=None):
    metadata = {"help": help, "choices": choices}
    if factory is not None:
        return field(default_factory=factory, metadata=metadata)
    return field(default=default, metadata=metadata)


@dataclass(frozen=True)
class TrainConfig:
    """Training settings. Defaults are the original 2D-3D recipe (Guay et al. 2021).

    Frozen: make variants with :meth:`replace`, e.g. ``config.replace(iterations=500)``.
    Every field's ``help`` is in :func:`setting_help`; the modern recipe's settings
    (``loss``, ``oversample``, ``optimizer``, ``weight_decay``, ``lr_schedule``,
    ``warmup``, ``grad_clip``, ``scale``) are off by default, so the defaults and the
    ``*-original`` presets stay the papers' recipes.
    """
    iterations: int = _setting(4140, "training iterations (original example 2: 5 epochs x 828 "
                                     "windows)")
    batch_size: int = _setting(1, "windows per iteration")
    lr: float = _setting(1e-3, "peak learning rate (U-Net original: 10**-3.3)")
    lr_schedule: str = _setting(
        "constant", "learning-rate decay over the run: constant; cosine (half cosine to 5 % "
        "of lr); poly ((1 - t)**0.9, to 0, as nnU-Net)", choices=LR_SCHEDULES)
    warmup: int = _setting(0, "iterations of linear learning-rate warm-up before the schedule")
    optimizer: str = _setting("adam", "adam, or adamw (decoupled weight decay)",
                              choices=OPTIMIZERS)
    weight_decay: float = _setting(0.0, "weight decay (adamw: decoupled, not applied to biases "
                                        "and normalisation layers; adam: L2 on every weight)")
    betas: typing.Tuple[float, float] = _setting(
        (1 - 10 ** -1.5, 1 - 10 ** -2.1), "Adam betas (original: 0.9684, 0.99206)")
    eps: float = _setting(1e-7, "Adam epsilon (TensorFlow's default)")
    grad_clip: typing.Optional[float] = _setting(None, "clip the gradient norm to this (none: "
                                                       "no clipping)")
    window: Ints = _setting(None, "input window (z, y, x) or (y, x), in working-resolution "
                                  "voxels (none: the network's default)")
    spacing: Ints = _setting(None, "bin width of the window grid (z, y, x) (none: output // 3, "
                                   "z: output // 2)")
    scale: Ints = _setting(None, "working resolution: bin the data by these factors, (z, y, x), "
                                 "(y, x) or one in-plane factor, for training and prediction "
                                 "(none: native)")
    oversample: float = _setting(0.0, "fraction of windows centred on a voxel of a randomly "
                                      "chosen foreground class present in the volume (nnU-Net: "
                                      "0.33)")
    loss: str = _setting("default", "default (the network's own loss: weighted cross-entropy "
                                    "for the U-Net and 2D-3D net) or dice_ce (soft Dice + "
                                    "cross-entropy)", choices=LOSSES)
    class_weights: Floats = _setting(None, "one loss weight per class (none: equal)")
    aux_weight: float = _setting(0.33, "weight of the auxiliary 2D loss (2D-3D net)")
    weight_floor: float = _setting(0.01, "added to every error weight")
    augment: typing.Optional[AugmentConfig] = _setting(
        help="augmentation (elastic, flips, brightness, contrast); none or false: off",
        factory=AugmentConfig)
    eval_every: int = _setting(1000, "validate (and checkpoint) every N iterations and at "
                                     "the end")
    eval_overlap: float = _setting(0.25, "tiled-prediction overlap for validation")
    organelle_classes: Ints = _setting(None, "also report MIoU over these classes (platelet: "
                                             "2..6)")
    seed: int = _setting(0, "data and augmentation seed (and the weights' seed where the "
                            "caller seeds them)")
    amp: bool = _setting(True, "mixed precision on CUDA (no effect on the CPU)")
    cpu_bf16: bool = _setting(True, "bfloat16 autocast on a CPU that computes bfloat16 natively "
                              "(AVX-512 BF16 or AMX), for networks without 3D convolutions; "
                              "float32 otherwise (and with false)")
    channels_last: bool = _setting(True, "store convolution weights (and so activations) "
                                   "channels-last while training: faster steps for the 2D and "
                                   "2D-3D nets on CPUs (bench/README.md)")
    prefetch: int = _setting(2, "batches of windows prepared ahead in a background thread while "
                                "the network trains; 0: each in the loop (the batches are the "
                                "same either way)")

    def replace(self, **changes):
        """A copy with some fields changed (unknown names raise ``TypeError``)."""
        return dataclasses.replace(self, **changes)


def setting_help(name):
    """The help text and choices of a :class:`TrainConfig` field: ``(help, choices or None)``."""
    f = TrainConfig.__dataclass_fields__[name]
    return f.metadata["help"], f.metadata["choices"]


# The modern recipe of the *-cpu presets (docs: "The training recipe"): Dice + CE, a third
# of the windows centred on foreground, AdamW with warm-up and a poly decay, gradient
# clipping, and flips + quarter turns (no elastic warp: at these budgets it slowed both the
# steps and the learning). The networks get a normalisation layer (model_kwargs).
MODERN = dict(loss="dice_ce", oversample=0.33, optimizer="adamw", weight_decay=1e-4,
              betas=(0.9, 0.999), eps=1e-8, lr=3e-3, lr_schedule="poly", warmup=50,
              grad_clip=12.0, augment=AugmentConfig(elastic=False, rotate=True))


@dataclass(frozen=True)
class Preset:
    """A named network + training recipe.

    Attributes
    ----------
    model : str
        A key of :data:`emseg.models.MODELS` (``'net2d3d'``, ``'unet2d'``, ``'unet3d'``,
        ``'reisoseg'``, ...; see :func:`emseg.models.build_model`).
    model_kwargs : dict
        Keyword arguments of the network (besides ``n_classes``).
    config : TrainConfig
        The recipe, including the window.
    task : {'labels', 'ecs', 'tracing'}
        What the network learns and so which workflow trains it: ``'labels'``, label
        volumes of ``n_classes`` classes (the ``train`` command, the templates);
        ``'ecs'``, the binary ECS masks of :func:`emseg.ecs.train_ecs`;
        ``'tracing'``, neurite probability maps of noise-unit stacks (example 5).
    """
    model: str
    model_kwargs: dict
    config: TrainConfig
    task: str = "labels"

    def build_model(self, n_classes=7, **overrides):
        """Build this preset's network (``overrides`` replace its keyword arguments)."""
        from emseg.models import build_model
        return build_model(self.model, n_classes=n_classes, **{**self.model_kwargs, **overrides})

    def build(self, n_classes=7, *, seed=0, iterations=None, model_options=None, **changes):
        """The network and the TrainConfig of one run of this preset.

        Parameters
        ----------
        n_classes : int
            Classes the network predicts.
        seed : int
            Seeds the initial weights (``torch.manual_seed``, just before the network is
            built) and ``config.seed`` (windows, augmentation): the same seed, the same run.
        iterations : int, optional
            Another number of iterations; ``eval_every`` is capped at it, so that a short
            run still validates (at its end).
        model_options : dict, optional
            Keyword arguments that replace the preset's network options.
        **changes
            Other :class:`TrainConfig` settings to change.

        Returns
        -------
        (SegmentationNet, TrainConfig)

        Examples
        --------
        >>> model, config = PRESETS["unet2d-cpu"].build(7, seed=1, iterations=50)
        >>> config.seed, config.iterations, config.eval_every
        (1, 50, 50)
        """
        import torch

        config = self.config.replace(seed=int(seed), **changes)
        if iterations is not None:
            config = config.replace(iterations=int(iterations),
                                    eval_every=min(config.eval_every, int(iterations)))
        torch.manual_seed(int(seed))
        return self.build_model(n_classes=n_classes, **(model_options or {})), config


PRESETS = {
    # the original notebooks' networks and settings (a GPU is advisable)
    "net2d3d-original": Preset("net2d3d", {}, TrainConfig(
        window=(5, 300, 300), spacing=(2, 100, 100), organelle_classes=PLATELET_ORGANELLES)),
    "unet2d-original": Preset("unet2d", {}, TrainConfig(
        iterations=36000, lr=10 ** -3.3, window=(572, 572), spacing=(1, 80, 80), eval_every=1800,
        aux_weight=0.0, organelle_classes=PLATELET_ORGANELLES)),
    # small networks that train in minutes on a laptop CPU, with the modern recipe (MODERN);
    # for data finer than about 8 nm per pixel also set scale (VNC's 4.6 nm: scale=2); the
    # 10 nm platelet geometry also gained from scale=2 (bench/README.md)
    "unet2d-cpu": Preset("unet2d", {"width": 16, "padding": "same", "norm": "batch"}, TrainConfig(
        iterations=1000, batch_size=4, window=(128, 128), eval_every=250,
        organelle_classes=PLATELET_ORGANELLES, **MODERN)),
    "net2d3d-cpu": Preset("net2d3d", {"width": 16, "pyramid_width": 16, "norm": "batch"},
                          TrainConfig(iterations=1000, batch_size=2, window=(5, 128, 128),
                                      eval_every=250, organelle_classes=PLATELET_ORGANELLES,
                                      **MODERN)),
    # the same networks and budgets with the recipe of the papers (before the modern recipe;
    # kept for the before/after figures of bench/bench_recipe.py)
    "unet2d-cpu-legacy": Preset("unet2d", {"width": 16, "padding": "same"}, TrainConfig(
        iterations=1000, batch_size=4, window=(128, 128), eval_every=250,
        organelle_classes=PLATELET_ORGANELLES)),
    "net2d3d-cpu-legacy": Preset("net2d3d", {"width": 16, "pyramid_width": 16}, TrainConfig(
        iterations=1000, batch_size=2, window=(5, 128, 128), eval_every=250,
        organelle_classes=PLATELET_ORGANELLES)),
    # 3D networks for anisotropic volumes (anisotropy = z spacing / xy spacing; 4 = platelet)
    "unet3d-cpu": Preset("unet3d", {"width": 8, "depth": 3, "anisotropy": 4.0}, TrainConfig(
        iterations=1000, batch_size=2, window=(16, 64, 64), eval_every=250,
        organelle_classes=PLATELET_ORGANELLES, **MODERN)),
    "reisoseg-cpu": Preset("reisoseg", {"features": (8, 8, 16, 16, 32), "anisotropy": 4.0},
                           TrainConfig(iterations=1000, batch_size=2, window=(16, 64, 64),
                                       eval_every=250, organelle_classes=PLATELET_ORGANELLES,
                                       **MODERN)),
    # ReIsoSeg sized like unet3d-cpu (370,538 kept parameters against 322,815; the PI module
    # apart), for comparisons at matched capacity (the ReIsoSeg claim): wider deep levels, the
    # same 8 channels at full resolution, which set the cost (833 against 609 s per 1,000
    # iterations of reisoseg-cpu, bench/bench_train.py --presets, 2026-12-05)
    "reisoseg-matched-cpu": Preset("reisoseg", {"features": (8, 16, 16, 32, 48),
                                                "anisotropy": 4.0},
                                   TrainConfig(iterations=1000, batch_size=2, window=(16, 64, 64),
                                               eval_every=250,
                                               organelle_classes=PLATELET_ORGANELLES, **MODERN)),
    # ECS-Net (extracellular space, binary): n_classes=2; shape weights as volume weights.
    # original: width 32, 512 x 512 tiles, batch 8, Adam lr 0.01 with betas (0.5, 0.999);
    # the original trained 1000 epochs of an unpublished data set (iterations: our choice)
    "ecsnet-original": Preset("ecsnet", {}, TrainConfig(
        iterations=20000, batch_size=8, lr=0.01, betas=(0.5, 0.999), eps=1e-8, window=(512, 512),
        eval_every=1000), task="ecs"),
    # CPU: width 8 (1.1 M parameters), 128 x 128 windows, batch 4, the modern recipe (its
    # dice_ce adds a soft Dice term to each stage's shape-weighted focal loss)
    "ecsnet-cpu": Preset("ecsnet", {"width": 8}, TrainConfig(
        iterations=1000, batch_size=4, window=(128, 128), eval_every=250, **MODERN), task="ecs"),
    # VoxResNet (neuron probability maps, 2 classes); original: width 32 / 64, 120^3 patches,
    # batch 3, SGD lr 0.01 halved every epoch (quirk Q1); here Adam with a cosine decay
    "voxresnet-original": Preset("voxresnet", {}, TrainConfig(
        iterations=20000, batch_size=3, lr=1e-3, lr_schedule="cosine", window=(120, 120, 120),
        eval_every=1000), task="tracing"),
    # CPU: width 8 / 16, one residual block per stage (81 k parameters), 32 x 64 x 64 windows,
    # the modern recipe (Dice + CE instead of the original class-weighted loss); 1,200
    # iterations: where the tracing claim's runs meet the plateau rule (400 did not)
    "voxresnet-cpu": Preset("voxresnet", {"width": 8, "blocks": 1}, TrainConfig(
        iterations=1200, batch_size=2, window=(32, 64, 64), eval_every=100,
        **{**MODERN, "lr": 2e-3}), task="tracing"),
    "reisoseg-original": Preset("reisoseg", {"pools": ((2, 2, 2), (1, 2, 2), (1, 2, 2), (2, 2, 2))},
                                TrainConfig(iterations=150000, batch_size=2, window=(32, 128, 128),
                                            eval_every=2500)),
}


def models_for_task(task="labels"):
    """The network names (keys of :data:`emseg.models.MODELS`) with a preset for ``task``
    (one of :data:`TASKS`), in the order of :data:`PRESETS`: e.g. the ``train`` command's
    ``--model`` choices."""
    if task not in TASKS:
        raise ValueError(f"unknown task {task!r}; choose one of {TASKS}")
    return list(dict.fromkeys(p.model for p in PRESETS.values() if p.task == task))
