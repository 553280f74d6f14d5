"""Deprecated name of :mod:`emseg.templates` (the TOML templates moved into a package of
their own, with the template files beside them). Import from :mod:`emseg.templates`; this
module will be removed in emseg 1.0."""
import warnings

from emseg.templates import *  # noqa: F401,F403
from emseg.templates import __all__  # noqa: F401

warnings.warn("emseg.config is now emseg.templates; import from emseg.templates",
              DeprecationWarning, stacklevel=2)
