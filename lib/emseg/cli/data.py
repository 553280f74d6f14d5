"""The commands that get or write data and networks: ``fetch`` (datasets, pretrained
nets), ``convert`` (a TensorFlow checkpoint to PyTorch), ``export`` (a network-only
copy or a bioimage.io package) and ``phantom`` (synthetic platelet TIFFs).

``COMMANDS`` maps each command to ``(add its parser, run it)``.
"""
from pathlib import Path

from emseg.cli.args import checked_output, shape
from emseg.data.registry import DATASETS

__all__ = ["COMMANDS"]


def _add_fetch(sub):
    p = sub.add_parser("fetch", help="download and verify a dataset or pretrained nets into the cache folder")
    p.add_argument("dataset", nargs="?", default="platelet",
                   help=f"a dataset ({', '.join(DATASETS)}; default: platelet), a pretrained net "
                        f"(2d3d-3x3x3_0 ... _3; downloaded and converted to PyTorch), or "
                        f"'pretrained' for all four")
    p.add_argument("--data-dir", default=None, help="cache folder (default: $EMSEG_DATA_DIR or the OS cache)")


def _add_convert(sub):
    p = sub.add_parser("convert", help="convert an original TensorFlow 2D-3D checkpoint to a PyTorch .pt file")
    p.add_argument("checkpoint", help="checkpoint folder, prefix (model.ckpt-N), .index file, or a "
                                      "published 2d3d-3x3x3_N.zip")
    p.add_argument("--output", required=True, help="the .pt file to write")
    p.add_argument("--overwrite", action="store_true", help="replace an existing output file")


def _add_export(sub):
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


def _add_phantom(sub):
    p = sub.add_parser("phantom", help="write a synthetic platelet dataset (exact ground truth) as TIFFs")
    p.add_argument("--output", required=True, help="folder for <split>-images.tif, <split>-labels.tif, ...")
    p.add_argument("--split", default="all", choices=["train", "eval", "test", "all"])
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--shape", type=shape, default=None, help="volume shape z,y,x (default: per split)")
    p.add_argument("--overwrite", action="store_true", help="replace existing files in --output")


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
    checked_output(out, args, source)
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
    out = checked_output(args.output, args, args.checkpoint)
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
    out = checked_output(args.bioimageio, args, args.checkpoint, args.test_image,
                         what="--bioimageio")
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
            checked_output(out / f"{split}-{kind}.tif", args)
    for split in splits:
        vol = platelet_phantom(split, seed=args.seed, shape=args.shape)
        write_volume(out / f"{split}-images.tif", vol.image, overwrite=args.overwrite)
        write_volume(out / f"{split}-labels.tif", vol.labels, overwrite=args.overwrite)
        if vol.weights is not None:
            write_volume(out / f"{split}-error-weights.tif", vol.weights,
                         overwrite=args.overwrite)
        print(f"{split}: {vol.image.shape} -> {out}/{split}-*.tif")


#: ``{command: (add its parser to the subparsers, run it with the parsed options)}``
COMMANDS = {"fetch": (_add_fetch, _cmd_fetch), "convert": (_add_convert, _cmd_convert),
            "export": (_add_export, _cmd_export), "phantom": (_add_phantom, _cmd_phantom)}
