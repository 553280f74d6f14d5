"""Benchmark the neuron tracers: voxel scooping (ours) against the skeletonisation baseline.

Both tracers get the SAME foreground and voxel size, and both run their whole
pipeline (input checks, 26-connected components, distance transform, tracing or
skeletonisation, spur pruning, SWC tree). Timings are medians of interleaved
repeats (ours, baseline, ours, ...) after one warm-up call each.

Inputs, all rendered by emseg.data.neuron_phantom at (1.0, 0.5, 0.5) um voxels:

* ``mask``: the exact painted mask (the tracing stage alone);
* ``mask@0.25um``: the first phantom's tree rendered at isotropic 0.25 um
  voxels (12 M voxels, ~70 k foreground): a foreground-heavy case;
* ``image@I``: the rendered stack at signal scale I (1.0, 0.5, 0.25: decreasing
  signal), smoothed (sigma 0.5/1/1 voxels) and thresholded at median + 5 x MAD
  of the smoothed stack: a crude stand-in for a CNN probability map;
* ``real``: with ``--real``, the densest 48 x 64 x 64 um box of each SWC in
  ../shared/data/neurons, as a mask (skipped when the folder is absent).

Printed per case: volume and foreground voxels, seconds, volume voxels/s and
foreground voxels/s of each tracer, the speed ratio (ours / baseline), and F1,
ESA, PDS at 2 voxels against the ground-truth tree.

Usage::

    python bench/bench_tracing.py              # ~4-5 min on 2 busy CPU cores
    python bench/bench_tracing.py --quick      # small stacks only, ~20 s
    python bench/bench_tracing.py --real       # also the five real morphologies
"""
import argparse
import statistics
import time
from pathlib import Path

import numpy as np
from scipy import ndimage as ndi

from emseg.data.neuron_phantom import neuron_phantom, render_neuron
from emseg.tracing import SwcTree, densest_box, read_swc, trace_voxel_scooping, tracing_report
from emseg.tracing.baseline import trace_skeleton

VS = (1.0, 0.5, 0.5)
REAL = Path(__file__).resolve().parents[2] / "shared" / "data" / "neurons"


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="small stacks only")
    parser.add_argument("--repeats", type=int, default=3, help="timed repeats per tracer")
    parser.add_argument("--real", action="store_true", help="also the shared real SWCs")
    return parser.parse_args()


def threshold_image(image):
    """Smoothed stack >= median + 5 MAD: the same crude foreground for both tracers."""
    smooth = ndi.gaussian_filter(image.astype(np.float32), (0.5, 1.0, 1.0))
    med = float(np.median(smooth))
    mad = float(np.median(np.abs(smooth - med))) * 1.4826
    return smooth >= med + 5 * mad


def shifted(tree, offset):
    xyz = tree.xyz + np.asarray(offset)[::-1]
    return SwcTree(id=tree.id, type=tree.type, x=xyz[:, 0], y=xyz[:, 1], z=xyz[:, 2],
                   radius=tree.radius, parent=tree.parent)


def run_case(name, mask, truth, repeats, offset=(0.0, 0.0, 0.0), vs=VS):
    tracers = {"ours": trace_voxel_scooping, "baseline": trace_skeleton}
    times = {k: [] for k in tracers}
    trees = {k: f(mask, voxel_size=vs) for k, f in tracers.items()}          # warm-up
    for _ in range(repeats):
        for key, fn in tracers.items():
            start = time.perf_counter()
            fn(mask, voxel_size=vs)
            times[key].append(time.perf_counter() - start)
    row = dict(case=name, shape="x".join(map(str, mask.shape)), voxels=mask.size,
               fg=int(mask.sum()))
    for key in tracers:
        t = statistics.median(times[key])
        r = tracing_report(shifted(trees[key], offset), truth, voxel_size=vs)
        row.update({f"{key}_s": t, f"{key}_vps": mask.size / t, f"{key}_fgps": row["fg"] / t,
                    f"{key}_f1": r["f1"], f"{key}_esa": r["esa"], f"{key}_pds": r["pds"]})
    row["ratio"] = row["baseline_s"] / row["ours_s"]
    return row


def print_table(rows):
    head = (f"{'case':<14}{'shape':>12}{'fg vox':>9} | {'ours s':>7}{'base s':>8}{'ratio':>7} | "
            f"{'ours vox/s':>11}{'base vox/s':>11} | {'ours fg/s':>10}{'base fg/s':>10} | "
            f"{'F1 ours/base':>13}{'ESA ours/base':>15}{'PDS ours/base':>15}")
    print(head)
    print("-" * len(head))
    for r in rows:
        print(f"{r['case']:<14}{r['shape']:>12}{r['fg']:>9} | {r['ours_s']:>7.3f}"
              f"{r['baseline_s']:>8.3f}{r['ratio']:>6.1f}x | {r['ours_vps']:>11.3g}"
              f"{r['baseline_vps']:>11.3g} | {r['ours_fgps']:>10.3g}{r['baseline_fgps']:>10.3g} | "
              f"{r['ours_f1']:>6.3f}/{r['baseline_f1']:.3f}{r['ours_esa']:>8.2f}/"
              f"{r['baseline_esa']:<6.2f}{r['ours_pds']:>8.3f}/{r['baseline_pds']:.3f}")


def main():
    args = parse_args()
    shapes = [(48, 128, 128)] if args.quick else [(48, 128, 128), (96, 256, 256),
                                                  (128, 384, 384)]
    rows = []
    for shape in shapes:
        image, mask, truth = neuron_phantom(shape=shape, seed=0)
        rows.append(run_case("mask", mask, truth, args.repeats))
        for intensity in (1.0, 0.5, 0.25):
            image, _, truth = neuron_phantom(shape=shape, seed=0, intensity=intensity)
            rows.append(run_case(f"image@{intensity}", threshold_image(image), truth,
                                 args.repeats))
        print_table(rows[-4:])
        print()
    if not args.quick:          # foreground-heavy: the 48x128x128 phantom at 0.25 um voxels
        _, _, tree = neuron_phantom(shape=(48, 128, 128), seed=0)
        _, mask, truth = render_neuron(tree, shape=(188, 254, 254), voxel_size=0.25)
        rows.append(run_case("mask@0.25um", mask, truth, args.repeats, vs=(0.25,) * 3))
        print_table(rows[-1:])
        print()
    if args.real:
        if not REAL.is_dir():
            print(f"--real: {REAL} not found, skipped")
        else:
            real = []
            for path in sorted(REAL.glob("*.swc")):
                tree = read_swc(path).scaled(0.008)
                shape = (48, 128, 128)
                offset = densest_box(tree, shape=shape, voxel_size=VS)
                _, mask, truth = render_neuron(tree, shape=shape, voxel_size=VS, offset=offset,
                                               min_radius=0.6)
                real.append(run_case(path.stem[:14], mask, truth, args.repeats, offset))
            print_table(real)
            print(f"\nreal, mean F1 ours {np.mean([r['ours_f1'] for r in real]):.3f}, baseline "
                  f"{np.mean([r['baseline_f1'] for r in real]):.3f}")
            rows += real
    ratios = [r["ratio"] for r in rows]
    print(f"\nspeed ratio baseline time / our time: median {statistics.median(ratios):.1f}x, "
          f"range {min(ratios):.1f}-{max(ratios):.1f}x over {len(rows)} cases")


if __name__ == "__main__":
    main()
