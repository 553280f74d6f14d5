"""Deprecated module of the Lucchi, Lucchi++ and VNC loaders: they live in
:mod:`emseg.data.datasets` (``lucchi``, ``vnc``), their entries in the one registry
:data:`emseg.data.registry.REGISTRY`. Importing this module warns; its names stay until
emseg 1.0.
"""
import warnings

from emseg.data.datasets.lucchi import (SPLITS, fetch_lucchi, fetch_lucchi_pp,  # noqa: F401
                                        load_lucchi, load_lucchi_pp)
from emseg.data.datasets.platelet import SyntheticDataWarning  # noqa: F401
from emseg.data.datasets.vnc import (VNC_CLASS_NAMES, VNC_LABEL_VALUES, VNC_TARGETS,  # noqa: F401
                                     load_vnc)
from emseg.data.registry import (ENTRY_KEYS, LUCCHI, LUCCHI_PP, REGISTRY, SOURCES,  # noqa: F401
                                 VNC)

__all__ = ["EM_DATASETS", "LUCCHI", "LUCCHI_PP", "VNC", "ENTRY_KEYS", "VNC_LABEL_VALUES",
           "VNC_CLASS_NAMES", "VNC_TARGETS", "SOURCES", "SPLITS", "SyntheticDataWarning",
           "load_lucchi", "load_lucchi_pp", "load_vnc", "fetch_lucchi", "fetch_lucchi_pp"]

#: The three datasets' entries of the one registry.
EM_DATASETS = {name: REGISTRY[name] for name in ("lucchi", "lucchi_pp", "vnc")}

warnings.warn("emseg.data.em_datasets is split into emseg.data.datasets.lucchi and .vnc, its "
              "entries are in emseg.data.registry; import the loaders from emseg.data",
              DeprecationWarning, stacklevel=2)
