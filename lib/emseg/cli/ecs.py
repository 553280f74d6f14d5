"""The ``ecs`` command: its actions ``train``, ``predict``, ``evaluate`` and ``quantify``
run example 4's functions on the extracellular space (:mod:`emseg.ecs`).

``COMMANDS`` maps the command to ``(add its parser, run it)``.
"""
from pathlib import Path

from emseg.cli.args import add_device, checked_output, preset_choices, write_report
from emseg.models.ecsnet import ABLATIONS

__all__ = ["COMMANDS"]


def _add_ecs(sub):
    """``ecs train|predict|evaluate|quantify``: example 4's functions (emseg.ecs)."""
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
    p.add_argument("--variant", default="ecsnet", choices=list(ABLATIONS))
    p.add_argument("--preset", default="cpu", choices=preset_choices(["ecsnet"]))
    p.add_argument("--iterations", type=int)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--voxel-size", default=(1.0, 1.0, 1.0), **vs)
    p.add_argument("--overwrite", action="store_true",
                   help="replace the checkpoints of an earlier run in --output")
    p.add_argument("--quiet", action="store_true")
    add_device(p)

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
    add_device(p)

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
    from emseg.ecs import ecs_mask

    return ecs_mask(read_volume(path), threshold=threshold, name=Path(path).name).astype(np.uint8)


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
    from emseg.ecs import workflow as wf

    if args.ecs_command is None:
        raise ValueError("ecs needs an action: train, predict, evaluate or quantify "
                         "(python -m emseg ecs ACTION --help)")
    if args.ecs_command == "quantify":
        out = Path(args.output)
        if out.exists() and not out.is_dir():
            raise ValueError(f"--output {out} is a file; give a folder for ecs.csv and ecs.png")
        for name in ("ecs.csv", "ecs.png"):
            checked_output(out / name, args, args.labels)
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
            checked_output(args.json, args, args.labels, args.prediction, what="--json")
        true = _read_ecs_mask(args.labels, 0.5)
        pred = read_volume(args.prediction)
        if not (pred.dtype.kind == "f" and pred.max() <= 1):
            pred = _read_ecs_mask(args.prediction, args.threshold)
        scores = wf.evaluate_ecs(true, pred, threshold=args.threshold, voxel_size=args.voxel_size)
        unit = "nm" if args.voxel_size else "px"
        print(" | ".join(f"{k} {scores[k]:.4f}" for k in ("dice", "iou", "precision", "recall"))
              + f" | HD95 {scores['hd95']:.1f} {unit}")
        if args.json:
            write_report(scores, args.json)
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
                csv = checked_output(Path(args.output) / f"{d['name']}_ecs.csv", args, d["labels"])
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


#: ``{command: (add its parser to the subparsers, run it with the parsed options)}``
COMMANDS = {"ecs": (_add_ecs, _cmd_ecs)}
