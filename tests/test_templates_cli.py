"""Every shipped template, end to end from the terminal, on a tiny generated data folder.

``python -m emseg train --config TEMPLATE`` then ``python -m emseg predict --config
TEMPLATE`` (run in-process through :func:`emseg.cli.main`), made CI-sized with the
command-line overrides a user has (``--set``, ``--iterations``, ``--anisotropy``); then
the outputs are checked: checkpoints, ``metrics.json``, ``training-curve.png`` and the
prediction TIFFs.
"""
import json

import numpy as np
import pytest
import tifffile

from emseg.checkpoint import load_checkpoint
from emseg.cli import main
from emseg.templates import TEMPLATES, load_config, template_path
from emseg.models import MODELS, build_model
from emseg.models.unet3d import pooling_plan

SHAPE = (8, 64, 64)  # every split: 8 sections of 64 x 64


pytestmark = pytest.mark.usefixtures("one_thread")


def _blobs(rng):
    """0/255 masks of bright square blobs in a noisy image (z, y, x)."""
    labels = np.zeros(SHAPE, np.uint8)
    for _ in range(6):
        z, y, x = rng.integers(0, SHAPE[0] - 2), *rng.integers(6, 58, 2)
        labels[z:z + 3, y - 5:y + 5, x - 5:x + 5] = 255
    image = np.clip(60 + 0.5 * labels + rng.normal(0, 20, SHAPE), 0, 255).astype(np.uint8)
    return image, labels


@pytest.fixture(scope="module")
def data_folder(tmp_path_factory):
    """train/ as PNG sections (one stack), val/ and test/ as one TIFF volume each."""
    from skimage.io import imsave

    root = tmp_path_factory.mktemp("layout") / "data"
    rng = np.random.default_rng(0)
    image, labels = _blobs(rng)
    for sub, arr in (("images", image), ("labels", labels)):
        (root / "train" / sub).mkdir(parents=True)
        for k, section in enumerate(arr):  # natural order: s2 before s10
            imsave(root / "train" / sub / f"s{k}.png", section, check_contrast=False)
    for split in ("val", "test"):
        image, labels = _blobs(rng)
        for sub, arr in (("images", image), ("labels", labels)):
            (root / split / sub).mkdir(parents=True)
            tifffile.imwrite(root / split / sub / f"{split}1.tif", arr)
    return root


# CI-sized overrides of each template: small nets, windows and a few iterations
TINY = {
    "unet2d": ["model.width=4", "model.depth=2", "train.window=[60, 60]",
               "train.spacing=[1, 20, 20]", "predict.window=[60, 60]", "train.batch_size=2"],
    "unet3d": ["model.width=4", "model.depth=2", "train.window=[8, 32, 32]",
               "predict.window=[8, 32, 32]"],
    "reisoseg": ["model.features=[4, 4, 8, 8, 8]", "train.window=[8, 32, 32]",
                 "predict.window=[8, 32, 32]"],
    "net2d3d": ["model.width=4", "model.pyramid_width=4", "data.n_classes=2",
                "train.window=[5, 32, 32]", "train.spacing=[2, 16, 16]",
                "predict.window=[5, 32, 32]"],
}
ANISOTROPY = {"unet3d": 2.0, "reisoseg": 8.0}  # differ from the templates' 4.0


def test_every_template_has_a_tiny_setting():
    assert set(TINY) == set(TEMPLATES)


