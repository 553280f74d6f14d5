"""The ``trace`` command: neurons in a 3D stack to an SWC file (a VoxResNet probability
map and voxel scooping, or the threshold-and-skeletonise baseline; :mod:`emseg.tracing`).

``COMMANDS`` maps the command to ``(add its parser, run it)``.
"""
import time
from pathlib import Path

from emseg.cli.args import add_device, checked_output

__all__ = ["COMMANDS"]


def _add_trace(sub):
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
    add_device(p)


def _cmd_trace(args):
    from emseg.data import read_volume, write_volume
    from emseg.tracing import probability_map, raw_foreground, trace_voxel_scooping, write_swc

    inputs = [args.input, args.model]
    checked_output(args.output, args, *inputs)
    if args.probabilities:
        checked_output(args.probabilities, args, *inputs, args.output, what="--probabilities")
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


#: ``{command: (add its parser to the subparsers, run it with the parsed options)}``
COMMANDS = {"trace": (_add_trace, _cmd_trace)}
