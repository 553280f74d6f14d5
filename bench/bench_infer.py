"""Benchmark emseg.infer.predict: against MONAI's sliding_window_inference, and at full size.

Part 1 runs emseg and MONAI on the SAME model, input, window, overlap (0.25),
Gaussian blending and batch size (4 windows). The models are the networks of the
``unet2d-cpu``, ``net2d3d-cpu`` and ``unet3d-cpu`` presets, first trained for a few
iterations on the platelet phantom (``--train-iterations``) so that their classes
separate and label agreement means something; the input is a phantom test volume.
emseg runs at its defaults (``precision="auto"``: bfloat16 on a CPU with native bf16,
channels-last weights) and again in float32; MONAI at its defaults (float32 on a CPU;
on CUDA both use autocast). The 2D U-Net goes to MONAI as a batch of z slices.
Timings interleave the runs (warm-up, then each in turn, repeated) and report
medians; all include the copy of the result back to a numpy array. "labels =" is
the fraction of voxels whose argmax equals MONAI's (the issue's bar: >= 99.5 %).

A 1x1-convolution "network" shows the cost of the tiling machinery itself.

Part 2 measures inference speed of the original-size networks (UNet2D(7) valid,
572 -> 388; Net2D3D(7), 5x300x300 -> 5x296x296) on volumes of one or two windows.

Part 3 measures this machine's convolution peak (a large ``conv2d``, float32 and
bfloat16, channels-last) and the fraction of it that part 1's runs reached (the
networks' convolution FLOPs, counted with forward hooks, over the measured time).

Usage::

    python bench/bench_infer.py            # about 6 min on 2 CPU cores
    python bench/bench_infer.py --quick    # about 2 min
"""
import argparse
import contextlib
import statistics
import time

import numpy as np
import torch

from emseg.device import autocast, describe, pick_device
from emseg.infer import predict
from emseg.data import platelet_phantom
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
    parser.add_argument("--compile", action="store_true",
                        help="also time predict(compile=True) (torch.compile; its first call "
                             "compiles, about a minute per network on 2 CPU cores)")
    parser.add_argument("--train-iterations", type=int, default=None,
                        help="training steps of each part-1 network first (default 150; "
                             "--quick 40)")
    return parser.parse_args()


def run_emseg(model, volume, window, device, precision="auto", compile=False):
    return predict(model, volume, window=window, overlap=OVERLAP, blending="gaussian",
                   batch_size=BATCH, device=device, precision=precision, compile=compile,
                   progress=False)


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
    results, warmup = {}, {}
    for name, fn in runs.items():
        t0 = time.perf_counter()
        results[name] = fn()
        warmup[name] = time.perf_counter() - t0
    times = {name: [] for name in runs}
    for _ in range(repeats):
        for name, fn in runs.items():
            t0 = time.perf_counter()
            results[name] = fn()
            times[name].append(time.perf_counter() - t0)
    interleaved.warmup = warmup
    return times, results


