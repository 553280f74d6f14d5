"""Training speed of both networks: iterations/s and voxels/s through the real loop.

Runs :func:`emseg.train.fit` (window sampling, augmentation, forward, weighted loss,
backward, Adam) on a synthetic platelet phantom, for the original-size networks and
for the small CPU presets, and prints a table. Not a test: it prints figures.

    python bench/bench_train.py            # a few iterations of each
    python bench/bench_train.py --quick    # CPU presets only
    python bench/bench_train.py --presets  # every *-cpu preset as it trains: s per 1,000 iterations
    python bench/bench_train.py --presets --only unet3d-cpu reisoseg-matched-cpu  # some of them

``--presets`` trains each ``*-cpu`` preset (and the ``*-legacy`` ones) with its own
recipe, window and batch (sampling, augmentation, loss, optimiser and schedule included;
validation excluded) for ``--iterations`` steps after one warm-up step, and prints the
median step time as seconds per 1,000 iterations: before (float32, the default memory
layout, windows made between steps) and after (the defaults: channels-last weights,
batches prefetched in a background thread; and with ``cpu_bf16`` where it applies),
with the share of each step spent waiting for data.
"""
import argparse

import numpy as np
import torch

from emseg.data import platelet_phantom
from emseg.device import describe, pick_device
from emseg.models import Net2D3D, UNet2D, count_parameters, window_geometry
from emseg.train import TrainConfig, fit

CASES = [
    # name, builder, window, batch size, original-size?
    ("Net2D3D(7) original", lambda: Net2D3D(7), (5, 300, 300), 1, True),
    ("UNet2D(7) original", lambda: UNet2D(7), (572, 572), 1, True),
    ("Net2D3D(7, width=16, pyr=16)", lambda: Net2D3D(7, width=16, pyramid_width=16), (5, 128, 128), 2, False),
    ("UNet2D(7, width=16, same)", lambda: UNet2D(7, width=16, padding="same"), (128, 128), 4, False),
]


def preset_times(iterations, device, only=None):
    """Seconds per 1,000 iterations of every *-cpu (and *-legacy) preset as it trains, before
    (float32, default layout, windows made in the loop) and after (channels-last weights and
    batches prefetched in a background thread, float32; then also bfloat16 where the net has
    no 3D convolutions and the CPU has native bf16: the defaults), with the share of each
    step spent waiting for its batch. ``only``: these presets' names, not all."""
    from emseg.data import ecs_phantom
    from emseg.device import cpu_bf16_supported
    from emseg.train import PRESETS

    timed = [n for n in PRESETS if n.endswith("-cpu") or n.endswith("-legacy")]
    unknown = sorted(set(only or ()) - set(timed))
    if unknown:
        raise SystemExit(f"error: --only: {', '.join(unknown)} is not a preset this table times; "
                         f"choose from {', '.join(timed)}")
    platelet = platelet_phantom("train", shape=(24, 256, 256))
    arms = {"before": dict(channels_last=False, prefetch=0, cpu_bf16=False),
            "after": dict(cpu_bf16=False)}
    if device.type == "cpu" and cpu_bf16_supported():
        arms["after+bf16"] = dict(cpu_bf16=True)  # the defaults
    print(f"\nmedian step time of {iterations} steps after one warm-up step, as s per 1,000 "
          f"iterations; 'data' = share of the step spent waiting for the batch of windows")
    head = f"{'preset':22s} {'params':>10s} {'window':>12s} {'batch':>5s} " + " ".join(
        f"{arm + ' s':>14s} {'data':>5s}" for arm in arms) + " " + " ".join(
        f"{'x ' + arm:>12s}" for arm in list(arms)[1:])
    print(head)
    print("-" * len(head))
    for name, preset in PRESETS.items():
        if not (name.endswith("-cpu") or name.endswith("-legacy")) or (only and name not in only):
            continue
        if preset.model in ("ecsnet", "voxresnet"):
            binary = platelet.labels >= 2  # any organelle: a binary task of the same data
            volume = (platelet.image, binary.astype(np.uint8))
            n_classes = 2
            if preset.model == "ecsnet":
                volume = ecs_phantom((4, 256, 256), shape_weights=True)
        else:
            volume, n_classes = platelet, 7
        cells, step = [], {}
        for arm, changes in arms.items():
            torch.manual_seed(0)
            model = preset.build_model(n_classes=n_classes)
            if changes.get("cpu_bf16") and any(isinstance(m, (torch.nn.Conv3d, torch.nn.ConvTranspose3d))
                                               for m in model.modules()):
                cells.append(f"{'(3D: float32)':>14s} {'':>5s}")
                continue
            cfg = preset.config.replace(iterations=iterations + 1, eval_every=10 ** 9, **changes)
            history = fit(model, volume, config=cfg, device=device, progress=False)
            steps = np.diff(history["seconds"])
            step[arm] = float(np.median(steps))
            data = float(np.mean(history["data_seconds"][1:]) / np.mean(steps))
            cells.append(f"{1000 * step[arm]:14.0f} {100 * data:4.0f}%")
        ratios = [f"{step['before'] / step[arm]:12.2f}" if arm in step else f"{'':>12s}"
                  for arm in list(arms)[1:]]
        window = "x".join(map(str, cfg.window))
        print(f"{name:22s} {count_parameters(model):10,d} {window:>12s} {cfg.batch_size:5d} "
              + " ".join(cells) + " " + " ".join(ratios), flush=True)
    print("x: speed-up over 'before' (ratio of the median step times)")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="CPU presets only")
    parser.add_argument("--presets", action="store_true",
                        help="only the time per 1,000 iterations of every *-cpu preset")
    parser.add_argument("--only", nargs="+", metavar="PRESET",
                        help="with --presets: time these presets only")
    parser.add_argument("--iterations", type=int, default=None, help="timed iterations per case")
    parser.add_argument("--device", default=None)
    args = parser.parse_args()
    if args.only and not args.presets:
        parser.error("--only selects presets to time: use it with --presets")
    device = pick_device(args.device)
    on_gpu = device.type == "cuda"
    print(f"device: {describe(device)}; torch {torch.__version__}; "
          f"{torch.get_num_threads()} thread(s)")
    if args.presets:
        preset_times(args.iterations or 40, device, only=args.only)
        return
    volume = platelet_phantom("train", shape=(24, 640, 640))
    print(f"phantom {volume.shape}")
    print(f"{'model':32s} {'params':>11s} {'window -> output':>26s} {'batch':>5s} {'it/s':>7s} "
          f"{'out vox/s':>10s}")
    for name, build, window, batch, original in CASES:
        if args.quick and original:
            continue
        n = args.iterations or (30 if on_gpu else (3 if original else 10))
        torch.manual_seed(0)
        model = build()
        geo = window_geometry(model, window)
        cfg = TrainConfig(iterations=n + 1, window=window, batch_size=batch, eval_every=10 ** 9)
        history = fit(model, volume, config=cfg, device=device, progress=False)
        seconds = history["seconds"][-1] - history["seconds"][0]  # skip the warm-up iteration
        its = n / seconds
        out_vox = its * batch * int(np.prod(geo.output))
        shapes = f"{'x'.join(map(str, geo.input))} -> {'x'.join(map(str, geo.output))}"
        print(f"{name:32s} {count_parameters(model):11,d} {shapes:>26s} {batch:5d} {its:7.2f} {out_vox:10.3g}")


if __name__ == "__main__":
    main()
