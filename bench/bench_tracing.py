"""Benchmark the neuron tracers: voxel scooping (ours) against the skeletonisation baseline.

Both tracers get the SAME foreground and voxel size, and both run their whole
pipeline (input checks, 26-connected components, distance transform, tracing or
skeletonisation, spur pruning, SWC tree). Timings are medians of interleaved
repeats (ours, baseline, ours, ...) after one warm-up call each.

Inputs, all rendered by emseg.data.phantoms.neuron at (1.0, 0.5, 0.5) um voxels:

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

``--pipeline`` (the real-geometry check of example 5) runs instead: the five real
SWCs of ../shared/data/neurons, each rendered (densest 48 x 128 x 128 box at
(1.0, 0.5, 0.5) um, radius floor 0.6 um) at signal 1, 0.5, 0.25 and 0.125, traced
by the full pipeline (VoxResNet probability map + voxel scooping at 0.5) and by
the baseline on the raw image (smoothed stack >= median + 5 robust sigma, then
skeletonisation; ``emseg.tracing.raw_foreground`` + ``trace_skeleton``). The
network is ``--model`` (e.g. example 5's ``runs/example5/net.pt``), or, without
it, a ``voxresnet-cpu`` net trained here on DHPR-selected phantoms as example 5
does. Printed per neuron and level: ESA, PDS, F1 at 2 voxels and the number of
trees of each method, the CNN and tracing seconds, and tracing voxels/s; then
means per level.

Usage::

    python bench/bench_tracing.py              # ~4-5 min on 2 busy CPU cores
    python bench/bench_tracing.py --quick      # small stacks only, ~20 s
    python bench/bench_tracing.py --real       # also the five real morphologies
    python bench/bench_tracing.py --pipeline --model runs/example5/net.pt   # ~3 min
"""
import argparse
import statistics
import time
from pathlib import Path

import numpy as np
from scipy import ndimage as ndi

from emseg.data.phantoms.neuron import neuron_phantom, render_neuron
from emseg.tracing import SwcTree, densest_box, read_swc, trace_voxel_scooping, tracing_report
from emseg.tracing.baseline import trace_skeleton

VS = (1.0, 0.5, 0.5)
REAL = Path(__file__).resolve().parents[2] / "shared" / "data" / "neurons"


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="small stacks only")
    parser.add_argument("--repeats", type=int, default=3, help="timed repeats per tracer")
    parser.add_argument("--real", action="store_true", help="also the shared real SWCs")
    parser.add_argument("--pipeline", action="store_true",
                        help="only the real-geometry check: VoxResNet + scooping vs the baseline "
                             "on the rendered real SWCs at decreasing signal")
    parser.add_argument("--model", help="VoxResNet checkpoint for --pipeline (default: train one)")
    parser.add_argument("--iterations", type=int, default=400,
                        help="training iterations when --pipeline trains its own net")
    return parser.parse_args()


def train_voxresnet(iterations, seed=0):
    """A voxresnet-cpu net trained as example 5 trains it (DHPR-selected phantoms)."""
    from emseg.data.dhpr import select_dhpr
    from emseg.data.phantoms.neuron import neuron_pool
    from emseg.tracing import normalize_stack
    from emseg.train import PRESETS, fit

    stacks, _ = neuron_pool(12, shape=(48, 128, 128), voxel_size=VS, seed=seed)
    sel = select_dhpr([s.image for s in stacks], [s.mask for s in stacks], n_select=6, seed=seed)
    train = [(normalize_stack(stacks[i].image), stacks[i].mask.astype(np.uint8))
             for i in sel.indices]
    net, config = PRESETS["voxresnet-cpu"].build(2, seed=seed, iterations=iterations)
    fit(net, train, config=config, progress=False)
    return net.eval()


