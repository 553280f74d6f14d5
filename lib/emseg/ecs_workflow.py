"""Deprecated location of :mod:`emseg.ecs.workflow` (the ECS application is one package,
:mod:`emseg.ecs`, which exports the same names: ``train_ecs``, ``predict_ecs``, ...).
This module will be removed in emseg 1.0."""
import warnings

from emseg.ecs.workflow import *  # noqa: F401,F403
from emseg.ecs.workflow import __all__  # noqa: F401

warnings.warn("emseg.ecs_workflow moved to emseg.ecs.workflow; import from emseg.ecs",
              DeprecationWarning, stacklevel=2)
