"""Bad inputs through the real command line (a subprocess each).

For every case: a non-zero exit, exactly one ``error:`` line that names the file or the
option at fault, no traceback, and every file that existed before is byte-identical
afterwards (nothing a user made is lost; no temporaries are left behind).
"""
import hashlib
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import tifffile
import torch

from emseg.checkpoint import save_model
from emseg.data import write_volume
from emseg.models import UNet2D

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def ws(tmp_path_factory):
    """A folder of good and bad files (built once; each case must leave it as it was)."""
    d = tmp_path_factory.mktemp("bad-inputs")
    rng = np.random.default_rng(0)
    image = rng.integers(0, 255, (4, 32, 32)).astype(np.uint8)
    labels = (image > 127).astype(np.uint8)
    write_volume(d / "image.tif", image)
    write_volume(d / "labels.tif", labels)
    write_volume(d / "labels-neg.tif", labels.astype(np.int16) - 1)
    write_volume(d / "labels-frac.tif", labels.astype(np.float32) + 0.5)
    nan = labels.astype(np.float32)
    nan[0, 0, 0] = np.nan
    tifffile.imwrite(d / "labels-nan.tif", nan, photometric="minisblack")
    write_volume(d / "labels-small.tif", labels[:, :16])
    write_volume(d / "weights-neg.tif", np.full(image.shape, -1.0, np.float32))
    write_volume(d / "big.tif", rng.integers(0, 255, (40, 128, 128)).astype(np.uint8))
    data = (d / "big.tif").read_bytes()
    (d / "truncated.tif").write_bytes(data[:len(data) // 3])
    (d / "big.tif").unlink()
    (d / "text.tif").write_text("not an image\n")
    (d / "stack-folder").mkdir()
    write_volume(d / "stack-folder" / "s1.tif", image)  # a 3-D stack where slices belong
    torch.manual_seed(0)
    net = UNet2D(2, width=2, depth=2, padding="same")
    save_model(net, d / "net.pt")
    state = net.state_dict()
    state.pop(next(iter(state)))
    torch.save({"model_spec": net.spec(), "model_state": state}, d / "broken.pt")
    torch.save({"model_spec": net.spec(), "model_state": Path("x")}, d / "objects.pt")
    (d / "text.pt").write_text("not a checkpoint\n")
    (d / "existing.tif").write_bytes(b"a file of mine")
    (d / "existing.json").write_text("{}")
    (d / "existing.swc").write_text("# mine\n")
    (d / "a-file").write_text("a file, not a folder\n")
    (d / "phantom").mkdir()
    (d / "phantom" / "train-images.tif").write_bytes(b"my own train images")
    (d / "ecs-out").mkdir()
    (d / "ecs-out" / "ecs.csv").write_text("mine\n")
    (d / "ecs-pred").mkdir()
    (d / "ecs-pred" / "image_probability.tif").write_bytes(b"an earlier result")
    (d / "run" / "checkpoints").mkdir(parents=True)
    (d / "run" / "checkpoints" / "last.pt").write_bytes((d / "net.pt").read_bytes())
    (d / "empty-run").mkdir()
    write_volume(d / "cfgdata" / "test" / "images" / "a.tif", image)  # predict --config
    (d / "cfg.toml").write_text('[data]\nfolder = "cfgdata"\nn_classes = 2\n\n[model]\n'
                                'name = "unet2d"\nwidth = 2\ndepth = 2\npadding = "same"\n\n'
                                '[predict]\ncheckpoint = "net.pt"\noutput = "preds"\n'
                                'window = [32, 32]\n')
    (d / "preds").mkdir()
    (d / "preds" / "a-prediction.tif").write_bytes(b"an earlier prediction of mine")
    return d


# (id, arguments with {w} for the workspace, what the error line must name)
PREDICT = ["predict", "--model", "{w}/net.pt", "--input", "{w}/image.tif", "--device", "cpu",
           "--quiet"]
TRAIN = ["train", "--model", "unet2d", "--n-classes", "2", "--train-images", "{w}/image.tif",
         "--train-labels", "{w}/labels.tif", "--iterations", "1", "--window", "32,32",
         "--batch-size", "1", "--width", "2", "--quiet", "--device", "cpu"]
CASES = [
    # predict
    ("predict-output-is-input", PREDICT + ["--output", "{w}/image.tif", "--overwrite"],
     "also an input"),
    ("predict-output-exists", PREDICT + ["--output", "{w}/existing.tif"], "existing.tif exists"),
    ("predict-config-output-exists", ["predict", "--config", "{w}/cfg.toml", "--device", "cpu",
                                      "--quiet"], "a-prediction.tif exists"),
    ("predict-probabilities-exists", PREDICT + ["--output", "{w}/new.tif", "--probabilities",
                                                "{w}/existing.tif"], "--probabilities"),
    ("predict-probabilities-is-output", PREDICT + ["--output", "{w}/new.tif", "--probabilities",
                                                   "{w}/new.tif"], "also an input"),
    ("predict-output-not-tiff", PREDICT + ["--output", "{w}/new.png"], "--output"),
    ("predict-output-missing", PREDICT, "--output"),
    ("predict-model-missing", ["predict", "--model", "{w}/nope.pt", "--input", "{w}/image.tif",
                               "--output", "{w}/new.tif"], "nope.pt"),
    ("predict-model-broken", ["predict", "--model", "{w}/broken.pt", "--input", "{w}/image.tif",
                              "--output", "{w}/new.tif"], "do not fit"),
    ("predict-model-objects", ["predict", "--model", "{w}/objects.pt", "--input",
                               "{w}/image.tif", "--output", "{w}/new.tif"],
     "not an emseg network file"),
    ("predict-model-text", ["predict", "--model", "{w}/text.pt", "--input", "{w}/image.tif",
                            "--output", "{w}/new.tif"], "text.pt is not a readable PyTorch"),
    ("predict-input-truncated", ["predict", "--model", "{w}/net.pt", "--input",
                                 "{w}/truncated.tif", "--output", "{w}/new.tif"], "truncated.tif"),
    ("predict-input-not-tiff", ["predict", "--model", "{w}/net.pt", "--input", "{w}/text.tif",
                                "--output", "{w}/new.tif"], "text.tif"),
    ("predict-input-missing", ["predict", "--model", "{w}/net.pt", "--input", "{w}/nope.tif",
                               "--output", "{w}/new.tif"], "nope.tif"),
    ("predict-input-stack-in-folder", ["predict", "--model", "{w}/net.pt", "--input",
                                       "{w}/stack-folder", "--output", "{w}/new.tif"],
     "stack of sections"),
    ("predict-device", PREDICT + ["--output", "{w}/new.tif", "--device", "banana"], "banana"),
    ("predict-huge-window", PREDICT + ["--output", "{w}/new.tif", "--window", "100000,100000"],
     "GiB"),
    ("predict-window-text", PREDICT + ["--output", "{w}/new.tif", "--window", "big"], "--window"),
    ("predict-overlap", PREDICT + ["--output", "{w}/new.tif", "--overlap", "1.5"], "overlap"),
    ("predict-batch-size", PREDICT + ["--output", "{w}/new.tif", "--batch-size", "0"],
     "batch_size"),
    # train
    ("train-labels-negative", TRAIN[:8] + ["{w}/labels-neg.tif"] + TRAIN[9:]
     + ["--output", "{w}/new-run"], "labels-neg.tif"),
    ("train-labels-fraction", TRAIN[:8] + ["{w}/labels-frac.tif"] + TRAIN[9:]
     + ["--output", "{w}/new-run"], "labels-frac.tif"),
    ("train-labels-nan", TRAIN[:8] + ["{w}/labels-nan.tif"] + TRAIN[9:]
     + ["--output", "{w}/new-run"], "labels-nan.tif"),
    ("train-labels-shape", TRAIN[:8] + ["{w}/labels-small.tif"] + TRAIN[9:]
     + ["--output", "{w}/new-run"], "labels-small.tif"),
    ("train-weights-negative", TRAIN + ["--train-weights", "{w}/weights-neg.tif", "--output",
                                        "{w}/new-run"], "weights-neg.tif"),
    ("train-resume-nothing", TRAIN + ["--output", "{w}/empty-run", "--resume"],
     "no run to resume"),
    ("train-earlier-run", TRAIN + ["--output", "{w}/run"], "already holds a training run"),
    ("train-output-is-a-file", TRAIN + ["--output", "{w}/a-file"], "a-file is a file"),
    ("train-lr", TRAIN + ["--output", "{w}/new-run", "--lr", "-1"], "--lr"),
    ("train-iterations", TRAIN + ["--output", "{w}/new-run", "--iterations", "0"],
     "--iterations"),
    ("train-huge-window", TRAIN + ["--output", "{w}/new-run", "--window", "100000,100000"],
     "GiB"),
    ("train-device", TRAIN + ["--output", "{w}/new-run", "--device", "banana"], "banana"),
    ("train-images-without-labels", ["train", "--model", "unet2d", "--output", "{w}/new-run",
                                     "--train-images", "{w}/image.tif"], "--train-labels"),
    ("train-anisotropy-2d", TRAIN + ["--output", "{w}/new-run", "--anisotropy", "4"],
     "--anisotropy"),
    ("train-no-output", TRAIN, "--output"),
    # phantom
    ("phantom-existing-files", ["phantom", "--output", "{w}/phantom", "--split", "train",
                                "--shape", "4,32,32"], "train-images.tif exists"),
    ("phantom-output-is-a-file", ["phantom", "--output", "{w}/a-file"], "a-file"),
    # evaluate
    ("evaluate-json-exists", ["evaluate", "--labels", "{w}/labels.tif", "--prediction",
                              "{w}/labels.tif", "--json", "{w}/existing.json"], "existing.json"),
    ("evaluate-json-is-input", ["evaluate", "--labels", "{w}/labels.tif", "--prediction",
                                "{w}/image.tif", "--json", "{w}/labels.tif", "--overwrite"],
     "also an input"),
    ("evaluate-shapes", ["evaluate", "--labels", "{w}/labels.tif", "--prediction",
                         "{w}/labels-small.tif", "--n-classes", "2"], "labels-small.tif"),
    ("evaluate-labels-missing", ["evaluate", "--labels", "{w}/nope.tif", "--prediction",
                                 "{w}/labels.tif"], "nope.tif"),
    # export, template, trace
    ("export-over-its-input", ["export", "{w}/net.pt", "--output", "{w}/net.pt", "--overwrite"],
     "also an input"),
    ("export-output-exists", ["export", "{w}/net.pt", "--output", "{w}/existing.tif"],
     "existing.tif exists"),
    ("template-output-exists", ["template", "unet2d", "--output", "{w}/existing.json"],
     "existing.json exists"),
    ("trace-output-is-input", ["trace", "--input", "{w}/image.tif", "--output", "{w}/image.tif",
                               "--overwrite"], "also an input"),
    ("trace-output-exists", ["trace", "--input", "{w}/image.tif", "--output",
                             "{w}/existing.swc"], "existing.swc exists"),
    # ecs
    ("ecs-quantify-existing", ["ecs", "quantify", "--labels", "{w}/labels.tif", "--voxel-size",
                               "50", "9", "9", "--output", "{w}/ecs-out"], "ecs.csv exists"),
    ("ecs-evaluate-json-exists", ["ecs", "evaluate", "--labels", "{w}/labels.tif",
                                  "--prediction", "{w}/labels.tif", "--json",
                                  "{w}/existing.json"], "existing.json"),
    ("ecs-predict-existing", ["ecs", "predict", "--model", "{w}/net.pt", "--input",
                              "{w}/image.tif", "--output", "{w}/ecs-pred", "--device", "cpu"],
     "image_probability.tif exists"),
    ("ecs-train-no-data", ["ecs", "train", "--output", "{w}/new-run"], "--data"),
]


def _snapshot(folder):
    return {p.relative_to(folder): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.mark.parametrize("argv, names", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_bad_input_is_one_error_line_and_loses_nothing(ws, argv, names):
    before = _snapshot(ws)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        [str(ROOT / "lib"), os.environ.get("PYTHONPATH", "")]).rstrip(os.pathsep)}
    env.pop("EMSEG_DEBUG", None)
    proc = subprocess.run([sys.executable, "-m", "emseg", *[a.format(w=ws) for a in argv]],
                          capture_output=True, text=True, env=env, cwd=ws, timeout=300)
    err = proc.stderr
    assert proc.returncode != 0, proc.stdout + err
    assert "Traceback" not in err, err
    lines = [line for line in err.splitlines() if "error:" in line]
    assert len(lines) == 1, err
    assert names in lines[0], lines[0]
    assert _snapshot(ws) == before  # nothing replaced, nothing half-written left behind
    assert not (ws / "new-run" / "checkpoints").exists()


def test_enough_cases():
    assert len(CASES) >= 40 and len({c[0] for c in CASES}) == len(CASES)


def test_error_line_of_os_errors_names_the_path_and_what_to_do():
    import errno

    from emseg.cli import _error_line
    full = OSError(errno.ENOSPC, "No space left on device", "/data/out.tif")
    assert _error_line(full) == "/data/out.tif: the disk is full; free space or write elsewhere"
    ro = OSError(errno.EROFS, "Read-only file system", "/mnt/ro/x.tif")
    assert "read-only" in _error_line(ro) and "/mnt/ro/x.tif" in _error_line(ro)
    assert "out of memory" in _error_line(MemoryError())
    assert _error_line(OSError(errno.EIO, "Input/output error")) == (
        "Input/output error; check the path and the disk")  # no file to name: none invented
    assert _error_line(KeyError("bug")) is None  # an unexpected error keeps its traceback


def test_a_closed_pipe_ends_quietly():
    env = {**os.environ, "PYTHONPATH": str(ROOT / "lib")}
    proc = subprocess.run(f"{sys.executable} -m emseg template | head -1", shell=True,
                          capture_output=True, text=True, env=env, timeout=300)
    assert proc.stdout.count("\n") == 1 and proc.stderr == "", proc.stderr


def test_debug_shows_the_traceback(ws):
    env = {**os.environ, "PYTHONPATH": str(ROOT / "lib"), "EMSEG_DEBUG": "1"}
    proc = subprocess.run([sys.executable, "-m", "emseg", "evaluate", "--labels",
                           str(ws / "nope.tif"), "--prediction", str(ws / "labels.tif")],
                          capture_output=True, text=True, env=env, timeout=300)
    assert proc.returncode != 0 and "Traceback" in proc.stderr and "nope.tif" in proc.stderr


def test_kill_9_during_training_then_resume_loses_nothing(ws, tmp_path):
    """A training run killed with SIGKILL (no clean-up at all) resumes from its last
    checkpoint; the stale lock is reported and taken over; no temporaries remain."""
    import json
    import signal
    import time

    env = {**os.environ, "PYTHONPATH": str(ROOT / "lib")}
    run = tmp_path / "run"
    argv = [sys.executable, "-m", "emseg", *[a.format(w=ws) for a in TRAIN[:-2]],
            "--iterations", "60", "--eval-every", "2", "--output", str(run), "--device", "cpu"]
    proc = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    last = run / "checkpoints" / "last.pt"
    deadline = time.time() + 240
    while not last.exists() and proc.poll() is None and time.time() < deadline:
        time.sleep(0.05)
    time.sleep(0.2)  # somewhere in the next steps, maybe inside a checkpoint write
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL
    done = json.loads((run / "history.json").read_text())["iteration"][-1]
    assert 0 < done < 60
    again = subprocess.run(argv + ["--resume"], env=env, capture_output=True, text=True,
                           timeout=300)
    assert again.returncode == 0, again.stderr
    assert "stale lock" in again.stderr
    history = json.loads((run / "history.json").read_text())
    assert history["iteration"] == list(range(1, 61))
    leftovers = [p.name for p in run.rglob("*") if p.name.startswith(".")]
    assert leftovers == []


def test_a_missing_optional_extra_is_one_line_an_unknown_import_error_a_traceback():
    from emseg.cli import _error_line

    extra = ImportError('exporting a bioimage.io package needs bioimageio.spec: '
                        'python -m pip install -e ".[bioimageio]"')
    assert _error_line(extra) == str(extra)
    assert _error_line(ImportError("cannot import name 'x' from 'emseg.y'")) is None
