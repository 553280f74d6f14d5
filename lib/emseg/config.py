"""Reusable training and prediction templates: a TOML file + a folder of your data.

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
in ``emseg/configs`` (:func:`template_path`; ``python -m emseg template NAME`` copies one).
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
"""
import dataclasses
import difflib
import json
import math
import re
import time
import typing
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from emseg.data.io import SLICE_SUFFIXES, pair_by_name

try:
    import tomllib  # Python >= 3.11
except ModuleNotFoundError:  # pragma: no cover - depends on the Python version
    try:
        import tomli as tomllib  # the same parser, a dependency on Python < 3.11
    except ModuleNotFoundError:
        tomllib = None

__all__ = ["load_config", "dump_config", "read_folder_pair", "train_from_config",
           "predict_from_config", "build_from_config", "template_path", "apply_overrides",
           "parse_assignment", "RunConfig",
           "DataSection", "ModelSection", "TrainSection", "PredictSection", "ConfigError",
           "TEMPLATES", "IMAGE_SUFFIXES", "NONE"]

TEMPLATES = ("unet2d", "unet3d", "reisoseg", "net2d3d")
NONE = "none"  # the value that clears an optional [train] setting (TOML has no null)
IMAGE_SUFFIXES = SLICE_SUFFIXES  # the one list of image suffixes (emseg.data.io)
VALIDATION = ("auto", "val", "test", "none")


class ConfigError(ValueError):
    """A config file or data folder is wrong; the message says where and what to do.

    Attributes
    ----------
    path : Path or None
        The config file.
    line : int or None
        The line of the offending key, when known.
    """

    def __init__(self, message, *, path=None, line=None):
        where = ""
        if path is not None:
            where = f"{path}" + (f", line {line}" if line else "") + ": "
        super().__init__(where + message)
        self.path, self.line = path, line


# --------------------------------------------------------------------------- the schema

@dataclass(frozen=True)
class DataSection:
    """``[data]``: where the data are and what the labels mean."""
    folder: str                                  # train/, test/ (val/): images/, labels/
    n_classes: int = 2                           # label classes, background included
    label_values: typing.Optional[tuple[int, ...]] = None  # raw value of class 0, 1, ...; None: ids
    class_names: typing.Optional[tuple[str, ...]] = None   # one per class, for the metrics
    validation: str = "auto"                     # auto (val/ if present), val, test or none


@dataclass(frozen=True)
class ModelSection:
    """``[model]``: the network's name; every other key is one of its keyword arguments."""
    name: typing.Optional[str] = None            # unet2d, unet3d, reisoseg, net2d3d, ecsnet
    options: dict = field(default_factory=dict)  # e.g. width, depth, anisotropy, padding


def _key(default, help):
    """A section key of its own (not a TrainConfig field), with its help."""
    return field(default=default, metadata={"help": help, "choices": None})


def _train_section():
    """``TrainSection``, derived from the fields of :class:`emseg.train.TrainConfig`.

    Every TrainConfig field is a key: its annotation made Optional with default None
    ("keep the preset's, else TrainConfig's value"), its ``help`` and ``choices``
    metadata copied (``choices`` are checked by :func:`load_config`), plus a ``check``
    that validates the value (``scale``). Exceptions: ``seed`` defaults to 0,
    ``augment`` is ``true``/``false`` or a table of :class:`emseg.augment.AugmentConfig`
    fields, ``scale`` is an integer or a list. The section's own keys ``output``,
    ``preset``, ``resume`` and ``overwrite`` come first and last.
    """
    from emseg.augment import AugmentConfig
    from emseg.resample import check_scale
    from emseg.train import TrainConfig

    hints = typing.get_type_hints(TrainConfig)
    forms = {"augment": typing.Optional[typing.Union[bool, AugmentConfig]],
             "scale": typing.Optional[typing.Union[int, typing.Tuple[int, ...]]]}
    checks = {"scale": check_scale}
    keys = [("output", str, _key("runs/train", "run folder: checkpoints, history, metrics")),
            ("preset", typing.Optional[str],
             _key(None, "start from emseg.train.PRESETS[preset] (network and recipe)"))]
    for f in dataclasses.fields(TrainConfig):
        hint = forms.get(f.name, typing.Optional[hints[f.name]])
        default = None
        if f.name == "seed":
            hint, default = int, 0  # data/augmentation seed and weight init
        # settings whose value may be None ("no clipping", "the network's window", ...)
        clearable = type(None) in typing.get_args(hints[f.name]) and f.name != "augment"
        keys.append((f.name, hint, field(default=default,
                                         metadata={**f.metadata, "check": checks.get(f.name),
                                                   "clearable": clearable})))
    keys += [("resume", bool, _key(False, "continue output/checkpoints/last.pt")),
             ("overwrite", bool, _key(False, "replace an earlier run in output"))]
    cls = dataclasses.make_dataclass("TrainSection", keys, frozen=True)
    cls.__module__, cls.__qualname__ = __name__, "TrainSection"
    cls.__doc__ = """``[train]``: the run folder and the fields of :class:`emseg.train.TrainConfig`.

    Derived from TrainConfig (a field added there is a key here). Keys left out (None)
    keep the preset's value, else TrainConfig's default; ``augment`` is true (the
    preset's augmentation, else AugmentConfig's defaults), false (none) or a table of
    :class:`emseg.augment.AugmentConfig` fields that change the preset's (the fields left
    out keep the preset's values); ``scale`` is an integer (in-plane binning) or a list.
    """
    return cls


