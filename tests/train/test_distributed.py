"""Tests of multi-process training (torchrun + DistributedDataParallel) on the CPU (gloo)."""
import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import torch

from emseg.checkpoint import load_checkpoint, save_checkpoint
from emseg.models import UNet2D
from emseg.train import TrainConfig, fit
from emseg.train._distributed import Distributed

SCRIPT = textwrap.dedent("""
    import json, os, sys
    import numpy as np
    import torch
    import emseg.train._loop as loop
    from emseg.models import UNet2D
    from emseg.train import TrainConfig, fit

    out = sys.argv[1]
    rank = int(os.environ["RANK"])
    saved = []
    real_save = loop.save_checkpoint
    def recording_save(ckpt, path):
        saved.append(os.path.basename(str(path)))
        return real_save(ckpt, path)
    loop.save_checkpoint = recording_save

    rng = np.random.default_rng(0)
    image = rng.normal(size=(3, 40, 40)).astype(np.float32)
    labels = (image > 0.3).astype(np.uint8)
    torch.manual_seed(rank)   # different initial weights: DDP must make them equal
    net = UNet2D(2, width=4, depth=1, padding="same")
    init = {k: v.clone() for k, v in net.state_dict().items()}
    cfg = TrainConfig(iterations=4, batch_size=1, window=(32, 32), eval_every=2, lr=1e-2,
                      augment=None)
    history = fit(net, (image, labels), (image, labels), config=cfg, output_dir=out,
                  device="cpu", progress=False)
    torch.save({"final": net.state_dict(), "init": init}, os.path.join(out, f"rank{rank}.weights"))
    with open(os.path.join(out, f"rank{rank}.json"), "w") as fh:
        json.dump({"saved": saved, "loss": history["loss"], "val": len(history["val"])}, fh)
""")


def test_torchrun_two_cpu_processes_keep_identical_weights_and_only_rank0_saves(tmp_path):
    script = tmp_path / "train.py"
    script.write_text(SCRIPT)
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    env.pop("WORLD_SIZE", None)
    proc = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone",
                           "--nproc_per_node", "2", str(script), str(tmp_path / "run")],
                          capture_output=True, text=True, env=env, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    run = tmp_path / "run"
    w0, w1 = (torch.load(run / f"rank{r}.weights") for r in (0, 1))
    assert any(not torch.equal(w0["init"][k], w1["init"][k]) for k in w0["init"])  # started apart
    for k in w0["final"]:
        assert torch.equal(w0["final"][k], w1["final"][k]), k       # identical after training
    assert any(not torch.equal(w0["final"][k], w0["init"][k]) for k in w0["final"])  # it trained
    r0, r1 = (json.loads((run / f"rank{r}.json").read_text()) for r in (0, 1))
    assert r1["saved"] == [] and r0["saved"].count("last.pt") == 2 and "best.pt" in r0["saved"]
    assert r0["loss"] == r1["loss"] and len(r0["loss"]) == 4  # mean loss over both processes
    assert r0["val"] == 2 and r1["val"] == 0                   # rank 0 validates
    last = load_checkpoint(run / "checkpoints" / "last.pt")
    assert last["world_size"] == 2 and last["iteration"] == 4
    for k, v in last["model_state"].items():
        assert torch.equal(v, w0["final"][k])


def test_window_indices_split_the_stream_between_processes():
    assert list(Distributed().window_indices(3, 2)) == [6, 7]  # one process: as before
    seen = [k for it in range(5) for r in range(3)
            for k in Distributed(rank=r, world_size=3).window_indices(it, 2)]
    assert sorted(seen) == list(range(30))                     # disjoint, nothing skipped


def test_single_process_is_untouched_and_resume_refuses_another_world_size(tmp_path):
    assert not Distributed.setup().enabled
    rng = np.random.default_rng(0)
    image = rng.normal(size=(2, 40, 40)).astype(np.float32)
    data = (image, (image > 0).astype(np.uint8))
    torch.manual_seed(0)
    cfg = TrainConfig(iterations=2, batch_size=1, window=(32, 32), eval_every=2, augment=None)
    fit(UNet2D(2, width=4, depth=1, padding="same"), data, config=cfg, output_dir=tmp_path,
        progress=False)
    path = tmp_path / "checkpoints" / "last.pt"
    ckpt = load_checkpoint(path)
    assert ckpt["world_size"] == 1
    save_checkpoint({**ckpt, "world_size": 2}, path)
    torch.manual_seed(0)
    with pytest.raises(ValueError, match="trained by 2 process"):
        fit(UNet2D(2, width=4, depth=1, padding="same"), data, config=cfg.replace(iterations=3),
            output_dir=tmp_path, resume=True, progress=False)