@pytest.mark.parametrize("name", TEMPLATES)
def test_template_end_to_end(name, data_folder, tmp_path, capsys):
    run = tmp_path / "run"
    common = ["--config", name, "--data", str(data_folder), "--set", "data.label_values=[0, 255]",
              "--device", "cpu", "--quiet"]
    sets = [a for s in TINY[name] for a in ("--set", s)]
    train = ["train", *common, "--output", str(run), "--iterations", "3",
             "--set", "train.eval_every=3", "--set", "data.n_classes=2", *sets]
    if name in ANISOTROPY:
        train += ["--anisotropy", str(ANISOTROPY[name])]
    assert main(train) == 0
    printed = capsys.readouterr().out
    assert "3 iterations" in printed and "training-curve.png" in printed

    # training outputs
    for f in ("checkpoints/best.pt", "checkpoints/last.pt", "history.json", "metrics.json",
              "training-curve.png", "config.toml"):
        assert (run / f).is_file(), f
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["iterations"] == 3 and metrics["validation_split"] == "val"
    assert metrics["train_volumes"] == {"images": list(SHAPE)}  # the PNG sections: one stack
    assert np.isfinite(metrics["final_loss"]) and metrics["final_loss"] > 0
    assert 0 <= metrics["best_validation"]["miou_all"] <= 1
    history = json.loads((run / "history.json").read_text())
    assert history["iteration"] == [1, 2, 3]
    png = (run / "training-curve.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 5000
    from matplotlib.image import imread
    assert imread(run / "training-curve.png").shape[0] > 100

    # the network is the template's, with the overrides (and --anisotropy's pooling plan)
    ckpt = load_checkpoint(run / "checkpoints" / "last.pt")
    assert ckpt["iteration"] == 3
    spec = ckpt["model_spec"]
    model = build_model(spec["name"], **spec["kwargs"])
    assert type(model) is MODELS[load_config(name).model.name]
    assert spec["kwargs"]["n_classes"] == 2
    if name in ANISOTROPY:
        assert spec["kwargs"]["anisotropy"] == ANISOTROPY[name]
        depth = model.depth if name == "unet3d" else 4
        assert model.pools == pooling_plan(ANISOTROPY[name], depth)
    copy = load_config(run / "config.toml")  # the config as used, with absolute paths
    assert copy.train.iterations == 3 and copy.resolve(copy.data.folder) == data_folder

    # predict the test folder: TIFFs and metrics
    assert main(["predict", *common, "--output", str(run / "pred"), "--set",
                 "predict.probabilities=true", "--set", f"train.output={run}", "--set",
                 "data.n_classes=2", *sets]) == 0
    printed = capsys.readouterr().out
    assert "IoU over 1 volume(s)" in printed
    out = run / "pred"
    pred = tifffile.imread(out / "test1-prediction.tif")
    assert pred.shape == SHAPE and pred.dtype == np.uint8 and set(np.unique(pred)) <= {0, 1}
    probs = tifffile.imread(out / "test1-probabilities.tif")
    assert probs.shape == (2, *SHAPE) and np.allclose(probs.sum(0), 1, atol=1e-3)
    assert np.array_equal(probs.argmax(0), pred)
    report = json.loads((out / "metrics.json").read_text())
    assert report["checkpoint"] == str(run / "checkpoints" / "best.pt")
    overall = report["overall"]
    assert sum(overall["voxels"]) == np.prod(SHAPE)
    truth = tifffile.imread(data_folder / "test" / "labels" / "test1.tif") // 255
    assert overall["voxels"] == np.bincount(truth.ravel(), minlength=2).tolist()
    cm = np.array(overall["confusion"])
    assert cm.sum(axis=0).tolist() == np.bincount(pred.ravel(), minlength=2).tolist()
    iou = np.diag(cm) / (cm.sum(0) + cm.sum(1) - np.diag(cm))
    assert np.allclose(overall["iou"], iou, equal_nan=True)


def test_config_errors_on_the_command_line(data_folder, capsys):
    def fails(argv, match):
        assert main(argv) == 1
        err = capsys.readouterr().err
        assert match in err, err

    base = ["train", "--config", "unet3d", "--data", str(data_folder)]
    fails(base + ["--set", "train.iterationz=3"],
          "override 'train.iterationz=3': unknown key 'iterationz' in [train] (did you mean "
          "'iterations'?)")
    fails(base + ["--set", "train.iterations=2.5"], "train.iterations must be an integer")
    fails(base + ["--set", "iterations=3"], "must look like section.key=value")
    fails(base + ["--source", "phantom"], "--source cannot be used with --config")
    fails(["train", "--config", "unet2d", "--anisotropy", "4"],
          "--anisotropy sets the pooling plan of the 3D models")
    fails(["train", "--model", "net2d3d", "--anisotropy", "4", "--output", "x"],
          "--anisotropy sets the pooling plan of the 3D models")
    fails(["train", "--config", "unet3d", "--data", str(data_folder / "nowhere")],
          "nowhere/train/images does not exist")
    fails(["predict", "--config", "unet3d", "--input", "a.tif"], "--input cannot be used")
    fails(["train", "--output", "x", "--set", "train.iterations=3"], "go with --config")


def test_a_config_file_with_an_unknown_key(tmp_path, capsys):
    text = template_path("unet3d").read_text().replace("iterations = 20000", "iteration = 20")
    (tmp_path / "my.toml").write_text(text)
    assert main(["train", "--config", str(tmp_path / "my.toml")]) == 1
    err = capsys.readouterr().err
    line = text.splitlines().index("iteration = 20") + 1
    assert f"my.toml, line {line}: unknown key 'iteration' in [train] (did you mean " \
           f"'iterations'?)" in err


def test_anisotropy_replaces_explicit_pools(tmp_path):
    """A config with the original's explicit pools: --anisotropy takes over the plan."""
    from emseg.cli import _explicit_options
    from emseg.cli.train import config_from_args
    from emseg.templates import build_from_config

    text = template_path("reisoseg").read_text().replace(
        "anisotropy = 4.0", "pools = [[2, 2, 2], [1, 2, 2], [1, 2, 2], [2, 2, 2]]")
    (tmp_path / "r.toml").write_text(text)
    argv = ["train", "--config", str(tmp_path / "r.toml"), "--anisotropy", "1"]
    import argparse
    args = argparse.Namespace(config=str(tmp_path / "r.toml"), set=[],
                              _explicit=_explicit_options(argv))
    model = build_from_config(config_from_args(args, "train"))[0]
    assert model.pools == ((2, 2, 2),) * 4
    args._explicit = _explicit_options(argv[:3])
    assert build_from_config(config_from_args(args, "train"))[0].pools == \
        ((2, 2, 2), (1, 2, 2), (1, 2, 2), (2, 2, 2))


def test_template_command_copies_a_template(tmp_path, capsys):
    assert main(["template"]) == 0
    listing = capsys.readouterr().out
    assert all(name in listing for name in TEMPLATES)
    out = tmp_path / "mine.toml"
    assert main(["template", "reisoseg", "--output", str(out)]) == 0
    assert out.read_text() == template_path("reisoseg").read_text()
    assert main(["template", "reisoseg", "--output", str(out)]) == 1
    assert "exists" in capsys.readouterr().err
    cfg = load_config(out)
    assert cfg.model.name == "reisoseg" and cfg.base_dir == tmp_path


def test_named_template_paths_start_in_the_current_folder(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    cfg = load_config("unet3d")
    assert cfg.resolve(cfg.data.folder) == tmp_path / "data"
    assert cfg.resolve(cfg.train.output) == tmp_path / "runs" / "unet3d"


@pytest.mark.parametrize("model, preset, anisotropy, depth", [
    ("unet3d", "cpu", 10.0, 3), ("reisoseg", "cpu", 1.0, 4), ("reisoseg", "original", 8.0, 4)])
def test_anisotropy_without_a_config(model, preset, anisotropy, depth):
    """``train --model unet3d|reisoseg --anisotropy R``: the preset's net with R's pools."""
    from emseg.cli import _parser
    from emseg.cli.train import _model_and_config

    args = _parser().parse_args(["train", "--model", model, "--preset", preset, "--output", "x",
                                 "--anisotropy", str(anisotropy), "--n-classes", "2"])
    net, _ = _model_and_config(args)
    assert net.pools == pooling_plan(anisotropy, depth)
    assert net.spec()["kwargs"]["anisotropy"] == anisotropy