TrainSection = _train_section()


@dataclass(frozen=True)
class PredictSection:
    """``[predict]``: options of :func:`emseg.infer.predict` and where results go."""
    checkpoint: typing.Optional[str] = None      # default: <train.output>/checkpoints/best.pt
    output: typing.Optional[str] = None          # default: <train.output>/predictions
    split: str = "test"                          # the folder under data.folder to predict
    window: typing.Optional[tuple[int, ...]] = None
    overlap: float = 0.25
    blending: str = "gaussian"
    batch_size: int = 4
    tta: bool = False
    precision: str = "auto"                      # emseg.device.PRECISIONS
    probabilities: bool = False                  # also write <name>-probabilities.tif


@dataclass(frozen=True)
class RunConfig:
    """A whole config file: its four sections, the file it came from and its folder."""
    data: DataSection
    model: ModelSection = field(default_factory=ModelSection)
    train: TrainSection = field(default_factory=TrainSection)
    predict: PredictSection = field(default_factory=PredictSection)
    path: typing.Optional[Path] = None           # the config file (None: built in code)
    base_dir: Path = field(default_factory=Path.cwd)  # relative paths start here
    lines: dict = field(default_factory=dict, repr=False, compare=False)  # (table, key) -> line

    def resolve(self, value):
        """``value`` as a path, relative to :attr:`base_dir` unless absolute."""
        p = Path(value).expanduser()
        return p if p.is_absolute() else self.base_dir / p

    def override(self, changes):
        """A copy with ``{"train": {"iterations": 5}, ...}`` (or ``["train.iterations=5"]``)
        applied and checked again (see :func:`apply_overrides`)."""
        return apply_overrides(self, changes)


_SECTIONS = {"data": DataSection, "model": ModelSection, "train": TrainSection,
             "predict": PredictSection}


# --------------------------------------------------------------------------- reading

def load_config(path):
    """Read and check a TOML config file.

    Parameters
    ----------
    path : str or Path
        The ``.toml`` file, or the name of a template (``'unet3d'``, see :data:`TEMPLATES`).

    Returns
    -------
    RunConfig

    Raises
    ------
    FileNotFoundError
        If the file does not exist.
    ConfigError
        For invalid TOML, an unknown section or key (with a suggestion) or a value of
        the wrong type; the message names the file and line.

    Examples
    --------
    >>> cfg = load_config("unet3d")
    >>> cfg.model.name, cfg.train.window
    ('unet3d', (32, 128, 128))
    """
    base_dir = None
    if isinstance(path, str) and path in TEMPLATES:
        path, base_dir = template_path(path), Path.cwd()  # a template's paths: this folder
    path = Path(path).expanduser()
    if not path.is_file():
        raise FileNotFoundError(f"no config file at {path}; start from a template, e.g. "
                                f"emseg.config.template_path('unet3d')")
    if tomllib is None:
        raise RuntimeError("reading TOML configs needs Python >= 3.11 (the standard tomllib) "
                           "or the tomli package: python -m pip install tomli")
    text = path.read_text(encoding="utf-8")
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        raise ConfigError(f"invalid TOML: {err}", path=path) from None
    return _from_dict(raw, path=path, base_dir=base_dir or path.resolve().parent,
                      lines=_key_lines(text))


def template_path(name):
    """The path of a ready template in ``emseg/configs`` (one of :data:`TEMPLATES`)."""
    if name not in TEMPLATES:
        raise ValueError(f"unknown template {name!r}; choose one of {TEMPLATES}")
    return Path(__file__).resolve().parent / "configs" / f"{name}.toml"


def parse_assignment(text):
    """Split a ``"section.key=value"`` override into ``(section, key, value)``.

    The value is read as a TOML value (``5``, ``0.5``, ``true``, ``[16, 64, 64]``,
    ``"text"``); a value that is not valid TOML is taken as a plain string, so
    ``data.folder=my-data`` needs no quotes.

    Raises
    ------
    ConfigError
        If ``text`` is not ``section.key=value``.

    Examples
    --------
    >>> parse_assignment("train.window=[16, 64, 64]")
    ('train', 'window', [16, 64, 64])
    >>> parse_assignment("data.folder=my-data")
    ('data', 'folder', 'my-data')
    """
    name, sep, value = str(text).partition("=")
    section, dot, key = name.strip().partition(".")
    if not sep or not dot or not section or not key or "." in key:
        raise ConfigError(f"override {text!r} must look like section.key=value, e.g. "
                          f"train.iterations=20 or model.anisotropy=10")
    value = value.strip()
    if tomllib is None:  # pragma: no cover - reading the file already needs it
        return section, key.strip(), value
    try:
        parsed = tomllib.loads(f"v = {value}")["v"]
    except tomllib.TOMLDecodeError:
        parsed = value  # a bare word: a string
    return section, key.strip(), parsed


