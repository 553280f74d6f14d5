"""Training settings and named presets (a network plus the recipe that trains it)."""
import dataclasses
from dataclasses import dataclass, field

from emseg.augment import AugmentConfig

__all__ = ["TrainConfig", "Preset", "PRESETS"]

PLATELET_ORGANELLES = (2, 3, 4, 5, 6)


@dataclass(frozen=True)
class TrainConfig:
    """Training settings. Defaults are the original 2D-3D recipe (Guay et al. 2021).

    Frozen: make variants with :meth:`replace`, e.g. ``config.replace(iterations=500)``.
    """
    iterations: int = 4140             # original example 2: 5 epochs x 828 windows
    batch_size: int = 1                # original: 1
    lr: float = 1e-3                   # Adam learning rate (U-Net original: 10**-3.3)
    lr_schedule: str = "constant"      # or "cosine": half cosine, lr -> 5 % of lr at the end
    betas: tuple = (1 - 10 ** -1.5, 1 - 10 ** -2.1)  # original Adam betas (0.9684, 0.99206)
    eps: float = 1e-7                  # Adam epsilon (TensorFlow's default)
    window: tuple = None               # input window (z, y, x) or (y, x); None: the model's default
    spacing: tuple = None              # bin width of the window grid; None: output // 3 (z: out // 2)
    aux_weight: float = 0.33           # weight of the auxiliary 2D loss (Net2D3D)
    weight_floor: float = 0.01         # added to every error weight
    augment: AugmentConfig = field(default_factory=AugmentConfig)  # None: no augmentation
    eval_every: int = 1000             # validate (and checkpoint) every N iterations and at the end
    eval_overlap: float = 0.25         # tiled-prediction overlap for validation
    organelle_classes: tuple = None    # also report MIoU over these classes (platelet: 2..6)
    seed: int = 0                      # data/augmentation seed (weights: seed the model yourself)
    amp: bool = True                   # mixed precision on CUDA (no effect on the CPU)

    def replace(self, **changes):
        """A copy with some fields changed (unknown names raise ``TypeError``)."""
        return dataclasses.replace(self, **changes)


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
    """
    model: str
    model_kwargs: dict
    config: TrainConfig

    def build_model(self, n_classes=7, **overrides):
        """Build this preset's network (``overrides`` replace its keyword arguments)."""
        from emseg.models import build_model
        return build_model(self.model, n_classes=n_classes, **{**self.model_kwargs, **overrides})


PRESETS = {
    # the original notebooks' networks and settings (a GPU is advisable)
    "net2d3d-original": Preset("net2d3d", {}, TrainConfig(
        window=(5, 300, 300), spacing=(2, 100, 100), organelle_classes=PLATELET_ORGANELLES)),
    "unet2d-original": Preset("unet2d", {}, TrainConfig(
        iterations=36000, lr=10 ** -3.3, window=(572, 572), spacing=(1, 80, 80), eval_every=1800,
        aux_weight=0.0, organelle_classes=PLATELET_ORGANELLES)),
    # small networks that train in minutes on a laptop CPU
    "unet2d-cpu": Preset("unet2d", {"width": 16, "padding": "same"}, TrainConfig(
        iterations=1000, batch_size=4, window=(128, 128), eval_every=250,
        organelle_classes=PLATELET_ORGANELLES)),
    "net2d3d-cpu": Preset("net2d3d", {"width": 16, "pyramid_width": 16}, TrainConfig(
        iterations=1000, batch_size=2, window=(5, 128, 128), eval_every=250,
        organelle_classes=PLATELET_ORGANELLES)),
    # 3D networks for anisotropic volumes (anisotropy = z spacing / xy spacing; 4 = platelet)
    "unet3d-cpu": Preset("unet3d", {"width": 8, "depth": 3, "anisotropy": 4.0}, TrainConfig(
        iterations=1000, batch_size=2, window=(16, 64, 64), eval_every=250,
        organelle_classes=PLATELET_ORGANELLES)),
    "reisoseg-cpu": Preset("reisoseg", {"features": (8, 8, 16, 16, 32), "anisotropy": 4.0},
                           TrainConfig(iterations=1000, batch_size=2, window=(16, 64, 64),
                                       eval_every=250, organelle_classes=PLATELET_ORGANELLES)),
    # ECS-Net (extracellular space, binary): n_classes=2; shape weights as volume weights.
    # original: width 32, 512 x 512 tiles, batch 8, Adam lr 0.01 with betas (0.5, 0.999);
    # the original trained 1000 epochs of an unpublished data set (iterations: our choice)
    "ecsnet-original": Preset("ecsnet", {}, TrainConfig(
        iterations=20000, batch_size=8, lr=0.01, betas=(0.5, 0.999), eps=1e-8, window=(512, 512),
        eval_every=1000)),
    # CPU: width 8 (1.1 M parameters), 128 x 128 windows, batch 4, Adam lr 1e-3 with the
    # usual betas (emseg's default rate; the original's 0.01 was not tuned for this size)
    "ecsnet-cpu": Preset("ecsnet", {"width": 8}, TrainConfig(
        iterations=1000, batch_size=4, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, window=(128, 128),
        eval_every=250)),
    # VoxResNet (neuron probability maps, 2 classes); original: width 32 / 64, 120^3 patches,
    # batch 3, SGD lr 0.01 halved every epoch (quirk Q1); here Adam with a cosine decay
    "voxresnet-original": Preset("voxresnet", {}, TrainConfig(
        iterations=20000, batch_size=3, lr=1e-3, lr_schedule="cosine", window=(120, 120, 120),
        eval_every=1000)),
    # CPU: width 8 / 16, one residual block per stage (81 k parameters), 32 x 64 x 64 windows
    "voxresnet-cpu": Preset("voxresnet", {"width": 8, "blocks": 1}, TrainConfig(
        iterations=400, batch_size=2, lr=2e-3, lr_schedule="cosine", window=(32, 64, 64),
        eval_every=100)),
    "reisoseg-original": Preset("reisoseg", {"pools": ((2, 2, 2), (1, 2, 2), (1, 2, 2), (2, 2, 2))},
                                TrainConfig(iterations=150000, batch_size=2, window=(32, 128, 128),
                                            eval_every=2500)),
}