def trained_preset(name, iterations, device):
    """The network of preset ``name``, trained ``iterations`` steps on the platelet phantom."""
    from emseg.train import PRESETS, fit

    preset = PRESETS[name]
    torch.manual_seed(0)
    model = preset.build_model(n_classes=7)
    if iterations:
        fit(model, platelet_phantom("train", shape=(24, 256, 256)),
            config=preset.config.replace(iterations=iterations, warmup=min(50, iterations // 4),
                                         eval_every=10 ** 9),
            device=device, progress=False)
    return model.eval()


class FlopCounter:
    """Multiply-adds x 2 of every Conv/ConvTranspose layer of ``model`` while inside."""

    def __init__(self, model):
        self.model, self.flops, self.hooks = model, 0, []

    def _hook(self, module, inputs, output):
        k = int(np.prod(module.kernel_size)) * module.in_channels // module.groups
        if isinstance(module, (torch.nn.ConvTranspose2d, torch.nn.ConvTranspose3d)):
            k = int(np.prod(module.kernel_size)) * module.out_channels // module.groups
            self.flops += 2 * inputs[0].numel() * k
        else:
            self.flops += 2 * output.numel() * k

    def __enter__(self):
        convs = (torch.nn.Conv2d, torch.nn.Conv3d, torch.nn.ConvTranspose2d, torch.nn.ConvTranspose3d)
        self.hooks = [m.register_forward_hook(self._hook) for m in self.model.modules()
                      if isinstance(m, convs)]
        return self

    def __exit__(self, *exc):
        for h in self.hooks:
            h.remove()


def versus_monai(cases, repeats, device, compile=False):
    print(f"\n(1) emseg vs MONAI sliding_window_inference: overlap {OVERLAP}, gaussian, "
          f"batch {BATCH}, median of {repeats} interleaved runs after a warm-up")
    head = f"{'model':<30} {'volume':<11} {'window':<10} {'emseg s':>7} {'f32 s':>6} " \
           f"{'MONAI s':>7} {'emseg vox/s':>11} {'ratio':>5} {'f32':>5} {'labels =':>8} " \
           f"{'f32 =':>8} {'f32 max|diff|':>13}"
    print(head)
    print("-" * len(head))
    achieved = []
    for name, model, shape, window, volume in cases:
        runs = {"emseg": lambda: run_emseg(model, volume, window, device),
                "f32": lambda: run_emseg(model, volume, window, device, precision="float32"),
                "monai": lambda: run_monai(model, volume, window, device)}
        if compile:
            runs["compiled"] = lambda: run_emseg(model, volume, window, device, compile=True)
        times, res = interleaved(runs, repeats)
        med = {k: statistics.median(v) for k, v in times.items()}
        labels = {k: v.argmax(0) for k, v in res.items()}
        same = {k: float(np.mean(labels[k] == labels["monai"])) for k in ("emseg", "f32")}
        diff = float(np.abs(res["f32"] - res["monai"]).max())
        print(f"{name:<30} {fmt(shape):<11} {fmt(window):<10} {med['emseg']:7.2f} {med['f32']:6.2f} "
              f"{med['monai']:7.2f} {volume.size / med['emseg']:11.3g} "
              f"{med['monai'] / med['emseg']:5.2f} {med['monai'] / med['f32']:5.2f} "
              f"{100 * same['emseg']:7.2f}% {100 * same['f32']:7.2f}% {diff:13.2e}")
        if compile:
            print(f"{'':<30} compile=True: {med['compiled']:.2f} s, x{med['emseg'] / med['compiled']:.2f} "
                  f"of the default; first call (compiling) {interleaved.warmup['compiled']:.0f} s; "
                  f"labels = default's on "
                  f"{100 * np.mean(labels['compiled'] == labels['emseg']):.2f} %")
        with FlopCounter(model) as count:
            run_emseg(model, volume, window, device, precision="float32")
        achieved.append((name, count.flops, med))
    print("ratio = MONAI median time / emseg median time at emseg's defaults; f32: emseg in "
          "float32 (>= 1: emseg faster);\nlabels =: voxels whose argmax equals MONAI's; "
          "max|diff|: largest probability difference, emseg float32 vs MONAI")
    return achieved


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


def conv_peak(device, repeats):
    """GFLOP/s of a large 3x3 conv2d (64 -> 64 channels, channels-last), float32 and the
    autocast precision emseg infers in on this device."""
    from emseg.device import inference_dtype

    x = torch.randn(4, 64, 128, 128, device=device).contiguous(memory_format=torch.channels_last)
    conv = torch.nn.Conv2d(64, 64, 3, padding=1).to(device).to(memory_format=torch.channels_last)
    flops = 2 * x.numel() * 64 * 9
    out = {}
    for label, dtype in (("float32", None), ("auto", inference_dtype(device, "auto"))):
        times = []
        with torch.inference_mode(), (torch.autocast(device.type, dtype=dtype) if dtype
                                      else contextlib.nullcontext()):
            for _ in range(repeats + 1):
                t0 = time.perf_counter()
                conv(x)
                if device.type == "cuda":
                    torch.cuda.synchronize()
                times.append(time.perf_counter() - t0)
        out[label] = (flops / statistics.median(times[1:]) / 1e9,
                      str(dtype).removeprefix("torch.") if dtype else "float32")
    return out


def peak_fraction(achieved, peak):
    print(f"\n(3) convolution peak of this machine: a 3x3 conv2d, 4 x 64 x 128 x 128, channels-last: "
          f"{peak['float32'][0]:.0f} GFLOP/s float32, {peak['auto'][0]:.0f} GFLOP/s "
          f"{peak['auto'][1]} (emseg's 'auto')")
    head = f"{'model':<30} {'GFLOP':>7} {'emseg GFLOP/s':>13} {'of peak':>7} {'f32 GFLOP/s':>11} " \
           f"{'of peak':>7} {'MONAI GFLOP/s':>13} {'of peak':>7}"
    print(head)
    print("-" * len(head))
    for name, flops, med in achieved:
        rate = {k: flops / v / 1e9 for k, v in med.items()}
        print(f"{name:<30} {flops / 1e9:7.1f} {rate['emseg']:13.1f} "
              f"{100 * rate['emseg'] / peak['auto'][0]:6.1f}% {rate['f32']:11.1f} "
              f"{100 * rate['f32'] / peak['float32'][0]:6.1f}% {rate['monai']:13.1f} "
              f"{100 * rate['monai'] / peak['float32'][0]:6.1f}%")
    print("GFLOP: convolution FLOPs of one prediction (2 x multiply-adds, tiles included); "
          "'of peak' against the peak in the same precision")


def fmt(shape):
    return "x".join(str(s) for s in shape)


def main():
    args = parse_args()
    if args.train_iterations is None:
        args.train_iterations = 40 if args.quick else 150
    if args.repeats < 3:
        raise SystemExit("--repeats must be >= 3 (the medians need at least three runs)")
    device = pick_device(args.device)
    torch.manual_seed(0)
    print(f"device: {describe(device)}; torch {torch.__version__}, "
          f"{torch.get_num_threads()} threads; quick={args.quick}")
    t_start = time.perf_counter()

    phantom = platelet_phantom("test", shape=(12 if args.quick else 24, 256, 256)).image
    phantom = ((phantom - phantom.mean()) / phantom.std()).astype(np.float32)
    z2d, z3d = (2, 6) if args.quick else (8, 12)
    wide = np.concatenate([phantom, phantom[:, :, ::-1]], axis=2)  # 256 x 512 for the 2D nets
    cases = []
    for preset, window, volume in (("unet2d-cpu", (256, 256), wide[:z2d]),
                                   ("net2d3d-cpu", (5, 128, 128), phantom[:z3d]),
                                   ("unet3d-cpu", (16, 64, 64), phantom)):
        model = trained_preset(preset, args.train_iterations, device)
        cases.append((f"{type(model).__name__} ({preset})", model, volume.shape, window,
                      np.ascontiguousarray(volume)))
    point = np.random.default_rng(0).normal(size=(z2d, 512, 512)).astype(np.float32)
    cases.append(("1x1 conv (tiling overhead)", PointNet2D().to(device), point.shape, (256, 256),
                  point))
    achieved = versus_monai(cases, args.repeats, device, compile=args.compile)
    peak = conv_peak(device, args.repeats + 2)

    unet = UNet2D(7).to(device)
    net = Net2D3D(7).to(device)
    repeats = 1 if args.quick else 2
    full_size([("UNet2D(7) valid", unet, (1 if args.quick else 2, 388, 388), (572, 572),
                (388, 388), 1 if args.quick else 2),
               ("Net2D3D(7)", net, (5, 296, 296), (5, 300, 300), (5, 296, 296), 1)],
              repeats, device)
    peak_fraction(achieved, peak)
    print(f"\ntotal {time.perf_counter() - t_start:.0f} s")


if __name__ == "__main__":
    main()