def apply_overrides(config, assignments):
    """A copy of ``config`` with ``"section.key=value"`` overrides applied and checked.

    Parameters
    ----------
    config : RunConfig
        The config (e.g. from :func:`load_config`).
    assignments : iterable of str or dict
        Strings as :func:`parse_assignment` reads them, or a ``{"train": {...}}`` dict.

    Returns
    -------
    RunConfig

    Raises
    ------
    ConfigError
        For a malformed override, an unknown section or key, or a wrong value; the
        message names the override.

    Examples
    --------
    >>> cfg = apply_overrides(load_config("unet3d"), ["train.iterations=20", "model.width=8"])
    >>> cfg.train.iterations, cfg.model.options["width"]
    (20, 8)
    """
    if isinstance(assignments, dict):
        changes = {k: dict(v) if isinstance(v, dict) else v for k, v in assignments.items()}
        labels = {(t, k): f"{t}.{k}" for t, v in changes.items() if isinstance(v, dict)
                  for k in v}
    else:
        changes, labels = {}, {}
        for text in assignments:
            section, key, value = parse_assignment(text)
            changes.setdefault(section, {})[key] = value
            labels[(section, key)] = str(text)
    raw = to_dict(config)
    for section, values in changes.items():
        if not isinstance(values, dict):
            raise ConfigError(f"override: {section!r} must map to a dict of keys")
        raw.setdefault(section, {}).update(values)
    # the file's line numbers no longer describe the overridden keys
    lines = {k: v for k, v in config.lines.items() if k not in labels}
    try:
        return _from_dict(raw, path=config.path, base_dir=config.base_dir, lines=lines)
    except ConfigError as err:
        message = str(err)
        hit = next((text for (t, k), text in labels.items()
                    if f"{t}.{k}" in message or f"{k!r}" in message or f"[{t}]" in message), None)
        if hit is None:
            raise
        prefix = f"{config.path}: " if config.path is not None else ""
        body = message[len(prefix):] if prefix and message.startswith(prefix) else message
        raise ConfigError(f"override {hit!r}: {body}", path=config.path) from None


def _key_lines(text):
    """``{(table, key): line number}`` for simple ``key = value`` lines (1-based)."""
    lines, table = {}, ""
    for number, line in enumerate(text.splitlines(), start=1):
        if m := re.match(r"\s*\[([^\[\]]+)\]\s*(#.*)?$", line):
            table = m[1].strip()
            lines[(table, None)] = number
        elif m := re.match(r"\s*([A-Za-z0-9_-]+)\s*=", line):
            lines.setdefault((table, m[1]), number)
    return lines


def _from_dict(raw, *, path, base_dir, lines):
    def fail(message, table=None, key=None):
        line = lines.get((table, key)) or lines.get((f"{table}.{key}", None))  # [train.augment]
        raise ConfigError(message, path=path, line=line)

    for table in raw:
        if not isinstance(raw[table], dict):
            names = ", ".join(f"[{s}]" for s in _SECTIONS)
            fail(f"{table} = ... must be inside a section: {names}", "", table)
        if table not in _SECTIONS:
            fail(f"unknown section [{table}]{_suggest(table, _SECTIONS)}; the sections are "
                 f"{', '.join(f'[{s}]' for s in _SECTIONS)}", table)
    if "data" not in raw or "folder" not in raw["data"]:
        fail("[data] folder is required: the folder that holds train/, test/ (and val/), each "
             "with images/ and labels/")
    sections = {}
    for table, cls in _SECTIONS.items():
        values = raw.get(table, {})
        if cls is ModelSection:
            values = {"name": values.get("name"),
                      "options": {k: v for k, v in values.items() if k != "name"}}
            if "n_classes" in values["options"]:
                fail("n_classes belongs in [data], not [model]", table, "n_classes")
        hints = typing.get_type_hints(cls)
        known = {f.name: f for f in dataclasses.fields(cls)}
        checked = {}
        for key, value in values.items():
            if value is None:  # TOML has no null: only a left-out key (from override)
                continue
            if key not in known:
                fail(f"unknown key {key!r} in [{table}]{_suggest(key, known)}; the keys are "
                     f"{', '.join(sorted(known))}", table, key)
            if value == NONE and known[key].metadata.get("clearable"):
                checked[key] = NONE  # "none": clear a setting the preset gives a value
                continue
            checked[key] = _check_type(value, hints[key], f"{table}.{key}",
                                       lambda msg, k=key: fail(msg, table, k))
            choices, check = (known[key].metadata.get(m) for m in ("choices", "check"))
            if choices is not None and checked[key] not in choices:
                fail(f"{table}.{key} must be one of {', '.join(map(repr, choices))}, got "
                     f"{checked[key]!r}", table, key)
            if check is not None:
                try:
                    check(checked[key])
                except ValueError as err:  # "scale must be ..." -> "train.scale must be ..."
                    text = str(err)
                    fail(f"{table}.{text}" if text.startswith(f"{key} ")
                         else f"{table}.{key}: {text}", table, key)
        sections[table] = cls(**checked)
    data = sections["data"]
    if data.n_classes < 1:
        fail(f"data.n_classes must be >= 1, got {data.n_classes}", "data", "n_classes")
    if data.label_values is not None and len(set(data.label_values)) != data.n_classes:
        fail(f"data.label_values must list {data.n_classes} distinct values (one per class), "
             f"got {list(data.label_values)}", "data", "label_values")
    if data.class_names is not None and len(data.class_names) != data.n_classes:
        fail(f"data.class_names must have {data.n_classes} names, got {len(data.class_names)}",
             "data", "class_names")
    if data.validation not in VALIDATION:
        fail(f"data.validation must be one of {VALIDATION}, got {data.validation!r}", "data",
             "validation")
    if sections["train"].preset is None and sections["model"].name is None:
        fail("[model] name is required (unet2d, unet3d, reisoseg, net2d3d, ecsnet), or set "
             "[train] preset", "model")
    return RunConfig(path=path, base_dir=Path(base_dir), lines=dict(lines), **sections)


