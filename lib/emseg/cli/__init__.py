"""The command line: ``python -m emseg COMMAND ...`` (see ``--help``).

Every command calls the same library functions the notebooks use.
"""
import argparse
import dataclasses
import sys
import time
from pathlib import Path

__all__ = ["main"]

def _shape(text):
    return tuple(int(v) for v in text.replace("x", ",").split(",") if v)


def _numbers(kind, *, size=None, one=False):
    """An argparse type: comma- or x-separated ``kind`` values (``16,64,64``, ``16x64x64``)
    as a tuple (of ``size`` values, when given); with ``one``, a single value stays a
    number (``--scale 2``)."""
    word = {int: "integers", float: "numbers"}[kind]

    def parse(text):
        try:
            values = tuple(kind(v) for v in text.replace("x", ",").split(",") if v.strip())
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {word} separated by commas, e.g. "
                                             f"{'2,2' if kind is int else '0.9,0.999'}; got "
                                             f"{text!r}") from None
        if not values or (size is not None and len(values) != size):
            raise argparse.ArgumentTypeError(f"expected {size or ''}{' ' if size else ''}{word} "
                                             f"separated by commas, got {text!r}")
        return values[0] if one and len(values) == 1 else values

    parse.__name__ = f"list of {word}"
    return parse


def _or_none(parse):
    """An argparse type: ``parse``, or the word ``none`` (kept as ``"none"``: clear the setting)."""
    def parse_or_none(text):
        return "none" if text.strip().lower() == "none" else parse(text)

    parse_or_none.__name__ = getattr(parse, "__name__", "value")
    return parse_or_none


def _train_settings():
    """One ``train`` option per :class:`~emseg.train.TrainConfig` field: ``{dest: (flags,
    add_argument keywords)}``, from the field's annotation and ``help``/``choices`` metadata.

    Every default is None (keep the preset's value) except ``--seed`` (0). A field whose
    type has no command-line form raises TypeError, so a new field cannot be forgotten.
    """
    import dataclasses
    import typing
    from emseg.train import TrainConfig

    hints = typing.get_type_hints(TrainConfig)
    settings = {}
    for f in dataclasses.fields(TrainConfig):
        hint = hints[f.name]
        optional = typing.get_origin(hint) is typing.Union
        if optional:  # Optional[X]
            hint = next(a for a in typing.get_args(hint) if a is not type(None))
        help_text, choices = f.metadata["help"], f.metadata["choices"]
        kw = {"dest": f.name, "default": None, "help": help_text.replace("%", "%%")}
        if f.name == "augment":  # the table's sub-settings: in a config file (emseg.config)
            kw.update(action=argparse.BooleanOptionalAction,
                      help="augmentation: the preset's (or emseg.augment.AugmentConfig's "
                           "defaults when it has none); --no-augment: none")
        elif hint is bool:
            kw["action"] = argparse.BooleanOptionalAction
        elif typing.get_origin(hint) is tuple and typing.get_args(hint)[0] in (int, float):
            args = typing.get_args(hint)
            letter = {int: "N", float: "X"}[args[0]]
            size = None if args[-1] is Ellipsis else len(args)
            kw.update(type=_numbers(args[0], size=size, one=f.name == "scale"),
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
                            f"add one to emseg.cli._train_settings")
        if f.name == "seed":
            kw.update(default=0, help=kw["help"] + " (default: 0)")  # as before
        if optional and "type" in kw:  # "none" clears a value the preset sets
            kw.update(type=_or_none(kw["type"]), help=kw["help"] + "; 'none' clears it")
        settings[f.name] = ("--" + f.name.replace("_", "-"), kw)
    return settings


_TRAIN_SETTINGS = _train_settings()


def _norms():
    from emseg.models import NORMS
    return tuple("none" if n is None else n for n in NORMS)


_NORMS = _norms()  # --norm: batch, group, instance, none


def _add_precision(p):
    from emseg.device import PRECISIONS
    p.add_argument("--precision", choices=PRECISIONS, default="auto",
                   help="the network's arithmetic: auto (mixed precision on CUDA, bfloat16 on a "
                        "CPU with native bfloat16, else float32), or one of them")


def _add_device(p):
    p.add_argument("--device", default=None,
                   help="cpu, cuda, cuda:1, ... (default: CUDA if available, else CPU)")


