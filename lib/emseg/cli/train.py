"""The ``train`` and ``template`` commands, and the ``--config`` handling that ``train``
and ``predict`` share.

``train`` has one option per :class:`~emseg.train.TrainConfig` field, made from the
field's annotation and metadata (``_train_settings``); without ``--config`` it trains a
preset (``emseg.train.PRESETS``) changed by the options given, with ``--config`` a TOML
template (:mod:`emseg.templates`) changed by ``--set`` and the options that map to config
keys (:func:`config_from_args`). ``template`` lists or copies those templates.

``COMMANDS`` maps each command to ``(add its parser, run it)``.
"""
import argparse
import dataclasses
import os
import typing
from pathlib import Path

import numpy as np

from emseg._validate import check_image, check_labels
from emseg.augment import AugmentConfig
from emseg.cli.args import add_device, numbers, or_none, preset_choices
from emseg.data import Volume, load_platelet_splits, read_volume, zscore
from emseg.data.registry import SOURCES
from emseg.models import MODELS, NORMS, model_class, model_options, models_with_option
from emseg.resample import check_scale
from emseg.train import PRESETS, TrainConfig, check_config, fit, models_for_task

__all__ = ["COMMANDS", "config_from_args"]


def _train_settings():
    """One ``train`` option per :class:`~emseg.train.TrainConfig` field: ``{dest: (flags,
    add_argument keywords)}``, from the field's annotation and ``help``/``choices`` metadata.

    Every default is None (keep the preset's value) except ``--seed`` (0). A field whose
    type has no command-line form raises TypeError, so a new field cannot be forgotten.
    """
    hints = typing.get_type_hints(TrainConfig)
    settings = {}
    for f in dataclasses.fields(TrainConfig):
        hint = hints[f.name]
        optional = typing.get_origin(hint) is typing.Union
        if optional:  # Optional[X]
            hint = next(a for a in typing.get_args(hint) if a is not type(None))
        help_text, choices = f.metadata["help"], f.metadata["choices"]
        kw = {"dest": f.name, "default": None, "help": help_text.replace("%", "%%")}
        if f.name == "augment":  # the table's sub-settings: in a config file (emseg.templates)
            kw.update(action=argparse.BooleanOptionalAction,
                      help="augmentation: the preset's (or emseg.augment.AugmentConfig's "
                           "defaults when it has none); --no-augment: none")
        elif hint is bool:
            kw["action"] = argparse.BooleanOptionalAction
        elif typing.get_origin(hint) is tuple and typing.get_args(hint)[0] in (int, float):
            args = typing.get_args(hint)
            letter = {int: "N", float: "X"}[args[0]]
            size = None if args[-1] is Ellipsis else len(args)
            kw.update(type=numbers(args[0], size=size, one=f.name == "scale"),
                      metavar=",".join([letter] * size) if size else f"{letter},{letter},...")
            if f.name == "scale":
                kw["metavar"] = "K|Z,Y,X"
        elif hint in (int, float, str):
            kw["type"] = hint
            if choices:
                kw["choices"] = list(choices)
            elif hint is not str:
                kw["metavar"] = {int: "N", float: "X"}[hint]
        else:
            raise TypeError(f"TrainConfig.{f.name} ({hints[f.name]}) has no command-line form; "
                            f"add one to emseg.cli.train._train_settings")
        if f.name == "seed":
            kw.update(default=0, help=kw["help"] + " (default: 0)")  # as before
        if optional and "type" in kw:  # "none" clears a value the preset sets
            kw.update(type=or_none(kw["type"]), help=kw["help"] + "; 'none' clears it")
        settings[f.name] = ("--" + f.name.replace("_", "-"), kw)
    return settings


_TRAIN_SETTINGS = _train_settings()
_NORMS = tuple("none" if n is None else n for n in NORMS)  # --norm: batch, group, instance, none


