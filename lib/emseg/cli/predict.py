"""The commands that segment and score volumes: ``predict`` (a TIFF volume, one network
or an ensemble, or a template's test folder with ``--config``), ``predict-large``
(block by block on dask into zarr, resumable) and ``evaluate`` (IoU, MIoU, accuracy and
ARI of a prediction).

``COMMANDS`` maps each command to ``(add its parser, run it)``.
"""
import time
from pathlib import Path

from emseg.cli.args import add_device, add_precision, checked_output, shape, write_report
from emseg.cli.train import config_from_args

__all__ = ["COMMANDS"]


def _add_predict(sub):
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
    _add_tiling(p)
    p.add_argument("--overwrite", action="store_true",
                   help="replace existing output files (never an input)")
    p.add_argument("--quiet", action="store_true")
    add_device(p)


def _add_tiling(p):
    """The options of the tiler (emseg.infer.predict) that predict and predict-large share."""
    p.add_argument("--window", type=shape)
    p.add_argument("--overlap", type=float, default=0.25)
    p.add_argument("--batch-size", type=int, default=4)
    p.add_argument("--tta", action="store_true", help="average over flips (4x slower)")
    add_precision(p)


def _add_predict_large(sub):
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
    p.add_argument("--block-size", type=shape, help="block interior z,y,x (default about 32,512,512)")
    p.add_argument("--halo", type=shape, help="halo z,y,x (default: the smallest seamless one)")
    p.add_argument("--chunks", type=shape, help="output chunks z,y,x dividing the block (default: the block)")
    _add_tiling(p)
    p.add_argument("--no-zscore", action="store_true",
                   help="use the values as they are (default: z-score with the whole volume's "
                        "mean and standard deviation, computed in a first pass)")
    p.add_argument("--workers", type=int, help="workers of the local dask cluster (default: one "
                                                "per GPU, else 1 per 2 CPU cores)")
    p.add_argument("--scheduler", help="address of a running dask scheduler, e.g. tcp://host:8786")
    p.add_argument("--overwrite", action="store_true",
                   help="replace an earlier emseg prediction in --output made with other settings")
    p.add_argument("--quiet", action="store_true")
    add_device(p)


def _add_evaluate(sub):
    p = sub.add_parser("evaluate", help="per-class IoU, MIoU, accuracy, ARI of a prediction")
    p.add_argument("--labels", required=True, help="ground-truth label TIFF")
    p.add_argument("--prediction", required=True, help="predicted label TIFF")
    p.add_argument("--n-classes", type=int, default=7)
    p.add_argument("--organelles", default=None,
                   help="classes for the organelle MIoU, e.g. 2,3,4,5,6 (default: those with 7 "
                        "classes, the platelet data; '' for none)")
    p.add_argument("--json", help="also write the report as JSON")
    p.add_argument("--overwrite", action="store_true", help="replace an existing --json file")


def _tiff_name(path, what):
    """ValueError unless ``path`` ends in .tif/.tiff (checked before any work is done)."""
    if Path(path).suffix.lower() not in (".tif", ".tiff"):
        raise ValueError(f"{what} {path}: give a .tif file name")


def _cmd_predict(args):
    if args.config:
        from emseg.templates import predict_from_config
        config = config_from_args(args, "predict")
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
    checked_output(args.output, args, *inputs)
    if args.probabilities:
        _tiff_name(args.probabilities, "--probabilities")
        checked_output(args.probabilities, args, *inputs, args.output, what="--probabilities")
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
        checked_output(args.json, args, args.labels, args.prediction, what="--json")
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
        write_report(report, args.json)


#: ``{command: (add its parser to the subparsers, run it with the parsed options)}``
COMMANDS = {"predict": (_add_predict, _cmd_predict),
            "predict-large": (_add_predict_large, _cmd_predict_large),
            "evaluate": (_add_evaluate, _cmd_evaluate)}
