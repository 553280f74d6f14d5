"""emseg.train._lock.run_lock and fit's use of it: one run writes into a folder at a time."""
import json
import os
import socket
import subprocess
import sys

import numpy as np
import pytest

from emseg.models import build_model
from emseg.train import TrainConfig, fit
from emseg.train._lock import LOCK_NAME, run_lock


def test_second_lock_is_refused_and_released_after(tmp_path):
    with run_lock(tmp_path) as path:
        assert json.loads(path.read_text())["pid"] == os.getpid()
        with pytest.raises(ValueError, match="in use by another training run"):
            with run_lock(tmp_path):
                pass
        assert path.exists()  # the refused attempt left the holder's lock alone
    assert not (tmp_path / LOCK_NAME).exists()
    with run_lock(tmp_path):  # free again
        pass


def test_stale_lock_of_a_dead_process_is_reported_and_taken_over(tmp_path):
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    (tmp_path / LOCK_NAME).write_text(json.dumps(
        {"pid": dead.pid, "host": socket.gethostname(), "since": "earlier"}))
    with pytest.warns(UserWarning, match=f"stale lock .* process {dead.pid}"):
        with run_lock(tmp_path) as path:
            assert json.loads(path.read_text())["pid"] == os.getpid()
    assert not (tmp_path / LOCK_NAME).exists()


def test_lock_of_a_live_process_on_another_host_is_respected(tmp_path):
    (tmp_path / LOCK_NAME).write_text(json.dumps(
        {"pid": 1, "host": "another-host", "since": "now"}))
    with pytest.raises(ValueError, match="process 1 on another-host"):
        with run_lock(tmp_path):
            pass


def _tiny():
    rng = np.random.default_rng(0)
    image = rng.normal(size=(2, 32, 32)).astype(np.float32)
    labels = (image > 0).astype(np.uint8)
    cfg = TrainConfig(iterations=2, batch_size=1, window=(32, 32), eval_every=2, augment=None)
    return build_model("unet2d", n_classes=2, width=2, depth=2, padding="same"), \
        (image, labels), cfg


def test_fit_refuses_a_folder_another_run_holds(tmp_path):
    model, data, cfg = _tiny()
    (tmp_path / LOCK_NAME).write_text(json.dumps({"pid": 1, "host": "elsewhere"}))
    with pytest.raises(ValueError, match="in use by another training run"):
        fit(model, data, config=cfg, output_dir=tmp_path, device="cpu", progress=False)
    assert not (tmp_path / "checkpoints").exists()


def test_fit_releases_its_lock_and_clears_stale_temporaries(tmp_path):
    model, data, cfg = _tiny()
    ckpt = tmp_path / "checkpoints"
    ckpt.mkdir()
    crashed = ckpt / ".last.0a1b2c3d.tmp.pt"  # what a kill -9 during a write leaves
    crashed.write_bytes(b"half")
    fit(model, data, config=cfg, output_dir=tmp_path, device="cpu", progress=False)
    assert not crashed.exists() and (ckpt / "last.pt").is_file()
    assert not (tmp_path / LOCK_NAME).exists()


def test_fit_resume_with_nothing_to_resume_is_refused(tmp_path):
    model, data, cfg = _tiny()
    with pytest.raises(ValueError, match="holds no run to resume"):
        fit(model, data, config=cfg, output_dir=tmp_path / "typo", resume=True, device="cpu",
            progress=False)


def test_fit_refuses_negative_error_weights():
    model, (image, labels), cfg = _tiny()
    weights = np.ones_like(image)
    weights[0, 0, 0] = -1
    with pytest.raises(ValueError, match="negative values"):
        fit(model, (image, labels, weights), config=cfg, device="cpu", progress=False)


def test_fit_warns_when_the_window_exceeds_the_volume():
    model, (image, labels), cfg = _tiny()
    with pytest.warns(UserWarning, match="larger than train"):
        fit(model, (image[:, :16], labels[:, :16]), config=cfg, device="cpu", progress=False)


def test_fit_refuses_a_window_no_machine_holds():
    model, data, cfg = _tiny()
    with pytest.raises(ValueError, match="config.window .* GiB"):
        fit(model, data, config=cfg.replace(window=(1_000_000, 1_000_000)), device="cpu",
            progress=False)



KILLED_IN_A_WRITE = r"""
import os, signal, sys
import numpy as np
import torch
import emseg.checkpoint as checkpoint
from emseg.models import build_model
from emseg.train import TrainConfig, fit

real_save, lasts = torch.save, []


def save_then_die(obj, fh, *args, **kwargs):  # the 2nd last.pt dies half-way through
    if ".last." in getattr(fh, "name", ""):
        lasts.append(1)
        if len(lasts) == 2:
            fh.write(b"PK\x03\x04 half a checkpoint")
            fh.flush()
            os.kill(os.getpid(), signal.SIGKILL)
    return real_save(obj, fh, *args, **kwargs)


if sys.argv[2] == "kill":
    checkpoint.torch.save = save_then_die
torch.manual_seed(0)
rng = np.random.default_rng(0)
image = rng.normal(size=(1, 32, 32)).astype(np.float32)
labels = (image > 0).astype(np.uint8)
model = build_model("unet2d", n_classes=2, width=4, depth=2, padding="same")
cfg = TrainConfig(window=(32, 32), batch_size=1, iterations=4, eval_every=2, augment=None,
                  amp=False, lr=1e-3)
history = fit(model, (image, labels), (image, labels), config=cfg, output_dir=sys.argv[1],
              resume=sys.argv[2] == "resume", device="cpu", progress=False)
print(history["iteration"])
"""


def test_kill_9_inside_a_checkpoint_write_loses_nothing_finished(tmp_path):
    """SIGKILL while last.pt is half written: the previous last.pt is intact, the
    half-written temporary is removed at the next start, and the run resumes from it."""
    import signal

    from emseg.checkpoint import load_checkpoint

    run, script = tmp_path / "run", tmp_path / "killed.py"
    script.write_text(KILLED_IN_A_WRITE)
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.run([sys.executable, str(script), str(run), "kill"], capture_output=True,
                          text=True, timeout=300, env=env)
    assert proc.returncode == -signal.SIGKILL, proc.stderr[-2000:]
    ckpt = run / "checkpoints"
    temporaries = [p.name for p in ckpt.iterdir() if p.name.startswith(".")]
    assert len(temporaries) == 1 and temporaries[0].startswith(".last.")  # what the kill left
    assert load_checkpoint(ckpt / "last.pt")["iteration"] == 2  # the finished one, whole
    again = subprocess.run([sys.executable, str(script), str(run), "resume"], capture_output=True,
                           text=True, timeout=300, env=env)
    assert again.returncode == 0, again.stderr[-2000:]
    assert again.stdout.strip().endswith("[1, 2, 3, 4]")  # iterations 3-4 added to 1-2
    assert [p.name for p in ckpt.iterdir() if p.name.startswith(".")] == []
    assert load_checkpoint(ckpt / "last.pt")["iteration"] == 4
