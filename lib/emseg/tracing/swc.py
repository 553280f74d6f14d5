"""Deprecated location of :mod:`emseg.data.swc` (SWC trees moved to the data layer so that
the neuron phantoms need not import the tracing package). ``emseg.tracing`` still exports
the same names (``read_swc``, ``SwcTree``, ...); import them from there or from
:mod:`emseg.data.swc`. This module will be removed in a later release."""
import warnings

from emseg.data.swc import *  # noqa: F401,F403
from emseg.data.swc import __all__  # noqa: F401

warnings.warn("emseg.tracing.swc moved to emseg.data.swc; import from emseg.data.swc or "
              "emseg.tracing", DeprecationWarning, stacklevel=2)
