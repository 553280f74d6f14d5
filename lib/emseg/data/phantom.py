"""Deprecated name of :mod:`emseg.data.phantoms.platelet` (the data layer keeps its datasets in
``emseg.data.datasets`` and its phantoms in ``emseg.data.phantoms``). This name is the new
module itself, so every name and every patch applies to both; it will be removed in emseg 1.0.
"""
import sys
import warnings

import emseg.data.phantoms.platelet

warnings.warn("emseg.data.phantom moved to emseg.data.phantoms.platelet", DeprecationWarning, stacklevel=2)
sys.modules[__name__] = emseg.data.phantoms.platelet
