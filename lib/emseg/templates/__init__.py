"""Reusable training and prediction templates: a TOML file + a folder of your data.

(Until emseg 1.0 these are importable as ``emseg.config`` too, with a DeprecationWarning.)

A config file names the data folder, the network and the settings::

    [data]
    folder = "my-data"        # train/, test/ (and val/), each with images/ and labels/
    n_classes = 2

    [model]
    name = "unet3d"           # unet2d, unet3d, reisoseg, net2d3d, ecsnet
    width = 16                # any other key is a keyword argument of the network
    anisotropy = 4.0

    [train]
    output = "runs/unet3d"    # checkpoints, history.json, metrics.json, training-curve.png
    iterations = 2000         # any field of emseg.train.TrainConfig; omitted ones keep its defaults
    window = [32, 128, 128]
    loss = "dice_ce"          # settings with choices are checked: default or dice_ce
    scale = 2                 # an integer (in-plane binning) or a list (z, y, x)
    augment = {elastic = false}  # true, false, or fields of emseg.augment.AugmentConfig

    [predict]
    overlap = 0.25            # options of emseg.infer.predict; writes TIFFs and metrics.json

then ``train_from_config("my.toml")`` and ``predict_from_config("my.toml")``, or from a
terminal ``python -m emseg train --config my.toml`` and ``python -m emseg predict --config
my.toml``. Ready templates for the 2D U-Net, the 3D U-Net, ReIsoSeg and the 2D-3D net are
in this package's folder (:func:`template_path`; ``python -m emseg template NAME`` copies
one).
Relative paths are relative to the config file's folder (to the current folder when a
template is named instead of a file).

The ``[train]`` keys are derived from :class:`emseg.train.TrainConfig` (:class:`TrainSection`):
every field is a key, with its type and choices, so a setting is defined in one place.
A setting that may be empty (``grad_clip``, ``window``, ``scale``, ``class_weights``, ...)
is cleared with the string ``"none"``, e.g. ``grad_clip = "none"`` to turn off a preset's
gradient clipping (TOML has no null; a key left out keeps the preset's value).

**Overrides.** ``"section.key=value"`` strings (:func:`parse_assignment`,
:func:`apply_overrides`; ``--set`` on the command line) change single keys without
editing the file, with the same checks: ``train.iterations=20``,
``train.window=[16, 64, 64]``, ``model.anisotropy=10``,
``"train.augment={flips = false}"``. The value is a TOML value; a bare word that is
not valid TOML is taken as a string (``data.folder=my-data``).

**Folder layout.** ``images`` holds the images and ``labels`` the labels of each split
(``train``, ``val``, ``test``), as ``.tif``/``.tiff``/``.png`` files (the same layout as
ECS-Net's folders; the older names ``x`` and ``y`` are read, with a warning, until
emseg 1.0). Either every file is a 2D image (PNG or one-page TIFF): then the folder is
one stack of sections in natural name order (``s2`` before ``s10``); or the files
are volumes (multi-page TIFFs), one volume per file, paired with the ``labels`` file of
the same name (or in name order when the names differ). Labels are integer class
ids ``0 .. n_classes - 1``, or raw values listed in ``data.label_values``
(``[0, 255]`` for black/white masks: 0 becomes class 0, 255 class 1). Images are
z-scored per volume, as everywhere in emseg.

Errors name the file and, for config keys, the line.

Modules: :mod:`emseg.templates.schema` (the sections, reading, overrides, writing) and
:mod:`emseg.templates.run` (build, train and predict from a config). The folders are read
by :func:`emseg.data.io.read_folder_pair`, the data layer's reader.
"""
from emseg.data.io import read_folder_pair
from emseg.templates.run import build_from_config, predict_from_config, train_from_config
from emseg.templates.schema import (IMAGE_SUFFIXES, NONE, TEMPLATES, ConfigError, DataSection,
                                    ModelSection, PredictSection, RunConfig, TrainSection,
                                    apply_overrides, dump_config, load_config, parse_assignment,
                                    template_path)

__all__ = ["load_config", "dump_config", "read_folder_pair", "train_from_config",
           "predict_from_config", "build_from_config", "template_path", "apply_overrides",
           "parse_assignment", "RunConfig",
           "DataSection", "ModelSection", "TrainSection", "PredictSection", "ConfigError",
           "TEMPLATES", "IMAGE_SUFFIXES", "NONE"]