def _suggest(word, choices):
    close = difflib.get_close_matches(str(word), list(choices), n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _alternatives(hint):
    """The types a schema annotation allows, None left out: ``Optional[X]`` -> ``[X]``."""
    if typing.get_origin(hint) is typing.Union:
        return [a for a in typing.get_args(hint) if a is not type(None)]
    return [hint]


def _is_table(hint):
    return hint is dict or dataclasses.is_dataclass(hint)


def _fits(value, hint):
    """Whether ``value`` has the TOML form of ``hint`` (a table, a list or a scalar)."""
    if _is_table(hint):
        return isinstance(value, dict)
    if typing.get_origin(hint) is tuple:
        return isinstance(value, (list, tuple))
    if hint is bool:
        return isinstance(value, bool)
    if hint is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if hint is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    return isinstance(value, hint)


def _describe(hint):
    """What a value of a schema annotation looks like, in words."""
    kinds = _alternatives(hint)
    if len(kinds) > 1:
        return ", or ".join(_describe(k) for k in kinds)
    hint = kinds[0]
    if hint is dict:
        return "a table"
    if dataclasses.is_dataclass(hint):
        return (f"a table of {hint.__module__}.{hint.__name__} keys "
                f"({', '.join(f.name for f in dataclasses.fields(hint))})")
    if typing.get_origin(hint) is tuple:
        args = typing.get_args(hint)
        size = "" if args[-1] is Ellipsis else f"{len(args)} "
        words = {int: ("integers", "[1, 2]"), float: ("numbers", "[0.9, 0.999]"),
                 str: ("strings", '["a", "b"]'), bool: ("booleans", "[true, false]")}
        word, example = words.get(args[0], (args[0].__name__, "[...]"))
        return f"a list of {size}{word} (e.g. {example})"
    return {bool: "true or false", int: "an integer", float: "a number",
            str: "a string"}[hint]


def _check_type(value, hint, name, fail):
    """Check one value against a schema annotation; return it (lists become tuples,
    tables of a dataclass's fields a dict of the given fields, each checked)."""
    kinds = _alternatives(hint)
    if len(kinds) > 1:  # e.g. true/false or a table: the value's form picks the type
        fits = [k for k in kinds if _fits(value, k)]
        if not fits:
            fail(f"{name} must be {_describe(hint)}, got {value!r} ({type(value).__name__})")
        hint = fits[0]
    else:
        hint = kinds[0]
    if not _fits(value, hint):
        fail(f"{name} must be {_describe(hint)}, got {value!r} ({type(value).__name__})")
    if hint is dict:
        return dict(value)
    if dataclasses.is_dataclass(hint):
        known = [f.name for f in dataclasses.fields(hint)]
        unknown = [k for k in value if k not in known]
        if unknown:
            fail(f"unknown key{'s' if len(unknown) > 1 else ''} "
                 f"{', '.join(map(repr, unknown))} in {name}{_suggest(unknown[0], known)}; "
                 f"the keys of {name} ({hint.__name__}) are {', '.join(known)}")
        hints = typing.get_type_hints(hint)
        # the keys given, checked (not the whole dataclass: the others keep the preset's)
        return {k: _check_type(v, hints[k], f"{name}.{k}", fail) for k, v in value.items()}
    if typing.get_origin(hint) is tuple:
        args = typing.get_args(hint)
        if args[-1] is not Ellipsis and len(value) != len(args):
            fail(f"{name} must be {_describe(hint)}, got {value!r} ({len(value)} values)")
        return tuple(_check_type(v, args[0 if args[-1] is Ellipsis else i], f"{name}[{i}]", fail)
                     for i, v in enumerate(value))
    return float(value) if hint is float else value


# --------------------------------------------------------------------------- writing

def to_dict(config):
    """The config as plain TOML-ready dicts (None values left out)."""
    out = {}
    for table in _SECTIONS:
        section = getattr(config, table)
        values = {f.name: getattr(section, f.name) for f in dataclasses.fields(section)}
        if table == "model":
            values = {"name": values["name"], **values["options"]}
        out[table] = {k: dataclasses.asdict(v) if dataclasses.is_dataclass(v) else v
                      for k, v in values.items() if v is not None}  # augment: a table
    return out


def dump_config(config, path=None):
    """Write a config as TOML (simple formatting); return the text.

    Parameters
    ----------
    config : RunConfig
        The config (e.g. from :func:`load_config`).
    path : str or Path, optional
        Write the text there (atomically).

    Returns
    -------
    str
    """
    lines = []
    for table, values in to_dict(config).items():
        lines.append(f"[{table}]")
        lines += [f"{key} = {_toml_value(value)}" for key, value in values.items()]
        lines.append("")
    text = "\n".join(lines)
    if path is not None:
        from emseg._atomic import atomic_path
        with atomic_path(path) as tmp:
            tmp.write_text(text, encoding="utf-8")
    return text


def _toml_value(value):
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    if isinstance(value, (float, np.floating)):
        value = float(value)
        return ("nan" if math.isnan(value) else ("inf" if value > 0 else "-inf")) \
            if not math.isfinite(value) else repr(value)
    if isinstance(value, (str, Path)):
        return json.dumps(str(value))  # JSON string escapes are valid TOML basic strings
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    if isinstance(value, dict):  # an inline table
        keys = [k if re.fullmatch(r"[A-Za-z0-9_-]+", str(k)) else json.dumps(str(k)) for k in value]
        return "{" + ", ".join(f"{k} = {_toml_value(v)}" for k, v in zip(keys, value.values())) + "}"
    raise TypeError(f"cannot write {value!r} ({type(value).__name__}) to TOML")


# --------------------------------------------------------------------------- data folders

def read_folder_pair(x_dir, y_dir=None, *, label_values=None):
    """Read images (and labels) from a pair of folders of TIFF or PNG files.

    Parameters
    ----------
    x_dir : str or Path
        Folder of images.
    y_dir : str or Path, optional
        Folder of labels, matching ``x_dir`` file for file (None: images only).
    label_values : sequence of int, optional
        Raw label values of classes 0, 1, ...; e.g. ``[0, 255]`` for black/white masks.
        By default the files hold class ids.

    Returns
    -------
    list of Volume
        ``image`` float32 z-scored per volume, ``labels`` uint8 class ids (or None),
        ``name`` the file stem (or the folder name for a stack of 2D slices).

    Raises
    ------
    ValueError
        For a missing or empty folder, different numbers of files or shapes in x and
        y, colour images, non-integer labels or label values not in ``label_values``;
        the message names the file.

    Notes
    -----
    If every file is a 2D image, the folder is one stack of sections (natural name
    order). Otherwise every file is a volume of its own.
    """
    from emseg.data import Volume, zscore

    x_files = _list_images(x_dir, "images")
    images = _read_group(x_files)
    labels = [None] * len(images)
    if y_dir is not None:
        y_files = _list_images(y_dir, "labels")
        if len(x_files) != len(y_files):
            raise ValueError(f"{x_dir} has {len(x_files)} image files but {y_dir} has "
                             f"{len(y_files)} label files; give one label file per image file")
        y_files = [y for _, y in pair_by_name(x_files, y_files)]
        raw = _read_group(y_files)
        labels = [_to_class_ids(lab, name, label_values) for lab, name in raw]
        for (img, xname), (lab, yname) in zip(images, raw):
            if img.shape != lab.shape:
                raise ValueError(f"image {xname} has shape {img.shape} but labels {yname} have "
                                 f"{lab.shape}; images and labels must match voxel for voxel")
    vols = []
    for (img, name), lab in zip(images, labels):
        try:
            image = zscore(img)
        except ValueError as err:
            raise ValueError(f"{name}: {err}") from None
        vols.append(Volume(image, lab, source="user", name=Path(name).stem))
    return vols


def _list_images(folder, what):
    from emseg.data.io import list_image_files

    folder = Path(folder)
    if not folder.is_dir():
        raise ValueError(f"the {what} folder {folder} does not exist (expected layout: "
                         f"<data folder>/train/images, train/labels, test/images, test/labels)")
    files = list_image_files(folder, suffixes=IMAGE_SUFFIXES)
    if not files:
        others = sorted(p.name for p in folder.iterdir() if not p.name.startswith("."))[:5]
        raise ValueError(f"the {what} folder {folder} holds no {'/'.join(IMAGE_SUFFIXES)} files"
                         + (f" (found {', '.join(others)})" if others else " (it is empty)"))
    return files


def _read_image(path):
    """One file as (z, y, x): a 2D image gives z = 1 (emseg.data.io.read_image_file)."""
    from emseg.data.io import read_image_file
    try:
        return read_image_file(path)
    except ValueError:
        raise
    except Exception as err:  # a corrupt or mis-named file
        raise ValueError(f"cannot read {path} ({err})") from None


def _read_group(files):
    """``[(array (z, y, x), name)]``: one stack of 2D slices, or one volume per file."""
    arrays = [_read_image(p) for p in files]
    if len(arrays) > 1 and all(a.shape[0] == 1 for a in arrays):
        first = arrays[0]
        for a, p in zip(arrays, files):
            if a.shape != first.shape:
                raise ValueError(f"slice {p} has shape {a.shape[1:]} but {files[0].name} has "
                                 f"{first.shape[1:]}; the 2D files of a folder are the sections "
                                 f"of one stack and must have one size")
            if a.dtype != first.dtype:
                raise ValueError(f"slice {p} has dtype {a.dtype} but {files[0].name} has "
                                 f"{first.dtype}; save all sections with one dtype")
        return [(np.concatenate(arrays), files[0].parent.name)]
    return [(a, p.name) for a, p in zip(arrays, files)]


def _to_class_ids(labels, name, label_values):
    """Integer class ids (uint8) from a label array, with clear errors."""
    if labels.dtype == bool:
        labels = labels.astype(np.uint8)
    if np.issubdtype(labels.dtype, np.floating):
        bad = labels[np.isfinite(labels) & (labels != np.round(labels))]
        if bad.size or not np.all(np.isfinite(labels)):
            example = bad.flat[0] if bad.size else "NaN"
            raise ValueError(f"labels {name} hold non-integer values (e.g. {example}); labels "
                             f"must be integer class ids: save them without interpolation or "
                             f"anti-aliasing")
        labels = labels.astype(np.int64)
    elif not np.issubdtype(labels.dtype, np.integer):
        raise ValueError(f"labels {name} have dtype {labels.dtype}; expected integer class ids")
    values = np.unique(labels)
    if label_values is not None:
        lookup = {int(v): k for k, v in enumerate(label_values)}
        unknown = [int(v) for v in values if int(v) not in lookup]
        if unknown:
            raise ValueError(f"labels {name} hold values {unknown[:8]} that are not in "
                             f"data.label_values {list(label_values)}")
        out = np.zeros(labels.shape, np.uint8)
        for v in values:
            out[labels == v] = lookup[int(v)]
        return out
    if values[0] < 0 or values[-1] > 255:
        raise ValueError(f"labels {name} hold values {int(values[0])}..{int(values[-1])}; class "
                         f"ids must be in 0..255 (or list the raw values in data.label_values)")
    return labels.astype(np.uint8)


def _split_volumes(config, split, *, labels=True):
    """The volumes of ``<folder>/<split>``, checked against ``data.n_classes``."""
    from emseg.data.io import legacy_layout

    root = config.resolve(config.data.folder) / split
    x, y = legacy_layout(root)
    vols = read_folder_pair(root / x, root / y if labels else None,
                            label_values=config.data.label_values)
    for vol in vols:
        if vol.labels is not None and int(vol.labels.max()) >= config.data.n_classes:
            hint = (" or list the raw values in data.label_values (e.g. [0, 255])"
                    if config.data.label_values is None else "")
            raise ConfigError(f"labels of {split}/{vol.name} go up to {int(vol.labels.max())}, "
                              f"but data.n_classes = {config.data.n_classes}: set n_classes{hint}",
                              path=config.path)
    return vols


# --------------------------------------------------------------------------- models

def _model_class(name, config=None):
    from emseg.models import model_class
    try:
        return model_class(name)
    except ValueError as err:
        raise ConfigError(str(err), path=getattr(config, "path", None)) from None


def build_from_config(config):
    """The network and :class:`~emseg.train.TrainConfig` a config describes.

    Returns
    -------
    (SegmentationNet, TrainConfig)
    """
    import torch
    from emseg.augment import AugmentConfig
    from emseg.models import model_options
    from emseg.train import PRESETS, TrainConfig

    t = config.train
    name, kwargs, base = config.model.name, {}, TrainConfig()
    if t.preset is not None:
        if t.preset not in PRESETS:
            raise ConfigError(f"unknown preset {t.preset!r}; choose one of {sorted(PRESETS)}",
                              path=config.path)
        preset = PRESETS[t.preset]
        kwargs, base = dict(preset.model_kwargs), preset.config
        if name is None or _model_class(name, config) is _model_class(preset.model, config):
            name = preset.model
        else:
            kwargs = {}  # another network: the preset's network options do not apply
    kwargs.update(config.model.options)
    cls = _model_class(name, config)
    accepted = list(model_options(cls))
    for key in kwargs:
        if key not in accepted:
            raise ConfigError(f"[model] option {key!r} is not an option of {cls.__name__}"
                              f"{_suggest(key, accepted)}; its options are "
                              f"{', '.join(a for a in accepted if a != 'n_classes')}",
                              path=config.path, line=config.lines.get(("model", key)))
    torch.manual_seed(t.seed)  # the same config builds the same initial weights
    try:
        model = cls(n_classes=config.data.n_classes, **kwargs)
    except (TypeError, ValueError) as err:
        raise ConfigError(f"[model] {cls.__name__}: {err}", path=config.path) from None
    changes = {f.name: getattr(t, f.name) for f in dataclasses.fields(TrainConfig)
               if f.name != "augment" and getattr(t, f.name, None) is not None}
    changes = {k: None if v == NONE else v for k, v in changes.items()}  # "none": cleared
    if isinstance(t.augment, dict):  # the given fields change the preset's augmentation
        changes["augment"] = dataclasses.replace(base.augment or AugmentConfig(), **t.augment)
    elif t.augment is not None:  # true: the preset's augmentation (else the defaults)
        changes["augment"] = (dataclasses.replace(base.augment or AugmentConfig())
                              if t.augment else None)
    if t.organelle_classes is None and base.organelle_classes is not None \
            and config.data.n_classes != 7:
        changes["organelle_classes"] = None  # the presets' organelles are the platelet classes
    return model, _checked_train_config(base.replace(**changes), model, config)


def _checked_train_config(train_config, model, config):
    """``train_config`` if :func:`emseg.train.fit` will accept it, else a ConfigError
    naming the ``[train]`` key and its line (before any data are read)."""
    from emseg.resample import check_scale
    from emseg.train import check_config

    def fail(err, key):
        raise ConfigError(str(err), path=config.path,
                          line=config.lines.get(("train", key))) from None

    try:
        check_config(train_config)
    except ValueError as err:  # its messages name config.<field>
        key = m[1] if (m := re.search(r"config\.(\w+)", str(err))) else None
        fail(re.sub(r"config\.(\w+)", r"train.\1", str(err), count=1), key)
    try:
        check_scale(train_config.scale, ndim=model.window_ndim)
    except ValueError as err:
        fail(f"train.scale: {err}", "scale")
    return train_config


# --------------------------------------------------------------------------- train / predict

def _as_config(config):
    if isinstance(config, RunConfig):
        return config
    if isinstance(config, (str, Path)):
        return load_config(config)
    raise TypeError(f"config must be a RunConfig or the path of a .toml file, got "
                    f"{type(config).__name__}")


def train_from_config(config, *, device=None, progress=True):
    """Train the network a config describes on its data folder.

    Parameters
    ----------
    config : RunConfig or str or Path
        A config, or the path of a TOML file (or a template name).
    device : str or torch.device, optional
        Default: CUDA if available, else CPU.
    progress : bool
        Show the training progress bar.

    Returns
    -------
    dict
        ``output`` (the run folder), ``checkpoint`` (``best.pt``, or ``last.pt`` without
        validation), ``history`` (as :func:`emseg.train.fit` returns it), ``metrics``
        (what ``metrics.json`` holds).

    Notes
    -----
    Writes into ``train.output``: ``checkpoints/best.pt`` and ``last.pt``,
    ``history.json`` (by :func:`emseg.train.fit`), ``metrics.json`` (final loss, last
    and best validation scores, time, parameter count), ``training-curve.png``
    (:func:`emseg.plot.plot_history`) and ``config.toml`` (the config as used).
    Validation (``data.validation``): ``auto`` uses ``val/`` when present, else none.
    """
    from emseg._atomic import write_json
    from emseg.device import describe, pick_device
    from emseg.models import count_parameters, window_geometry
    from emseg.plot import plot_history
    from emseg.train import fit

    config = _as_config(config)
    device = pick_device(device)
    model, train_config = build_from_config(config)
    window_geometry(model, train_config.window)  # a window that does not fit fails now
    train = _split_volumes(config, "train")
    val_split = _validation_split(config)
    val = _split_volumes(config, val_split) if val_split else None
    out = config.resolve(config.train.output)
    t0 = time.perf_counter()
    history = fit(model, train, val, config=train_config, output_dir=out,
                  resume=config.train.resume, overwrite=config.train.overwrite, device=device,
                  progress=progress)
    dump_config(config.override({"data": {"folder": str(config.resolve(config.data.folder))},
                                 "train": {"output": str(out)}}), out / "config.toml")
    plot_history(history, out / "training-curve.png", title=model.spec()["name"],
                 overwrite=True)  # the run folder's own figure (fit checked the folder)
    losses = history["loss"]
    metrics = {
        "model": model.spec(), "parameters": count_parameters(model),
        "iterations": history["iteration"][-1] if history["iteration"] else 0,
        "final_loss": losses[-1] if losses else None,
        "mean_loss_last_10": float(np.mean(losses[-10:])) if losses else None,
        "validation_split": val_split,
        "last_validation": history["val"][-1] if history["val"] else None,
        "best_validation": max(history["val"], key=lambda v: v["miou_all"])
        if history["val"] else None,
        "seconds": time.perf_counter() - t0, "device": describe(device),
        "train_volumes": {v.name: list(v.shape) for v in train},
    }
    write_json(out / "metrics.json", metrics)
    best = out / "checkpoints" / "best.pt"
    return {"output": out, "checkpoint": best if best.exists() else out / "checkpoints/last.pt",
            "history": history, "metrics": metrics}


def _validation_split(config):
    choice = config.data.validation
    if choice == "none":
        return None
    if choice == "auto":
        return "val" if (config.resolve(config.data.folder) / "val").is_dir() else None
    return choice


def predict_from_config(config, *, device=None, progress=True, overwrite=False):
    """Predict the test folder with the trained network; write TIFFs and metrics.

    Parameters
    ----------
    config : RunConfig or str or Path
        A config, or the path of a TOML file.
    device : str or torch.device, optional
        Default: CUDA if available, else CPU.
    progress : bool
        Show progress bars.
    overwrite : bool
        Replace the results of an earlier prediction in the output folder (by default
        refused before anything is predicted; CLI: ``--overwrite``).

    Returns
    -------
    dict
        ``output`` (folder), ``checkpoint``, ``predictions`` (``{name: path}``) and
        ``metrics`` (what ``metrics.json`` holds; reports only where labels exist).

    Notes
    -----
    For each volume of ``<data.folder>/<predict.split>/images`` it writes
    ``<name>-prediction.tif`` (uint8 class ids) and, with ``predict.probabilities``,
    ``<name>-probabilities.tif`` (float32, class first). When ``y`` exists,
    ``metrics.json`` holds :func:`emseg.metrics.segmentation_report` per volume and
    over all volumes together (``overall``).
    """
    from emseg._atomic import check_output, write_json
    from emseg.data import write_volume
    from emseg.infer import predict
    from emseg.checkpoint import load_checkpoint, model_from_checkpoint
    from emseg.metrics import report_from_confusion, segmentation_report

    config = _as_config(config)
    p = config.predict
    run = config.resolve(config.train.output)
    ckpt = config.resolve(p.checkpoint) if p.checkpoint else run / "checkpoints" / "best.pt"
    if not p.checkpoint and not ckpt.exists():
        ckpt = run / "checkpoints" / "last.pt"
    if not ckpt.exists():
        raise FileNotFoundError(f"no checkpoint at {ckpt}: train first (train_from_config) or "
                                f"set [predict] checkpoint")
    saved = load_checkpoint(ckpt)
    model = model_from_checkpoint(saved, device=device)
    # by default the network's own window: the one it was trained with (load_model's rule)
    window = p.window
    split_dir = config.resolve(config.data.folder) / p.split
    from emseg.data.io import legacy_layout

    x, y = legacy_layout(split_dir)
    vols = _split_volumes(config, p.split, labels=(split_dir / y).is_dir())
    out = config.resolve(p.output) if p.output else run / "predictions"
    sources = [f for kind in (x, y) if (split_dir / kind).is_dir()
               for f in (split_dir / kind).iterdir()]
    how = "overwrite=True (CLI: --overwrite)"
    for vol in vols:  # refuse before anything is predicted
        for kind in ("prediction", "probabilities")[:2 if p.probabilities else 1]:
            check_output(out / f"{vol.name}-{kind}.tif", overwrite=overwrite, inputs=sources,
                         what="result", how=how)
    check_output(out / "metrics.json", overwrite=overwrite, inputs=sources, what="result", how=how)
    n, names = config.data.n_classes, config.data.class_names
    paths, reports, total = {}, {}, np.zeros((n, n), np.int64)
    t0 = time.perf_counter()
    for vol in vols:
        probs = predict(model, vol.image, window=window, overlap=p.overlap,
                        blending=p.blending, batch_size=p.batch_size, tta=p.tta,
                        precision=p.precision, device=device, progress=progress)
        pred = np.argmax(probs, axis=0).astype(np.uint8)
        paths[vol.name] = write_volume(out / f"{vol.name}-prediction.tif", pred,
                                       overwrite=overwrite)
        if p.probabilities:
            write_volume(out / f"{vol.name}-probabilities.tif", probs, overwrite=overwrite)
        if vol.labels is not None:
            reports[vol.name] = segmentation_report(vol.labels, pred, n_classes=n,
                                                    class_names=names)
            total += np.asarray(reports[vol.name]["confusion"], dtype=np.int64)
    metrics = {"checkpoint": str(ckpt), "split": p.split, "seconds": time.perf_counter() - t0,
               "volumes": reports,
               "overall": report_from_confusion(total, class_names=names) if reports else None}
    write_json(out / "metrics.json", metrics)
    return {"output": out, "checkpoint": ckpt, "predictions": paths, "metrics": metrics}



