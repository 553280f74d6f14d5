"""Blockwise prediction of volumes larger than memory: memory stays flat as volumes grow.

Generates float32 zarr volumes of the given sizes on disk (uncompressed, so the size on
disk is the size of the data; written slab by slab, never whole in memory), predicts
each with a tiny 2D U-Net through ``emseg.blockwise.predict_large`` on a local dask
cluster of N worker processes, and prints per volume: voxels/s, wall time, and the
peak resident memory of the client (which also runs the dask scheduler) and of each
worker. The peaks must not grow with the volume size: compare the rows.

    python bench/bench_blockwise.py                       # 1 GB and 4 GB, 2 workers
    python bench/bench_blockwise.py --sizes 0.05 --quick  # a smoke test

Volumes go to --folder (default /tmp/emseg-bench) and are deleted afterwards
(--keep keeps them). Run it alone on the machine: it uses every core.
"""
import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")  # worker processes inherit it: one thread each

import numpy as np  # noqa: E402


def make_volume(path, n_bytes, *, yx=2048, slab=8, seed=0):
    """A float32 zarr array of about ``n_bytes`` (rounded up to whole slabs), uncompressed,
    written slab by slab: blurred noise (some structure for the net to see)."""
    import zarr
    from scipy.ndimage import uniform_filter

    z = max(slab, -(-(-(-int(n_bytes) // (4 * yx * yx))) // slab) * slab)
    group = zarr.open_group(str(path), mode="w")
    kwargs = dict(shape=(z, yx, yx), chunks=(slab, min(yx, 1024), min(yx, 1024)), dtype="float32")
    if hasattr(group, "create_array"):
        arr = group.create_array("raw", compressors=None, **kwargs)
    else:
        arr = group.create_dataset("raw", compressor=None, **kwargs)
    rng = np.random.default_rng(seed)
    for z0 in range(0, z, slab):
        noise = rng.standard_normal((slab, yx, yx), dtype=np.float32)
        arr[z0:z0 + slab] = uniform_filter(noise, size=(1, 5, 5)) * 40 + 128
    return arr.shape


def disk_bytes(path):
    return sum(f.stat().st_size for f in Path(path).rglob("*") if f.is_file())


def worker_peaks(client):
    """Peak resident memory (MiB) of each worker process."""
    def peak():
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return sorted(client.run(peak).values())


def predict_one(src, dst, net_path, args):
    """One prediction on a fresh local cluster; run in its own process, so the client's peak
    memory is this run's alone."""
    from distributed import Client, LocalCluster

    from emseg.blockwise import predict_large

    with LocalCluster(n_workers=args.workers, threads_per_worker=1, processes=True,
                      dashboard_address=":0") as cluster, Client(cluster) as client:
        t0 = time.perf_counter()
        info = predict_large(str(net_path), str(src), str(dst), dataset="raw", output="labels",
                             window=tuple(args.window), block_size=tuple(args.block),
                             client=client, progress=not args.quiet, overwrite=True)
        wall = time.perf_counter() - t0
        workers = worker_peaks(client)
    client_peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {"blocks": info["blocks"], "halo": list(info["halo"]), "wall_s": wall,
            "blocks_s": info["seconds"], "vox_s_blocks": info["voxels_per_second"],
            "client_mib": client_peak, "worker_mib": workers}


def run_one(size_gb, args, net_path):
    folder = Path(args.folder)
    src, dst = folder / f"in-{size_gb:g}GB.zarr", folder / f"out-{size_gb:g}GB.zarr"
    common = ["--yx", str(args.yx), "--workers", str(args.workers), "--window",
              *map(str, args.window), "--block", *map(str, args.block)] + (["--quiet"] if args.quiet else [])
    t0 = time.perf_counter()
    subprocess.run([sys.executable, __file__, "--_generate", str(src), str(size_gb), *common], check=True)
    t_make = time.perf_counter() - t0
    on_disk = disk_bytes(src)
    out = subprocess.run([sys.executable, __file__, "--_predict", str(src), str(dst), str(net_path),
                          *common], check=True, stdout=subprocess.PIPE, text=True).stdout
    row = json.loads(out.strip().splitlines()[-1])
    import zarr
    shape = tuple(zarr.open_group(str(src), mode="r")["raw"].shape)
    row.update({"size": f"{on_disk / 1e9:.2f} GB", "shape": shape, "make_s": t_make,
                "vox_s": float(np.prod(shape)) / row["wall_s"]})
    if not args.keep:
        shutil.rmtree(src, ignore_errors=True)
        shutil.rmtree(dst, ignore_errors=True)
    return row


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=float, nargs="+", default=[1.0, 4.0],
                        help="volume sizes on disk in GB (1e9 bytes)")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--yx", type=int, default=2048, help="slice size (y = x)")
    parser.add_argument("--window", type=int, nargs=2, default=[128, 128])
    parser.add_argument("--block", type=int, nargs=3, default=[8, 1056, 1056],
                        help="block interior z y x (y, x: multiples of the window step)")
    parser.add_argument("--folder", default="/tmp/emseg-bench")
    parser.add_argument("--keep", action="store_true", help="keep the generated volumes")
    parser.add_argument("--quick", action="store_true", help="no progress bars")
    parser.add_argument("--quiet", action="store_true")
    parser.add_argument("--_generate", nargs=2, help=argparse.SUPPRESS)
    parser.add_argument("--_predict", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    args.quiet = args.quiet or args.quick
    if args._generate:  # child process: write one volume
        make_volume(args._generate[0], float(args._generate[1]) * 1e9, yx=args.yx)
        return 0
    if args._predict:  # child process: predict one volume, print one JSON line
        print(json.dumps(predict_one(*args._predict, args)))
        return 0

    import torch

    from emseg.checkpoint import save_model
    from emseg.models import UNet2D

    torch.manual_seed(0)
    net = UNet2D(2, width=4, depth=1, padding="same")
    folder = Path(args.folder)
    folder.mkdir(parents=True, exist_ok=True)
    net_path = save_model(net, folder / "tiny-unet2d.pt", overwrite=True)
    print(f"model: UNet2D(2, width=4, depth=1, same), {sum(p.numel() for p in net.parameters())} "
          f"parameters, window {tuple(args.window)}; {args.workers} worker processes x 1 thread; "
          f"{os.cpu_count()} cores; torch {torch.__version__}, CPU (no GPU)", flush=True)
    rows = []
    try:
        for size in args.sizes:
            rows.append(run_one(size, args, net_path))
            r = rows[-1]
            print(f"{r['size']}: {r['blocks']} blocks in {r['wall_s']:.0f} s, "
                  f"{r['vox_s']:.3g} voxels/s, client peak {r['client_mib']:.0f} MiB, "
                  f"workers {', '.join(f'{m:.0f}' for m in r['worker_mib'])} MiB", flush=True)
    finally:
        if not args.keep:
            shutil.rmtree(folder, ignore_errors=True)
    print("\n| volume on disk | shape (z, y, x) | blocks | halo | generate s | predict s | voxels/s "
          "(whole call) | voxels/s (blocks only) | client peak MiB | worker peaks MiB |")
    print("|---|---|---:|---|---:|---:|---:|---:|---:|---|")
    for r in rows:
        print(f"| {r['size']} | {r['shape']} | {r['blocks']} | {r['halo']} | {r['make_s']:.0f} | "
              f"{r['wall_s']:.0f} | {r['vox_s']:.3g} | {r['vox_s_blocks']:.3g} | "
              f"{r['client_mib']:.0f} | {', '.join(f'{m:.0f}' for m in r['worker_mib'])} |")
    if len(rows) > 1:
        a, b = rows[0], rows[-1]
        print(f"\nratios largest/smallest volume: voxels {np.prod(b['shape']) / np.prod(a['shape']):.1f}x, "
              f"client peak {b['client_mib'] / a['client_mib']:.2f}x, worker peak (max) "
              f"{max(b['worker_mib']) / max(a['worker_mib']):.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