def _add_train(sub):
    p = sub.add_parser("train", help="train a network; writes checkpoints/best.pt, last.pt, history.json")
    p.add_argument("--config", help="a TOML template (file, or unet2d/unet3d/reisoseg/net2d3d) "
                                    "for your own train/images, train/labels folders; see emseg.templates")
    p.add_argument("--set", action="append", default=[], metavar="SECTION.KEY=VALUE",
                   help="with --config: change one config key, e.g. --set train.iterations=20 "
                        "--set 'train.window=[16, 64, 64]' (repeatable; checked like the file)")
    p.add_argument("--data", help="with --config: the data folder (train/images, train/labels, "
                                  "test/images, test/labels), relative to the current folder; "
                                  "sets data.folder")
    p.add_argument("--anisotropy", type=float,
                   help=f"z spacing / xy spacing of the data (3D models "
                        f"{', '.join(models_with_option('anisotropy'))}): sets the pooling plan, "
                        f"e.g. 10 for 45 nm sections with 4.6 nm pixels")
    p.add_argument("--model", default="net2d3d", choices=models_for_task("labels"),
                   help="the network (emseg.train.PRESETS with task 'labels'; ECS-Net trains "
                        "with 'ecs train', VoxResNet in example 5)")
    p.add_argument("--output", help="run folder (checkpoints, history, curve); required without --config")
    p.add_argument("--source", default="auto", choices=SOURCES + ("platelet",),
                   help="platelet data: auto (real, else synthetic), real (real only; 'platelet' "
                        "is its old name), phantom")
    p.add_argument("--train-images", help="your own training image TIFF (instead of --source)")
    p.add_argument("--train-labels", help="your own training label TIFF")
    p.add_argument("--train-weights", help="optional error-weight TIFF for the training volume")
    p.add_argument("--val-images", help="your own validation image TIFF")
    p.add_argument("--val-labels", help="your own validation label TIFF")
    p.add_argument("--n-classes", type=int, default=7)
    p.add_argument("--preset", default="cpu", choices=preset_choices(models_for_task("labels")),
                   help="cpu: small net and window for a laptop (default); original: the paper's "
                        "net and recipe; cpu-legacy: the cpu preset before the training recipe "
                        "(unet2d and net2d3d only) (emseg.train.PRESETS)")
    p.add_argument("--width", type=int, help="network width (overrides the preset)")
    p.add_argument("--norm", choices=list(_NORMS),
                   help=f"normalisation layers of the networks that have a norm option "
                        f"({', '.join(models_with_option('norm'))}); default: the network's")
    p.add_argument("--resume", action="store_true", help="continue from OUTPUT/checkpoints/last.pt")
    p.add_argument("--overwrite", action="store_true",
                   help="replace an earlier run's checkpoints in OUTPUT (default: refuse)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    add_device(p)
    group = p.add_argument_group(
        "training settings", "the fields of emseg.train.TrainConfig; each one left out keeps "
                             "the preset's (or the config file's) value")
    for flag, kw in _TRAIN_SETTINGS.values():
        group.add_argument(flag, **kw)


def _add_template(sub):
    p = sub.add_parser("template", help="list the ready TOML configs, or copy one to edit "
                                        "(for train/predict --config)")
    p.add_argument("name", nargs="?", help="unet2d, unet3d, reisoseg or net2d3d (none: list them)")
    p.add_argument("--output", help="the .toml file to write (default: print the template)")
    p.add_argument("--overwrite", action="store_true", help="replace an existing output file")


def _user_volume(images, labels, weights, name, n_classes):
    """A training/validation Volume from the user's TIFFs, each checked (naming its file)."""
    img = check_image(read_volume(images), name=f"{images}")
    lab = check_labels(read_volume(labels), name=f"{labels}", shape=img.shape,
                       n_classes=n_classes)
    w = None
    if weights is not None:
        w = check_image(read_volume(weights), name=f"{weights}").astype("float32")
        if w.shape != img.shape:
            raise ValueError(f"{weights} shape {w.shape} does not match the image shape "
                             f"{img.shape}")
        if np.min(w) < 0:
            raise ValueError(f"{weights} holds negative error weights (min {np.min(w):g}); "
                             f"error weights must be >= 0")
    return Volume(zscore(img), lab, w, source="user", name=name)


def _training_data(args):
    if args.train_images or args.train_labels:
        if not (args.train_images and args.train_labels):
            raise ValueError("--train-images and --train-labels go together")
        train = _user_volume(args.train_images, args.train_labels, args.train_weights, "train",
                             args.n_classes)
        val = None
        if args.val_images or args.val_labels:
            if not (args.val_images and args.val_labels):
                raise ValueError("--val-images and --val-labels go together")
            val = _user_volume(args.val_images, args.val_labels, None, "val", args.n_classes)
        return train, val
    return load_platelet_splits(("train", "eval"), source=args.source)


def _train_config(args):
    """The preset and its TrainConfig with the ``train`` options given (no network yet).

    Checks the options against the preset's network and the settings as
    :func:`emseg.train.fit` will (ValueError naming the option), before any data are read.
    """
    key = f"{args.model}-{args.preset}"
    if key not in PRESETS:
        raise ValueError(f"no preset {key!r}; available: {', '.join(sorted(PRESETS))}")
    preset = PRESETS[key]
    net = MODELS[preset.model]
    if getattr(args, "anisotropy", None) is not None:
        _refuse_anisotropy(net, args.model)
    if getattr(args, "norm", None) is not None:
        _refuse_norm(net, args.model)
    changes = {name: getattr(args, name) for name in _TRAIN_SETTINGS
               if getattr(args, name, None) is not None}
    changes = {k: None if v == "none" else v for k, v in changes.items()}  # --grad-clip none
    if "augment" in changes:  # --augment: the preset's augmentation (else the defaults)
        changes["augment"] = (dataclasses.replace(preset.config.augment or AugmentConfig())
                              if changes["augment"] else None)
    if args.n_classes != 7 and "organelle_classes" not in changes:
        changes["organelle_classes"] = None  # the organelle classes 2..6 are the platelet data's
    config = preset.config.replace(**changes)
    try:
        check_scale(config.scale, ndim=net.window_ndim)
    except ValueError as err:  # "scale must be ..." -> "--scale must be ..."
        raise ValueError(f"--{err}" if str(err).startswith("scale ") else f"--scale: {err}") \
            from None
    try:
        check_config(config)
    except ValueError as err:  # "config.<field> must be ...": name the option instead
        message = str(err)
        for name, (flag, _) in _TRAIN_SETTINGS.items():
            message = message.replace(f"config.{name} ", f"{flag} ")
        raise ValueError(message) from None
    return preset, config


def _model_and_config(args):
    """The network and TrainConfig of ``train`` without ``--config``: the preset's, with
    the network options (``--width``, ``--anisotropy``, ``--norm``) and every given
    training setting applied; the weights seeded by ``--seed`` (:meth:`Preset.build`)."""
    preset, config = _train_config(args)
    overrides = {}
    if args.width:
        overrides["width"] = args.width
        if args.model == "net2d3d" and args.preset in ("cpu", "cpu-legacy"):
            overrides["pyramid_width"] = args.width
    if getattr(args, "anisotropy", None) is not None:
        overrides["anisotropy"] = args.anisotropy
        if preset.model_kwargs.get("pools") is not None:
            overrides["pools"] = None  # explicit pools would fix the anisotropy
    if getattr(args, "norm", None) is not None:
        overrides["norm"] = args.norm
    model, _ = preset.build(args.n_classes, seed=config.seed, model_options=overrides)
    return model, config


def _refuse_norm(net, name):
    """ValueError unless the network class ``net`` (called ``name``) has a ``norm`` option."""
    if "norm" not in model_options(net):
        raise ValueError(f"--norm sets the normalisation layers of the networks with a norm "
                         f"option ({', '.join(models_with_option('norm'))}); {name} has none")


def _refuse_anisotropy(net, what):
    """--anisotropy goes with the networks that take it (the 3D models' pooling plan)."""
    if "anisotropy" not in model_options(net):
        raise ValueError(f"--anisotropy sets the pooling plan of the 3D models "
                         f"({', '.join(models_with_option('anisotropy'))}); {what} has none")


# --config: command-line options that set config keys, and those that do not apply
_CONFIG_FLAGS = {
    "train": {"output": ("train", "output"), "data": ("data", "folder"),
              "resume": ("train", "resume"), "overwrite": ("train", "overwrite"),
              "width": ("model", "width"), "n_classes": ("data", "n_classes"),
              "anisotropy": ("model", "anisotropy"), "norm": ("model", "norm"),
              # every training setting: --lr sets train.lr, ...
              **{name: ("train", name) for name in _TRAIN_SETTINGS}},
    "predict": {"output": ("predict", "output"), "data": ("data", "folder"),
                "model": ("predict", "checkpoint"), "window": ("predict", "window"),
                "overlap": ("predict", "overlap"), "batch_size": ("predict", "batch_size"),
                "tta": ("predict", "tta"), "precision": ("predict", "precision")},
}
_PATH_FLAGS = ("output", "data", "model")  # relative to the current folder, as elsewhere
_NOT_WITH_CONFIG = {
    "train": ("model", "source", "train_images", "train_labels", "train_weights", "val_images",
              "val_labels", "preset"),
    "predict": ("input", "probabilities"),
}


def config_from_args(args, command):
    """Load ``--config`` and apply the options that map to config keys, then ``--set``.

    Parameters
    ----------
    args : argparse.Namespace
        The options of ``train`` or ``predict``; ``args._explicit`` holds the options the
        user typed, ``{dest: value}`` (set by :func:`emseg.cli.main`; none when absent).
    command : {"train", "predict"}
        The command, which says the options that map to config keys and those that
        cannot be used with ``--config``.

    Returns
    -------
    emseg.templates.RunConfig
        The checked config.

    Raises
    ------
    ValueError
        For an option that cannot be used with ``--config`` or does not fit the config's
        network; ``emseg.templates.ConfigError`` (a ValueError) for a bad config file or
        ``--set`` value, naming the file, line or key.
    """
    from emseg.templates import apply_overrides, load_config

    given = getattr(args, "_explicit", {})  # set by main()
    wrong = [k for k in _NOT_WITH_CONFIG[command] if k in given]
    if wrong:
        names = ", ".join("--" + k.replace("_", "-") for k in wrong)
        raise ValueError(f"{names} cannot be used with --config: the config file says what "
                         f"to {command}; set such values in the file or with --set "
                         f"SECTION.KEY=VALUE (e.g. --set "
                         f"{'predict.probabilities=true' if command == 'predict' else 'data.n_classes=3'})")
    config = load_config(args.config)
    if "anisotropy" in given:
        name = config.model.name or PRESETS.get(config.train.preset, PRESETS["unet3d-cpu"]).model
        _refuse_anisotropy(model_class(name), f"the config's model {name}")
    if "norm" in given:
        name = config.model.name or PRESETS.get(config.train.preset, PRESETS["unet3d-cpu"]).model
        _refuse_norm(model_class(name), f"the config's model {name}")
    changes = {}
    for dest, (section, key) in _CONFIG_FLAGS[command].items():
        if dest not in given:
            continue
        value = given[dest]
        if dest == "model":
            if len(value) != 1:
                raise ValueError("with --config, give one --model checkpoint (ensembles: "
                                 "predict without --config)")
            value = value[0]
        if dest in _PATH_FLAGS:
            value = str(Path(value).expanduser().resolve())
        if isinstance(value, tuple):
            value = list(value)
        changes.setdefault(section, {})[key] = value
    if "anisotropy" in changes.get("model", {}) and "pools" in config.model.options:
        changes["model"]["pools"] = None  # explicit pools would fix the anisotropy
    if changes:
        config = apply_overrides(config, changes)
    return apply_overrides(config, args.set) if args.set else config


def _cmd_template(args):
    from emseg.templates import TEMPLATES, load_config, template_path

    if not args.name:
        for name in TEMPLATES:
            cfg = load_config(name)
            print(f"{name:9s} {cfg.model.name:9s} {template_path(name)}")
        print("copy one with: python -m emseg template NAME --output my.toml")
        return
    text = template_path(args.name).read_text(encoding="utf-8")
    if not args.output:
        print(text, end="")
        return
    out = Path(args.output)
    if out.exists() and not args.overwrite:
        raise ValueError(f"{out} exists; use --overwrite to replace it")
    from emseg.atomic import atomic_path
    with atomic_path(out) as tmp:
        tmp.write_text(text, encoding="utf-8")
    print(f"wrote {out}: edit [data] folder (relative to the file's folder) and n_classes, then "
          f"python -m emseg train --config {out}")


def _cmd_train(args):
    if args.config:
        from emseg.templates import train_from_config
        config = config_from_args(args, "train")
        print(f"training {config.model.name or config.train.preset} from {args.config} on "
              f"{config.resolve(config.data.folder)} -> {config.resolve(config.train.output)}")
        result = train_from_config(config, device=args.device, progress=not args.quiet)
        m, out = result["metrics"], result["output"]
        best = m["best_validation"]
        print(f"{m['iterations']} iterations in {m['seconds']:.0f} s ({m['parameters']:,} "
              f"parameters, {m['device']}); final loss {m['final_loss']:.4f}"
              + (f"; best validation MIoU {best['miou_all']:.4f} at iteration "
                 f"{best['iteration']}" if best else "; no validation"))
        print(f"checkpoint {result['checkpoint']}; metrics {out / 'metrics.json'}; curve "
              f"{out / 'training-curve.png'}")
        return
    if args.set or args.data:
        raise ValueError("--set and --data go with --config")
    if not args.output:
        raise ValueError("train needs --output RUN_FOLDER (or --config TEMPLATE)")
    _train_config(args)  # wrong options fail now, before the data are read
    from emseg.plot import plot_history

    train, val = _training_data(args)
    model, config = _model_and_config(args)
    out = Path(args.output)
    print(f"training {model.spec()['name']} {model.spec()['kwargs']} on {train} for "
          f"{config.iterations} iterations -> {out}")
    history = fit(model, train, val, config=config, output_dir=out, resume=args.resume,
                  overwrite=args.overwrite, device=args.device, progress=not args.quiet)
    if int(os.environ.get("RANK", "0")) != 0:
        return  # torchrun: rank 0 writes the curve and reports (fit wrote its checkpoints)
    plot_history(history, out / "training-curve.png", overwrite=True)  # the run folder's own
    if history["val"]:
        last = dict(history["val"][-1])
        it = last.pop("iteration")
        print(f"validation at iteration {it}: " + ", ".join(f"{k} {v:.4f}" for k, v in last.items()))
    print(f"checkpoints in {out / 'checkpoints'}; curve in {out / 'training-curve.png'}")


#: ``{command: (add its parser to the subparsers, run it with the parsed options)}``
COMMANDS = {"train": (_add_train, _cmd_train), "template": (_add_template, _cmd_template)}