def pipeline_check(args, intensities=(1.0, 0.5, 0.25, 0.125), shape=(48, 128, 128)):
    """Real geometry: VoxResNet + scooping vs the baseline at decreasing signal."""
    from emseg.checkpoint import load_model
    from emseg.data.phantoms.neuron import render_densest
    from emseg.tracing import probability_map, raw_foreground, trace_and_score

    if not REAL.is_dir():
        print(f"--pipeline: {REAL} not found, nothing to do")
        return
    t0 = time.perf_counter()
    if args.model:
        net, source = load_model(args.model, device="cpu").eval(), args.model
    else:
        net, source = train_voxresnet(args.iterations), f"trained here, {args.iterations} it"
    print(f"network: {type(net).__name__} {net.spec()['kwargs']} ({source}; "
          f"{time.perf_counter() - t0:.0f} s to get)")
    paths = sorted(REAL.glob("*.swc"))
    rows = []
    head = (f"{'neuron':<12}{'signal':>7} | {'ESA pipe/base':>14}{'PDS pipe/base':>15}"
            f"{'F1 pipe/base':>14}{'trees p/b':>11} | {'CNN s':>6}{'scoop s':>8}{'base s':>7}"
            f"{'scoop vox/s':>12}{'base vox/s':>11}")
    print(head)
    print("-" * len(head))
    for k, path in enumerate(paths):
        tree = read_swc(path).scaled(0.008)
        for intensity in intensities:
            (image, _, truth), offset = render_densest(tree, shape=shape, voxel_size=VS, seed=k,
                                                       intensity=intensity)
            start = time.perf_counter()
            prob = probability_map(net, image, device="cpu")
            cnn_s = time.perf_counter() - start
            _, p = trace_and_score(trace_voxel_scooping, prob, truth, voxel_size=VS, offset=offset)
            _, b = trace_and_score(trace_skeleton, raw_foreground(image), truth, voxel_size=VS,
                                   offset=offset)
            rows.append(dict(neuron=path.stem, intensity=intensity, cnn_s=cnn_s, pipe=p, base=b))
            print(f"{path.stem:<12}{intensity:>7} | {p['esa']:>6.2f}/{b['esa']:<7.2f}"
                  f"{p['pds']:>7.3f}/{b['pds']:<7.3f}{p['f1']:>6.3f}/{b['f1']:<7.3f}"
                  f"{p['trees']:>5}/{b['trees']:<5} | {cnn_s:>6.2f}{p['seconds']:>8.3f}"
                  f"{b['seconds']:>7.3f}{p['voxels_per_s']:>12.3g}{b['voxels_per_s']:>11.3g}")
    print(f"\nmeans over {len(paths)} real neurons (signal: ESA, PDS, F1 at 2 voxels, trees; "
          f"pipeline / baseline)")
    for intensity in intensities:
        sel = [r for r in rows if r["intensity"] == intensity]

        def mean(m, key):  # NaN when no trace had the value (nothing traced at all)
            v = np.array([r[m][key] for r in sel], float)
            return float(np.mean(v[np.isfinite(v)])) if np.isfinite(v).any() else float("nan")
        print(f"  {intensity:>5}x: ESA {mean('pipe', 'esa'):.2f} / {mean('base', 'esa'):.2f}, "
              f"PDS {mean('pipe', 'pds'):.3f} / {mean('base', 'pds'):.3f}, "
              f"F1 {mean('pipe', 'f1'):.3f} / {mean('base', 'f1'):.3f}, "
              f"recall {mean('pipe', 'recall'):.3f} / {mean('base', 'recall'):.3f}, "
              f"trees {mean('pipe', 'trees'):.1f} / {mean('base', 'trees'):.1f}")
    print(f"  CNN probability map: median {statistics.median(r['cnn_s'] for r in rows):.2f} s per "
          f"{'x'.join(map(str, shape))} stack; voxel scooping median "
          f"{statistics.median(r['pipe']['voxels_per_s'] for r in rows):.3g} voxels/s, baseline "
          f"{statistics.median(r['base']['voxels_per_s'] for r in rows):.3g} voxels/s")


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
    if args.pipeline:
        pipeline_check(args)
        return
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
