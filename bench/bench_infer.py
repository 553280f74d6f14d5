"""Benchmark emseg.infer.predict: against MONAI's sliding_window_inference, and at full size.

Part 1 runs emseg and MONAI on the SAME model, input, window, overlap (0.25),
Gaussian blending and batch size (4 windows), with networks whose output window
equals their input window (MONAI assumes that). The 2D U-Net goes to MONAI as a
batch of z slices (N = z, windows batched across slices as emseg does). MONAI's
predictor returns softmax(main logits) in float32; on CUDA both use emseg's autocast.
Timings interleave the two (warm-up, then emseg, MONAI, emseg, MONAI, ...) and
report medians; both include the copy of the result back to a numpy array.

A 1x1-convolution "network" shows the cost of the tiling machinery itself.

Part 2 measures inference speed of the original-size networks (UNet2D(7) valid,
572 -> 388; Net2D3D(7), 5x300x300 -> 5x296x296) on volumes of one or two windows.

Usage::

    python bench/bench_infer.py            # about 3 min on 2 CPU cores
    python bench/bench_infer.py --quick    # about 1 min
"""
import argparse
import statistics
import time

import numpy as np
import torch

from emseg.device import autocast, describe, pick_device
from emseg.infer import predict
from emseg.models import Net2D3D, SegmentationNet, UNet2D

OVERLAP = 0.25
BATCH = 4


class PointNet2D(SegmentationNet):
    """A 1x1 convolution (1 -> 7 classes): almost no compute, so timings show the tiling overhead."""

    n_classes, in_channels, window_ndim, default_window = 7, 1, 2, (256, 256)

    def __init__(self):
        super().__init__()
        self.conv = torch.nn.Conv2d(1, self.n_classes, 1)

    def output_window(self, input_shape):
        return tuple(input_shape), (0,) * len(input_shape)

    def forward(self, x):
        return self.conv(x)


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="smaller volumes; part 2 without warm-up")
    parser.add_argument("--repeats", type=int, default=3, help="timed repeats per method (>= 3)")
    parser.add_argument("--device", default=None, help="cpu, cuda, ... (default: auto)")
    return parser.parse_args()


def run_emseg(model, volume, window, device):
    return predict(model, volume, window=window, overlap=OVERLAP, blending="gaussian",
                   batch_size=BATCH, device=device, progress=False)


def run_monai(model, volume, window, device):
    """MONAI on the same data; returns probabilities (C, z, y, x) as numpy."""
    from monai.inferers import sliding_window_inference

    def predictor(x):
        with autocast(device):
            logits = model.predict_logits(x)
        return torch.softmax(logits.float(), dim=1)

    x = torch.from_numpy(volume).to(device)
    x = x[:, None] if model.window_ndim == 2 else x[None, None]  # (z, 1, y, x) or (1, 1, z, y, x)
    model.eval()
    with torch.inference_mode():
        out = sliding_window_inference(x, tuple(window), BATCH, predictor, overlap=OVERLAP,
                                       mode="gaussian")
    out = out.cpu().numpy()
    return out.transpose(1, 0, 2, 3) if model.window_ndim == 2 else out[0]


def interleaved(runs, repeats):
    """Warm up each run once, then time them interleaved; return ({name: times}, last results)."""
    results = {name: fn() for name, fn in runs.items()}
    times = {name: [] for name in runs}
    for _ in range(repeats):
        for name, fn in runs.items():
            t0 = time.perf_counter()
            results[name] = fn()
            times[name].append(time.perf_counter() - t0)
    return times, results


