"""The templates' schema: the four TOML sections, reading and checking a config file,
``section.key=value`` overrides, and writing a config back (see :mod:`emseg.templates`).

The ``[train]`` keys are derived from :class:`emseg.train.TrainConfig`
(:class:`TrainSection`), so each setting is defined once.
"""
import dataclasses
import difflib
import json
import math
import re
import typing
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from emseg.data.io import SLICE_SUFFIXES

try:
    import tomllib  # Python >= 3.11
except ModuleNotFoundError:  # pragma: no cover - depends on the Python version
    try:
        import tomli as tomllib  # the same parser, a dependency on Python < 3.11
    except ModuleNotFoundError:
        tomllib = None

__all__ = ["load_config", "dump_config", "to_dict", "template_path", "apply_overrides",
           "parse_assignment", "suggest", "RunConfig", "DataSection", "ModelSection",
           "TrainSection", "PredictSection", "ConfigError", "TEMPLATES", "IMAGE_SUFFIXES",
           "NONE"]

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
    name: typing.Optional[str] = None            # a key of emseg.models.MODELS
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
                                f"emseg.templates.template_path('unet3d')")
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
    """The path of a ready template, ``emseg/templates/<name>.toml`` (one of :data:`TEMPLATES`)."""
    if name not in TEMPLATES:
        raise ValueError(f"unknown template {name!r}; choose one of {TEMPLATES}")
    return Path(__file__).resolve().parent / f"{name}.toml"


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
            fail(f"unknown section [{table}]{suggest(table, _SECTIONS)}; the sections are "
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
                fail(f"unknown key {key!r} in [{table}]{suggest(key, known)}; the keys are "
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
        from emseg.models import MODELS  # the names the networks are known by

        fail(f"[model] name is required ({', '.join(MODELS)}), or set [train] preset", "model")
    return RunConfig(path=path, base_dir=Path(base_dir), lines=dict(lines), **sections)


def suggest(word, choices):
    """`` (did you mean 'x'?)`` for the choice closest to ``word``, or ``""``."""
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
                 f"{', '.join(map(repr, unknown))} in {name}{suggest(unknown[0], known)}; "
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
        from emseg.atomic import atomic_path
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