def _parser():
    from emseg.models import models_with_option
    from emseg.train import models_for_task

    parser = argparse.ArgumentParser(
        prog="python -m emseg",
        description="emseg: deep-learning segmentation of EM volumes. Fetch data, make synthetic "
                    "phantoms, train, predict and evaluate.")
    parser.add_argument("--debug", action="store_true",
                        help="show the full traceback of an error (also: EMSEG_DEBUG=1)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    p = sub.add_parser("fetch", help="download and verify a dataset or pretrained nets into the cache folder")
    p.add_argument("dataset", nargs="?", default="platelet",
                   help="dataset name (default: platelet), a pretrained net (2d3d-3x3x3_0 ... _3; "
                        "downloaded and converted to PyTorch), or 'pretrained' for all four")
    p.add_argument("--data-dir", default=None, help="cache folder (default: $EMSEG_DATA_DIR or the OS cache)")

    p = sub.add_parser("convert", help="convert an original TensorFlow 2D-3D checkpoint to a PyTorch .pt file")
    p.add_argument("checkpoint", help="checkpoint folder, prefix (model.ckpt-N), .index file, or a "
                                      "published 2d3d-3x3x3_N.zip")
    p.add_argument("--output", required=True, help="the .pt file to write")
    p.add_argument("--overwrite", action="store_true", help="replace an existing output file")

    p = sub.add_parser("export", help="write a network-only copy of a checkpoint (optionally float16)")
    p.add_argument("checkpoint", help="a training checkpoint (best.pt, last.pt) or saved model")
    p.add_argument("--output", help="the .pt file to write")
    p.add_argument("--half", action="store_true", help="store the weights as float16 (half the size)")
    p.add_argument("--bioimageio", metavar="ZIP", help="write a bioimage.io model package instead "
                   "(needs the bioimageio extra); with --test-image, --name, --class-names")
    p.add_argument("--test-image", help="--bioimageio: an image of your data (TIFF); the "
                   "package's test input/output is its first window")
    p.add_argument("--name", help="--bioimageio: the package's name (default: 'emseg <network> "
                   "(<checkpoint name>)')")
    p.add_argument("--class-names", help="--bioimageio: comma-separated class names")
    p.add_argument("--preprocessing", choices=("zscore", "noise"),
                   help="--bioimageio: the input normalisation used in training (default: "
                        "emseg's for the network: noise units for VoxResNet, else z-score)")
    p.add_argument("--training-data", default="not stated",
                   help="--bioimageio: what the network was trained on (real or synthetic)")
    p.add_argument("--overwrite", action="store_true", help="replace an existing output file")

    p = sub.add_parser("phantom", help="write a synthetic platelet dataset (exact ground truth) as TIFFs")
    p.add_argument("--output", required=True, help="folder for <split>-images.tif, <split>-labels.tif, ...")
    p.add_argument("--split", default="all", choices=["train", "eval", "test", "all"])
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--shape", type=_shape, default=None, help="volume shape z,y,x (default: per split)")
    p.add_argument("--overwrite", action="store_true", help="replace existing files in --output")

    p = sub.add_parser("train", help="train a network; writes checkpoints/best.pt, last.pt, history.json")
    p.add_argument("--config", help="a TOML template (file, or unet2d/unet3d/reisoseg/net2d3d) "
                                    "for your own train/images, train/labels folders; see emseg.config")
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
    p.add_argument("--source", default="auto", choices=["auto", "platelet", "phantom"],
                   help="platelet data: auto (real, else synthetic), platelet (real only), phantom")
    p.add_argument("--train-images", help="your own training image TIFF (instead of --source)")
    p.add_argument("--train-labels", help="your own training label TIFF")
    p.add_argument("--train-weights", help="optional error-weight TIFF for the training volume")
    p.add_argument("--val-images", help="your own validation image TIFF")
    p.add_argument("--val-labels", help="your own validation label TIFF")
    p.add_argument("--n-classes", type=int, default=7)
    p.add_argument("--preset", default="cpu", choices=["cpu", "original", "cpu-legacy"],
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
    _add_device(p)
    group = p.add_argument_group(
        "training settings", "the fields of emseg.train.TrainConfig; each one left out keeps "
                             "the preset's (or the config file's) value")
    for flag, kw in _TRAIN_SETTINGS.values():
        group.add_argument(flag, **kw)

    p = sub.add_parser("predict", help="segment a TIFF volume with one network or an ensemble")
    p.add_argument("--config", help="a TOML template used for training: predict its test/images folder")
    p.add_argument("--set", action="append", default=[], metavar="SECTION.KEY=VALUE",
                   help="with --config: change one config key, e.g. --set predict.split=val "
                        "--set predict.probabilities=true (repeatable)")
    p.add_argument("--data", help="with --config: the data folder, relative to the current "
                                  "folder; sets data.folder")
    p.add_argument("--model", action="append",
                   help="checkpoint (.pt) or pretrained name (2d3d-3x3x3_0 ...); repeat for an "
                        "ensemble (mean of probabilities)")
    p.add_argument("--input", help="image TIFF (z, y, x); z-scored before prediction")
    p.add_argument("--output", help="label TIFF to write (uint8)")
    p.add_argument("--probabilities", help="also write the class probabilities (float32, C,z,y,x)")
    p.add_argument("--window", type=_shape)
    p.add_argument("--overlap", type=float, default=0.25)
    p.add_argument("--batch-size", type=int, default=4)
    p.add_argument("--tta", action="store_true", help="average over flips (4x slower)")
    _add_precision(p)
    p.add_argument("--overwrite", action="store_true",
                   help="replace existing output files (never an input)")
    p.add_argument("--quiet", action="store_true")
    _add_device(p)

    p = sub.add_parser("predict-large",
                       help="predict a volume larger than memory block by block on dask into zarr "
                            "(resumable)",
                       description="Blockwise prediction (emseg.blockwise.predict_large): blocks with "
                                   "a halo, one dask task each, written into a chunked zarr group with "
                                   "a done-marker per block; rerun the same command to resume. The "
                                   "result equals the in-memory prediction of the z-scored volume.")
    p.add_argument("--model", action="append", required=True,
                   help="checkpoint (.pt) or pretrained name; repeat for an ensemble")
    p.add_argument("--input", required=True,
                   help="TIFF file, zarr array/group (folder or fsspec URL) or .npy file")
    p.add_argument("--dataset", help="the array inside a zarr group input (e.g. raw)")
    p.add_argument("--output", required=True, help="output zarr group (folder or fsspec URL)")
    kind = p.add_mutually_exclusive_group()
    kind.add_argument("--labels", action="store_true", help="write argmax labels (uint8)")
    kind.add_argument("--uint8", action="store_true",
                      help="write probabilities as uint8 round(255 p) instead of float32")
    p.add_argument("--block-size", type=_shape, help="block interior z,y,x (default about 32,512,512)")
    p.add_argument("--halo", type=_shape, help="halo z,y,x (default: the smallest seamless one)")
    p.add_argument("--chunks", type=_shape, help="output chunks z,y,x dividing the block (default: the block)")
    p.add_argument("--window", type=_shape)
    p.add_argument("--overlap", type=float, default=0.25)
    p.add_argument("--batch-size", type=int, default=4)
    p.add_argument("--tta", action="store_true", help="average over flips (4x slower)")
    _add_precision(p)
    p.add_argument("--no-zscore", action="store_true",
                   help="use the values as they are (default: z-score with the whole volume's "
                        "mean and standard deviation, computed in a first pass)")
    p.add_argument("--workers", type=int, help="workers of the local dask cluster (default: one "
                                                "per GPU, else 1 per 2 CPU cores)")
    p.add_argument("--scheduler", help="address of a running dask scheduler, e.g. tcp://host:8786")
    p.add_argument("--overwrite", action="store_true",
                   help="replace an earlier emseg prediction in --output made with other settings")
    p.add_argument("--quiet", action="store_true")
    _add_device(p)

    p = sub.add_parser("evaluate", help="per-class IoU, MIoU, accuracy, ARI of a prediction")
    p.add_argument("--labels", required=True, help="ground-truth label TIFF")
    p.add_argument("--prediction", required=True, help="predicted label TIFF")
    p.add_argument("--n-classes", type=int, default=7)
    p.add_argument("--organelles", default=None,
                   help="classes for the organelle MIoU, e.g. 2,3,4,5,6 (default: those with 7 "
                        "classes, the platelet data; '' for none)")
    p.add_argument("--json", help="also write the report as JSON")
    p.add_argument("--overwrite", action="store_true", help="replace an existing --json file")

    p = sub.add_parser("run", help="execute an example notebook headlessly (papermill) into a folder")
    p.add_argument("example", help="example1 ... example5 (or 1 ... 5), or the path of a notebook")
    p.add_argument("--quick", action="store_true",
                   help="the notebook's quick setting: small volumes, few iterations (what CI runs)")
    p.add_argument("--output", default=None,
                   help="output folder (default runs/exampleN, or runs/exampleN-quick)")
    p.add_argument("-p", "--parameter", nargs=2, action="append", default=[],
                   metavar=("NAME", "VALUE"),
                   help="set a notebook parameter, e.g. -p iterations 500 -p source phantom")
    p.add_argument("--no-html", action="store_true", help="do not write the HTML rendering")
    p.add_argument("--quiet", action="store_true", help="no progress bar")

    p = sub.add_parser("template", help="list the ready TOML configs, or copy one to edit "
                                        "(for train/predict --config)")
    p.add_argument("name", nargs="?", help="unet2d, unet3d, reisoseg or net2d3d (none: list them)")
    p.add_argument("--output", help="the .toml file to write (default: print the template)")
    p.add_argument("--overwrite", action="store_true", help="replace an existing output file")

    p = sub.add_parser("trace", help="trace neurons in a 3D stack to SWC (VoxResNet probability "
                                     "map + voxel scooping, or the skeleton baseline)")
    p.add_argument("--input", required=True, help="3D TIFF: a raw stack (with --model or "
                   "--baseline), or a probability map / mask")
    p.add_argument("--output", required=True, help="the SWC file to write")
    p.add_argument("--model", help="a 2-class network checkpoint (e.g. example 5's net.pt): "
                   "predict the probability map first")
    p.add_argument("--baseline", action="store_true",
                   help="trace the raw stack with the baseline (threshold + skeletonise)")
    p.add_argument("--threshold", type=float, default=None,
                   help="foreground threshold of the input map (default 0.5 for float maps; "
                        "needed for integer maps, e.g. 128 for uint8 probabilities)")
    p.add_argument("--voxel-size", type=float, nargs=3, default=(1.0, 1.0, 1.0),
                   metavar=("Z", "Y", "X"), help="voxel size, e.g. 1.0 0.5 0.5 (um)")
    p.add_argument("--probabilities", help="also write the probability map (with --model)")
    p.add_argument("--overwrite", action="store_true", help="replace an existing --output")
    _add_device(p)

    p = sub.add_parser("demo", help="the whole workflow, small: phantom -> train -> tiled predict -> metrics")
    p.add_argument("--output", default="runs/demo", help="run folder (default: runs/demo)")
    p.add_argument("--source", default="phantom", choices=["auto", "platelet", "phantom"])
    p.add_argument("--iterations", type=int, default=1000)
    p.add_argument("--quiet", action="store_true")
    _add_device(p)
    _add_ecs_parser(sub)
    return parser


def _output(path, args, *inputs, what="--output"):
    """Check an output file of a command: not one of its inputs, and not an existing file
    unless ``--overwrite`` was given (emseg._atomic.check_output)."""
    from emseg._atomic import check_output
    return check_output(path, overwrite=getattr(args, "overwrite", False), inputs=inputs,
                        what=what, how="--overwrite")


def _tiff_name(path, what):
    """ValueError unless ``path`` ends in .tif/.tiff (checked before any work is done)."""
    if Path(path).suffix.lower() not in (".tif", ".tiff"):
        raise ValueError(f"{what} {path}: give a .tif file name")


def _cmd_fetch(args):
    from emseg.data import fetch_dataset
    from emseg.pretrained import ORIGINAL_ENSEMBLE, PRETRAINED, fetch_pretrained

    if args.dataset == "pretrained" or args.dataset in PRETRAINED:
        names = ORIGINAL_ENSEMBLE if args.dataset == "pretrained" else [args.dataset]
        for name in names:
            print(f"{name}: {fetch_pretrained(name, data_dir=args.data_dir)}")
        return
    folder = fetch_dataset(args.dataset, data_dir=args.data_dir)
    print(f"{args.dataset}: verified files in {folder}")


def _cmd_convert(args):
    import tempfile
    import zipfile

    from emseg.checkpoint import save_model
    from emseg.data.fetch import safe_extract
    from emseg.models.genenet import convert_genenet
    from emseg.pretrained import find_checkpoint

    out, source = Path(args.output), Path(args.checkpoint)
    if out.suffix != ".pt":
        raise ValueError(f"--output must end in .pt, got {out}")
    _output(out, args, source)
    with tempfile.TemporaryDirectory() as tmp:
        if source.is_file() and zipfile.is_zipfile(source):
            safe_extract(source, tmp)
            source = find_checkpoint(tmp)
        model, info = convert_genenet(source, device="cpu")
        info["ignored"] = len(info["ignored"])
        save_model(model, out, overwrite=args.overwrite,
                   source={"name": Path(args.checkpoint).name, "conversion": info})
    print(f"converted {info['n_tensors']} tensors (scope {info['prefix']}, step "
          f"{info['global_step']}; {info['ignored']} optimizer/bookkeeping variables skipped): "
          f"{model.spec()['name']} {model.spec()['kwargs']} -> {out}")


def _cmd_export(args):
    from emseg.checkpoint import export_model

    if args.bioimageio:
        return _export_bioimageio(args)
    if not args.output:
        raise ValueError("export needs --output FILE.pt (or --bioimageio FILE.zip)")
    out = _output(args.output, args, args.checkpoint)
    export_model(args.checkpoint, out, half=args.half)
    print(f"{args.checkpoint} -> {out} ({out.stat().st_size / 1e6:.2f} MB"
          + (", float16 weights)" if args.half else ")"))


def _export_bioimageio(args):
    from emseg.bioimageio import to_bioimageio
    from emseg.checkpoint import load_model
    from emseg.data import read_volume

    if args.output or args.half:
        raise ValueError("--bioimageio writes a package: leave out --output and --half")
    if not args.test_image:
        raise ValueError("--bioimageio needs --test-image (a TIFF of your data: the package's "
                         "test input is its first window)")
    out = _output(args.bioimageio, args, args.checkpoint, args.test_image, what="--bioimageio")
    model = load_model(args.checkpoint, device="cpu")
    names = [n.strip() for n in args.class_names.split(",")] if args.class_names else None
    name = args.name or f"emseg {model.spec()['name']} ({Path(args.checkpoint).stem})"
    to_bioimageio(model, out, name=name, test_image=read_volume(args.test_image), class_names=names,
                  training_data=args.training_data, preprocessing=args.preprocessing,
                  overwrite=args.overwrite)
    print(f"{args.checkpoint} -> {out} (bioimage.io package, {out.stat().st_size / 1e6:.2f} MB)")


def _cmd_phantom(args):
    from emseg.data import platelet_phantom, write_volume
    out = Path(args.output)
    if out.exists() and not out.is_dir():
        raise ValueError(f"--output {out} is a file; give a folder for the phantom's TIFFs")
    splits = ["train", "eval", "test"] if args.split == "all" else [args.split]
    for split in splits:  # refuse before anything is written
        for kind in ("images", "labels", "error-weights"):
            _output(out / f"{split}-{kind}.tif", args)
    for split in splits:
        vol = platelet_phantom(split, seed=args.seed, shape=args.shape)
        write_volume(out / f"{split}-images.tif", vol.image, overwrite=args.overwrite)
        write_volume(out / f"{split}-labels.tif", vol.labels, overwrite=args.overwrite)
        if vol.weights is not None:
            write_volume(out / f"{split}-error-weights.tif", vol.weights,
                         overwrite=args.overwrite)
        print(f"{split}: {vol.image.shape} -> {out}/{split}-*.tif")


def _user_volume(images, labels, weights, name, n_classes):
    """A training/validation Volume from the user's TIFFs, each checked (naming its file)."""
    import numpy as np
    from emseg._validate import check_image, check_labels
    from emseg.data import Volume, read_volume, zscore
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
    from emseg.data import load_platelet
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
    train = load_platelet("train", source=args.source)
    val = load_platelet("eval", source="phantom" if train.synthetic else args.source)
    return train, val


def _train_config(args):
    """The preset and its TrainConfig with the ``train`` options given (no network yet).

    Checks the options against the preset's network and the settings as
    :func:`emseg.train.fit` will (ValueError naming the option), before any data are read.
    """
    from emseg.augment import AugmentConfig
    from emseg.models import MODELS
    from emseg.resample import check_scale
    from emseg.train import PRESETS
    from emseg.train import check_config

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
    from emseg.models import model_options, models_with_option
    if "norm" not in model_options(net):
        raise ValueError(f"--norm sets the normalisation layers of the networks with a norm "
                         f"option ({', '.join(models_with_option('norm'))}); {name} has none")


def _refuse_anisotropy(net, what):
    """--anisotropy goes with the networks that take it (the 3D models' pooling plan)."""
    from emseg.models import model_options, models_with_option
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


def _explicit_options(argv):
    """The options the user typed (not argparse's defaults), as ``{dest: value}``."""
    parser = _parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    for command in sub.choices.values():
        for action in command._actions:
            action.default = argparse.SUPPRESS
    return vars(parser.parse_args(argv))


def _config_from_args(args, command):
    """Load ``--config`` and apply ``--set`` and the options that map to config keys."""
    from emseg.config import apply_overrides, load_config

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
        from emseg.models import model_class
        from emseg.train import PRESETS
        name = config.model.name or PRESETS.get(config.train.preset, PRESETS["unet3d-cpu"]).model
        _refuse_anisotropy(model_class(name), f"the config's model {name}")
    if "norm" in given:
        from emseg.models import model_class
        from emseg.train import PRESETS
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
    from emseg.config import TEMPLATES, load_config, template_path

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
    from emseg._atomic import atomic_path
    with atomic_path(out) as tmp:
        tmp.write_text(text, encoding="utf-8")
    print(f"wrote {out}: edit [data] folder (relative to the file's folder) and n_classes, then "
          f"python -m emseg train --config {out}")


def _cmd_train(args):
    if args.config:
        from emseg.config import train_from_config
        config = _config_from_args(args, "train")
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
    from emseg.train import fit
    from emseg.plot import plot_history

    train, val = _training_data(args)
    model, config = _model_and_config(args)
    out = Path(args.output)
    print(f"training {model.spec()['name']} {model.spec()['kwargs']} on {train} for "
          f"{config.iterations} iterations -> {out}")
    history = fit(model, train, val, config=config, output_dir=out, resume=args.resume,
                  overwrite=args.overwrite, device=args.device, progress=not args.quiet)
    import os
    if int(os.environ.get("RANK", "0")) != 0:
        return  # torchrun: rank 0 writes the curve and reports (fit wrote its checkpoints)
    plot_history(history, out / "training-curve.png", overwrite=True)  # the run folder's own
    if history["val"]:
        last = dict(history["val"][-1])
        it = last.pop("iteration")
        print(f"validation at iteration {it}: " + ", ".join(f"{k} {v:.4f}" for k, v in last.items()))
    print(f"checkpoints in {out / 'checkpoints'}; curve in {out / 'training-curve.png'}")


def _cmd_predict(args):
    if args.config:
        from emseg.config import predict_from_config
        config = _config_from_args(args, "predict")
        result = predict_from_config(config, device=args.device, progress=not args.quiet,
                                     overwrite=args.overwrite)
        m = result["metrics"]
        for name, path in result["predictions"].items():
            print(f"{name}: {path}")
        if m["overall"] is not None:
            o = m["overall"]
            scores = ", ".join(f"{c} {v:.4f}" for c, v in zip(o["class_names"], o["iou"]))
            print(f"IoU over {len(m['volumes'])} volume(s): {scores}; MIoU {o['miou_all']:.4f}")
        print(f"metrics {result['output'] / 'metrics.json'} ({m['seconds']:.1f} s)")
        return
    if args.set or args.data:
        raise ValueError("--set and --data go with --config")
    missing = [f"--{k}" for k in ("model", "input", "output") if not getattr(args, k)]
    if missing:
        raise ValueError(f"predict needs {', '.join(missing)} (or --config TEMPLATE)")
    inputs = [args.input, *(m for m in args.model if Path(m).exists())]
    _tiff_name(args.output, "--output")
    _output(args.output, args, *inputs)
    if args.probabilities:
        _tiff_name(args.probabilities, "--probabilities")
        _output(args.probabilities, args, *inputs, args.output, what="--probabilities")
    import numpy as np
    from emseg.data import read_volume, write_volume, zscore
    from emseg.infer import predict, predict_ensemble
    from emseg.pretrained import load_pretrained

    image = zscore(read_volume(args.input))
    models = [load_pretrained(m, device=args.device) for m in args.model]
    opts = dict(window=args.window, overlap=args.overlap, batch_size=args.batch_size,
                tta=args.tta, precision=args.precision, device=args.device,
                progress=not args.quiet, output="probabilities")
    t0 = time.perf_counter()
    probs = predict(models[0], image, **opts) if len(models) == 1 else predict_ensemble(models, image, **opts)
    seconds = time.perf_counter() - t0
    labels = np.argmax(probs, axis=0).astype(np.uint8)
    write_volume(args.output, labels, overwrite=args.overwrite)
    if args.probabilities:
        write_volume(args.probabilities, probs.astype(np.float32), overwrite=args.overwrite)
    print(f"predicted {image.shape} with {len(models)} net(s) in {seconds:.1f} s "
          f"({image.size / seconds:,.0f} voxels/s) -> {args.output}")


def _cmd_predict_large(args):
    from emseg.blockwise import predict_large

    image = args.input
    if str(image).endswith(".npy"):
        import numpy as np
        image = np.load(image, mmap_mode="r")  # memory-mapped: read block by block
    info = predict_large(args.model if len(args.model) > 1 else args.model[0], image, args.output,
                         output="labels" if args.labels else "probabilities",
                         dtype="uint8" if args.uint8 else "float32", block_size=args.block_size,
                         halo=args.halo[0] if args.halo and len(args.halo) == 1 else args.halo,
                         chunks=args.chunks, window=args.window,
                         overlap=args.overlap, batch_size=args.batch_size, tta=args.tta,
                         normalize=None if args.no_zscore else "zscore", dataset=args.dataset,
                         scheduler=args.scheduler, n_workers=args.workers, device=args.device,
                         precision=args.precision, overwrite=args.overwrite, progress=not args.quiet)
    print(f"{info['predicted']} of {info['blocks']} blocks predicted ({info['skipped']} done before) "
          f"in {info['seconds']:.1f} s ({info['voxels_per_second']:,.0f} voxels/s) with "
          f"{info['workers']} worker(s) -> {info['target']}/{info['array']}")


def _cmd_evaluate(args):
    from emseg.data import read_volume
    from emseg.metrics import format_report, segmentation_report

    if args.json:
        _output(args.json, args, args.labels, args.prediction, what="--json")
    true, pred = read_volume(args.labels), read_volume(args.prediction)
    if true.shape != pred.shape:
        raise ValueError(f"--prediction {args.prediction} has shape {pred.shape} but --labels "
                         f"{args.labels} has {true.shape}; compare a prediction of the same "
                         f"volume")
    spec = args.organelles if args.organelles is not None else ("2,3,4,5,6" if args.n_classes == 7 else "")
    organelles = tuple(int(c) for c in spec.split(",") if c.strip()) or None
    names = None
    if args.n_classes == 7:
        from emseg.data import CLASS_NAMES
        names = list(CLASS_NAMES)
    report = segmentation_report(true, pred, n_classes=args.n_classes, class_names=names,
                                 organelle_classes=organelles)
    print(format_report(report, title=f"{args.prediction} vs {args.labels}"))
    if args.json:
        _write_json(report, args.json)


def _write_json(report, path):
    from emseg._atomic import write_json
    write_json(path, report)


def _cmd_run(args):
    from emseg.run import final_results, parse_value, run_example

    params = {name: parse_value(value) for name, value in args.parameter}
    t0 = time.perf_counter()
    import papermill

    try:
        path = run_example(args.example, quick=args.quick, output=args.output, parameters=params,
                           html=not args.no_html, progress=not args.quiet)
    except papermill.PapermillExecutionError as err:
        print(f"error: cell {err.exec_count} of {args.example} failed: {err.ename}: {err.evalue}\n"
              f"The executed notebook, with the traceback, is in the output folder.",
              file=sys.stderr)
        return 1
    results = final_results(path)
    if results:  # the example's results table, in the terminal too
        print(results + "\n")
    print(f"executed {path} in {time.perf_counter() - t0:.0f} s"
          + ("" if args.no_html else f"; HTML: {path.with_suffix('.html')}"))


def _cmd_trace(args):
    from pathlib import Path

    from emseg.data import read_volume, write_volume
    from emseg.tracing import probability_map, raw_foreground, trace_voxel_scooping, write_swc

    inputs = [args.input, args.model]
    _output(args.output, args, *inputs)
    if args.probabilities:
        _output(args.probabilities, args, *inputs, args.output, what="--probabilities")
    if args.model and args.baseline:
        raise ValueError("--model (the CNN pipeline) and --baseline exclude each other")
    if args.baseline and args.threshold is not None:
        raise ValueError("--baseline thresholds the raw stack itself (median + 5 MAD of the "
                         "smoothed stack); --threshold applies to a map or the CNN's output only")
    if args.probabilities and not args.model:
        raise ValueError("--probabilities writes the network's probability map: it needs --model")
    if args.probabilities and Path(args.probabilities).suffix.lower() not in (".tif", ".tiff"):
        raise ValueError(f"--probabilities {args.probabilities}: give a .tif file name")
    image = read_volume(args.input)
    t0 = time.perf_counter()
    if args.model:
        from emseg.checkpoint import load_model
        net = load_model(args.model, device=args.device)
        image = probability_map(net, image, device=args.device)
        if args.probabilities:
            write_volume(args.probabilities, image.astype("float32"), overwrite=args.overwrite)
        tree = trace_voxel_scooping(image, threshold=args.threshold, voxel_size=args.voxel_size)
        how = "VoxResNet probability map + voxel scooping"
    elif args.baseline:
        from emseg.tracing import trace_skeleton
        tree = trace_skeleton(raw_foreground(image), voxel_size=args.voxel_size)
        how = "baseline: threshold + skeletonisation"
    else:
        tree = trace_voxel_scooping(image, threshold=args.threshold, voxel_size=args.voxel_size)
        how = "voxel scooping"
    seconds = time.perf_counter() - t0
    write_swc(args.output, tree, comments=[f"emseg trace ({how}) of {Path(args.input).name}"],
              overwrite=args.overwrite)
    print(f"traced {image.shape} ({how}) in {seconds:.1f} s ({image.size / seconds:,.0f} voxels/s): "
          f"{len(tree)} nodes, {len(tree.roots)} tree(s) -> {args.output}")


def _cmd_demo(args):
    from emseg.workflow import run_demo
    run_demo(output=args.output, source=args.source, iterations=args.iterations,
             device=args.device, progress=not args.quiet)


def _add_ecs_parser(sub):
    """``ecs train|predict|evaluate|quantify``: example 4's functions (emseg.ecs_workflow, emseg.ecs)."""
    ecs = sub.add_parser("ecs", help="extracellular space: train ECS-Net, segment sections, "
                                     "evaluate, quantify (example 4)")
    acts = ecs.add_subparsers(dest="ecs_command", metavar="ACTION")
    vs = dict(type=float, nargs=3, metavar=("Z", "Y", "X"), help="voxel size in nm, e.g. 50 9 9")

    p = acts.add_parser("train", help="train an ECS-Net variant on your images/ + labels/ folder "
                                      "(or the ECS phantom); writes RUN/checkpoints/best.pt")
    p.add_argument("--data", help="folder with images/ and labels/ (same file names; labels 0/1 "
                                  "or 0/255); see emseg.data.io.read_image_label_folder")
    p.add_argument("--val-data", help="a second such folder for validation (best checkpoint)")
    p.add_argument("--source", choices=["phantom"], help="train on the synthetic ECS phantom")
    p.add_argument("--output", required=True, help="run folder")
    p.add_argument("--variant", default="ecsnet", choices=["unet", "shape", "contrastive", "ecsnet"])
    p.add_argument("--preset", default="cpu", choices=["cpu", "original"])
    p.add_argument("--iterations", type=int)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--voxel-size", default=(1.0, 1.0, 1.0), **vs)
    p.add_argument("--overwrite", action="store_true",
                   help="replace the checkpoints of an earlier run in --output")
    p.add_argument("--quiet", action="store_true")
    _add_device(p)

    p = acts.add_parser("predict", help="segment sections by overlapping tiles: "
                                        "<name>_probability.tif and <name>_labels.tif per image")
    p.add_argument("--model", required=True, help="an ECS-Net checkpoint (RUN/checkpoints/best.pt)")
    p.add_argument("--input", required=True, help="an image TIFF/PNG or a folder of them")
    p.add_argument("--output", required=True, help="results folder")
    p.add_argument("--window", type=int, nargs=2, metavar=("Y", "X"), help="tile (default: 512 512)")
    p.add_argument("--overlap", type=float, default=0.25)
    p.add_argument("--threshold", type=float, default=0.5)
    p.add_argument("--voxel-size", default=None, **{**vs, "help": "also quantify each result "
                                                                  "(<name>_ecs.csv), voxel size in nm"})
    p.add_argument("--overwrite", action="store_true",
                   help="replace the results of an earlier run in --output")
    p.add_argument("--quiet", action="store_true")
    _add_device(p)

    p = acts.add_parser("evaluate", help="Dice, IoU, precision, recall, HD95 of an ECS prediction")
    p.add_argument("--labels", required=True, help="true binary mask TIFF (0/1 or 0/255)")
    p.add_argument("--prediction", required=True, help="predicted mask or probability TIFF")
    p.add_argument("--threshold", type=float, default=0.5)
    p.add_argument("--voxel-size", default=None, **{**vs, "help": "HD95 in nm (default: pixels)"})
    p.add_argument("--json", help="also write the scores as JSON")
    p.add_argument("--overwrite", action="store_true", help="replace an existing --json file")

    p = acts.add_parser("quantify", help="ECS fraction, gap widths, skeleton length, components "
                                         "of a binary ECS mask: CSV, figure and summary")
    p.add_argument("--labels", required=True, help="binary ECS mask TIFF (0/1 or 0/255) or a "
                                                   "probability TIFF (thresholded)")
    p.add_argument("--voxel-size", required=True, **vs)
    p.add_argument("--output", required=True, help="folder for ecs.csv and ecs.png")
    p.add_argument("--threshold", type=float, default=0.5, help="for probability maps")
    p.add_argument("--overwrite", action="store_true",
                   help="replace ecs.csv and ecs.png in --output")


def _read_ecs_mask(path, threshold):
    import numpy as np
    from emseg.data import read_volume
    from emseg.data.io import binary_labels

    arr = read_volume(path)
    if np.issubdtype(arr.dtype, np.floating) and not np.all(np.isin(np.unique(arr), (0, 1))):
        if arr.min() < 0 or arr.max() > 1:
            raise ValueError(f"{path} holds floats outside [0, 1]: give a binary mask or ECS "
                             f"probabilities")
        return (arr > threshold).astype(np.uint8)
    return binary_labels(arr, Path(path).name)


def _ecs_summary(stats):
    import numpy as np
    return (f"ECS volume fraction {stats['volume_fraction']:.4f}; gap width median "
            f"{stats['gap_width_median_nm_all']:.1f} nm (p10 {stats['gap_width_p10_nm']:.1f}, p90 "
            f"{stats['gap_width_p90_nm']:.1f}); skeleton length density "
            f"{stats['length_density_per_um_all']:.2f} um/um^2; "
            f"{int(np.sum(stats['n_components']))} components in {len(stats['slice_fraction'])} "
            f"section(s)")


def _cmd_ecs(args):
    from emseg import ecs as ecs_lib
    from emseg import ecs_workflow as wf

    if args.ecs_command is None:
        raise ValueError("ecs needs an action: train, predict, evaluate or quantify "
                         "(python -m emseg ecs ACTION --help)")
    if args.ecs_command == "quantify":
        out = Path(args.output)
        if out.exists() and not out.is_dir():
            raise ValueError(f"--output {out} is a file; give a folder for ecs.csv and ecs.png")
        for name in ("ecs.csv", "ecs.png"):
            _output(out / name, args, args.labels)
        mask = _read_ecs_mask(args.labels, args.threshold)
        stats = ecs_lib.quantify_ecs(mask, voxel_size=args.voxel_size)
        ecs_lib.write_ecs_csv(out / "ecs.csv", stats, overwrite=args.overwrite)
        ecs_lib.plot_ecs(mask, out / "ecs.png", voxel_size=args.voxel_size, stats=stats,
                         title=Path(args.labels).name, overwrite=args.overwrite)
        print(_ecs_summary(stats))
        print(f"per-section table: {out / 'ecs.csv'}; figure: {out / 'ecs.png'}")
    elif args.ecs_command == "evaluate":
        from emseg.data import read_volume
        if args.json:
            _output(args.json, args, args.labels, args.prediction, what="--json")
        true = _read_ecs_mask(args.labels, 0.5)
        pred = read_volume(args.prediction)
        if not (pred.dtype.kind == "f" and pred.max() <= 1):
            pred = _read_ecs_mask(args.prediction, args.threshold)
        scores = wf.evaluate_ecs(true, pred, threshold=args.threshold, voxel_size=args.voxel_size)
        unit = "nm" if args.voxel_size else "px"
        print(" | ".join(f"{k} {scores[k]:.4f}" for k in ("dice", "iou", "precision", "recall"))
              + f" | HD95 {scores['hd95']:.1f} {unit}")
        if args.json:
            _write_json(scores, args.json)
    elif args.ecs_command == "predict":
        from emseg.checkpoint import load_model
        model = load_model(args.model, device=args.device)
        done = wf.segment_ecs(model, args.input, args.output, window=args.window,
                              overlap=args.overlap, threshold=args.threshold, device=args.device,
                              overwrite=args.overwrite, progress=not args.quiet)
        for d in done:
            print(f"{d['name']}: {d['shape']} in {d['seconds']:.1f} s -> {d['probability']}, "
                  f"{d['labels']}")
            if args.voxel_size:
                from emseg.data import read_volume
                mask = read_volume(d["labels"])
                stats = ecs_lib.quantify_ecs(mask, voxel_size=args.voxel_size)
                csv = _output(Path(args.output) / f"{d['name']}_ecs.csv", args, d["labels"])
                ecs_lib.write_ecs_csv(csv, stats, overwrite=args.overwrite)
                print(f"  {_ecs_summary(stats)}")
    else:  # train
        from emseg.data import ecs_phantom
        from emseg.data.io import read_image_label_folder
        from emseg.plot import plot_history
        if bool(args.data) == bool(args.source):
            raise ValueError("ecs train needs either --data FOLDER (images/ + labels/) or "
                             "--source phantom")
        window = wf.ecs_preset(args.preset).config.window
        if args.source:
            train = ecs_phantom((4, 256, 256), seed=args.seed)
            val = ecs_phantom((1, 256, 256), seed=args.seed + 1000)
        else:
            train = read_image_label_folder(args.data, min_shape=window, voxel_size=args.voxel_size)
            val = None if not args.val_data else read_image_label_folder(
                args.val_data, voxel_size=args.voxel_size)
        model, history = wf.train_ecs(train, val, preset=args.preset, variant=args.variant,
                                      iterations=args.iterations, seed=args.seed,
                                      output_dir=args.output, overwrite=args.overwrite,
                                      device=args.device, progress=not args.quiet)
        plot_history(history, Path(args.output) / "training-curve.png", overwrite=True)
        print(f"trained {args.variant} for {len(history['loss'])} iterations in "
              f"{history['seconds_total']:.0f} s; checkpoints in {Path(args.output) / 'checkpoints'}")


COMMANDS = {"fetch": _cmd_fetch, "convert": _cmd_convert, "export": _cmd_export,
            "phantom": _cmd_phantom, "train": _cmd_train,
            "predict": _cmd_predict, "predict-large": _cmd_predict_large,
            "evaluate": _cmd_evaluate, "run": _cmd_run,
            "demo": _cmd_demo, "template": _cmd_template, "trace": _cmd_trace,
            "ecs": _cmd_ecs}


def main(argv=None):
    """Run the command line; returns the exit status.

    A failure is printed as one ``error: ...`` line (exit status 1) that names the file
    or option and what to do; ``--debug`` or ``EMSEG_DEBUG=1`` shows the traceback
    instead.
    """
    import os

    parser = _parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 2
    debug = args.debug or os.environ.get("EMSEG_DEBUG", "") not in ("", "0")
    try:
        if getattr(args, "config", None):
            args._explicit = _explicit_options(argv)  # --config: which options were typed
        status = COMMANDS[args.command](args)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # the reader stopped early (python -m emseg template | head)
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())  # no second error when Python flushes at exit
        return 0
    except Exception as exc:
        message = None if debug else _error_line(exc)
        if message is None:
            raise
        print(f"error: {message}", file=sys.stderr)
        return 1
    return status or 0


def _error_line(exc):
    """The one-line message of a known failure, or None (an unexpected error: traceback)."""
    import errno

    from emseg.data.fetch import DataDownloadError

    if isinstance(exc, (ValueError, FileNotFoundError, DataDownloadError)):
        return " ".join(str(exc).split("\n"))  # these messages say what to do
    if isinstance(exc, ImportError) and "python -m pip install" in str(exc):
        return str(exc)  # an optional extra that is not installed: the message says which
    if isinstance(exc, MemoryError):
        return ("out of memory: the volume, window or batch is too large for this machine; "
                "use a smaller --window or --batch-size, crop the volume, or use predict-large "
                "(block by block)")
    if isinstance(exc, OSError):
        what = {errno.ENOSPC: "the disk is full; free space or write elsewhere",
                errno.EDQUOT: "the disk quota is exceeded; free space or write elsewhere",
                errno.EACCES: "permission denied; choose a folder you can write to (or read)",
                errno.EPERM: "operation not permitted; choose a folder you can write to",
                errno.EROFS: "the file system is read-only; write elsewhere",
                errno.ENOTDIR: "a part of the path is a file, not a folder; check the path",
                errno.EISDIR: "it is a folder; give a file name",
                errno.EEXIST: "it exists; choose another name or pass --overwrite",
                errno.ENAMETOOLONG: "the name is too long; choose a shorter path"}.get(exc.errno)
        what = what or f"{exc.strerror or exc}; check the path and the disk"
        return f"{exc.filename}: {what}" if exc.filename else what
    if isinstance(exc, RuntimeError) and "out of memory" in str(exc).lower():
        return ("the device ran out of memory: use a smaller --window or --batch-size (or "
                "--device cpu)")
    return None
