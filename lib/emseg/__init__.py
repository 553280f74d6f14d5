"""emseg: deep-learning segmentation of EM and light-microscopy volumes.

The library behind the emseg example hub. Data flows one way::

    emseg.data  ->  emseg.models  ->  emseg.train  ->  emseg.infer  ->  emseg.metrics

Every public function takes and returns numpy arrays; ``device=None`` means
"pick CUDA when available, else CPU". Submodules are imported lazily so that
``import emseg`` stays cheap.
"""
import importlib

__version__ = "0.1.0"

__all__ = ["data", "models", "train", "infer", "metrics", "losses", "augment", "device",
           "checkpoint", "baselines", "plot", "workflow", "pretrained", "tfcheckpoint", "run", "report", "ecs", "tracing", "config", "blockwise"]


def __getattr__(name):
    if name in __all__:
        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module 'emseg' has no attribute {name!r}")