def versus_monai(cases, repeats, device):
    print(f"\n(1) emseg vs MONAI sliding_window_inference: overlap {OVERLAP}, gaussian, "
          f"batch {BATCH}, median of {repeats} interleaved runs after a warm-up")
    head = f"{'model':<30} {'volume':<11} {'window':<11} {'emseg s':>7} {'MONAI s':>7} " \
           f"{'emseg vox/s':>11} {'MONAI vox/s':>11} {'ratio':>5} {'(min)':>5} {'max|diff|':>9}"
    print(head)
    print("-" * len(head))
    for name, model, shape, window in cases:
        volume = np.random.default_rng(0).normal(size=shape).astype(np.float32)
        times, res = interleaved({"emseg": lambda: run_emseg(model, volume, window, device),
                                  "monai": lambda: run_monai(model, volume, window, device)}, repeats)
        ours, theirs = (statistics.median(times[k]) for k in ("emseg", "monai"))
        best = min(times["monai"]) / min(times["emseg"])
        diff = float(np.abs(res["emseg"] - res["monai"]).max())
        print(f"{name:<30} {fmt(shape):<11} {fmt(window):<11} {ours:7.2f} {theirs:7.2f} "
              f"{volume.size / ours:11.3g} {volume.size / theirs:11.3g} {theirs / ours:5.2f} "
              f"{best:5.2f} {diff:9.2e}")
    print("ratio = MONAI median time / emseg median time, (min) the same for the fastest runs "
          "(>= 1: emseg at least as fast);\nUNet2D goes to MONAI as one batch of N = z slices")


def full_size(cases, repeats, device):
    warm = "after a warm-up" if repeats > 1 else "single run, no warm-up"
    print(f"\n(2) original-size networks (emseg.infer.predict, gaussian, overlap {OVERLAP}; {warm})")
    head = f"{'model':<26} {'window -> output':<24} {'volume':<14} {'windows':>7} {'seconds':>8} {'vox/s':>10}"
    print(head)
    print("-" * len(head))
    for name, model, shape, window, out, n_windows in cases:
        volume = np.random.default_rng(0).normal(size=shape).astype(np.float32)
        if repeats > 1:
            run_emseg(model, volume, window, device)
        times = []
        for _ in range(max(1, repeats - 1)):
            t0 = time.perf_counter()
            run_emseg(model, volume, window, device)
            times.append(time.perf_counter() - t0)
        secs = statistics.median(times)
        print(f"{name:<26} {fmt(window) + ' -> ' + fmt(out):<24} {fmt(shape):<14} {n_windows:>7} "
              f"{secs:8.2f} {volume.size / secs:10.3g}")


def fmt(shape):
    return "x".join(str(s) for s in shape)


def main():
    args = parse_args()
    if args.repeats < 3:
        raise SystemExit("--repeats must be >= 3 (the medians need at least three runs)")
    device = pick_device(args.device)
    torch.manual_seed(0)
    print(f"device: {describe(device)}; torch {torch.__version__}, "
          f"{torch.get_num_threads()} threads; quick={args.quick}")
    t_start = time.perf_counter()

    unet_same = UNet2D(7, padding="same", width=16).to(device)
    net_small = Net2D3D(7, width=16, pyramid_width=16).to(device)
    z_unet, z_net = (2, 5) if args.quick else (8, 10)
    versus_monai([("UNet2D(7, same, width=16)", unet_same, (z_unet, 512, 512), (256, 256)),
                  ("Net2D3D(7, width=16, pyr=16)", net_small, (z_net, 256, 256), (5, 128, 128)),
                  ("1x1 conv (tiling overhead)", PointNet2D().to(device), (z_unet, 512, 512), (256, 256))],
                 args.repeats, device)

    unet = UNet2D(7).to(device)
    net = Net2D3D(7).to(device)
    repeats = 1 if args.quick else 2
    full_size([("UNet2D(7) valid", unet, (1 if args.quick else 2, 388, 388), (572, 572),
                (388, 388), 1 if args.quick else 2),
               ("Net2D3D(7)", net, (5, 296, 296), (5, 300, 300), (5, 296, 296), 1)],
              repeats, device)
    print(f"\ntotal {time.perf_counter() - t_start:.0f} s")


if __name__ == "__main__":
    main()
