import numpy as np
import pytest
import tifffile
import torch

from emseg.checkpoint import save_model
from emseg.cli import main
from emseg.models import UNet2D


@pytest.mark.parametrize("command", ["fetch", "phantom", "train", "predict", "evaluate", "demo"])
def test_every_command_has_help(command, capsys):
    with pytest.raises(SystemExit) as exc:
        main([command, "--help"])
    assert exc.value.code == 0
    assert "usage" in capsys.readouterr().out


def test_no_command_prints_help(capsys):
    assert main([]) == 2
    assert "COMMAND" in capsys.readouterr().out


def test_phantom_then_predict_then_evaluate(tmp_path, capsys):
    assert main(["phantom", "--output", str(tmp_path / "data"), "--split", "test",
                 "--shape", "4,64,64"]) == 0
    image = tifffile.imread(tmp_path / "data" / "test-images.tif")
    labels = tifffile.imread(tmp_path / "data" / "test-labels.tif")
    assert image.shape == labels.shape == (4, 64, 64) and labels.max() <= 6
    torch.manual_seed(0)
    save_model(UNet2D(7, width=4, depth=2, padding="same"), tmp_path / "net.pt")
    assert main(["predict", "--model", str(tmp_path / "net.pt"), "--model", str(tmp_path / "net.pt"),
                 "--input", str(tmp_path / "data" / "test-images.tif"),
                 "--output", str(tmp_path / "pred.tif"), "--window", "32,32", "--quiet",
                 "--device", "cpu", "--probabilities", str(tmp_path / "probs.tif")]) == 0
    pred = tifffile.imread(tmp_path / "pred.tif")
    probs = tifffile.imread(tmp_path / "probs.tif")
    assert pred.shape == (4, 64, 64) and pred.dtype == np.uint8
    assert probs.shape == (7, 4, 64, 64)
    assert np.array_equal(pred, probs.argmax(0))
    assert main(["evaluate", "--labels", str(tmp_path / "data" / "test-labels.tif"),
                 "--prediction", str(tmp_path / "pred.tif"), "--json", str(tmp_path / "r.json")]) == 0
    out = capsys.readouterr().out
    assert "MIoU" in out and "alpha granule" in out
    assert (tmp_path / "r.json").is_file()


def test_train_on_own_tiffs_and_resume(tmp_path, capsys):
    rng = np.random.default_rng(0)
    labels = (rng.random((3, 48, 48)) > 0.5).astype(np.uint8)
    image = labels + rng.normal(scale=0.5, size=labels.shape).astype(np.float32)
    tifffile.imwrite(tmp_path / "x.tif", image, photometric="minisblack")
    tifffile.imwrite(tmp_path / "y.tif", labels, photometric="minisblack")
    args = ["train", "--model", "unet2d", "--output", str(tmp_path / "run"),
            "--train-images", str(tmp_path / "x.tif"), "--train-labels", str(tmp_path / "y.tif"),
            "--val-images", str(tmp_path / "x.tif"), "--val-labels", str(tmp_path / "y.tif"),
            "--n-classes", "2", "--width", "4", "--window", "32,32", "--batch-size", "1",
            "--eval-every", "2", "--quiet", "--device", "cpu"]
    # the preset's poly schedule spans the run: growing it on resume is refused in one line
    assert main(args + ["--iterations", "2", "--output", str(tmp_path / "poly")]) == 0
    assert main(args + ["--iterations", "4", "--resume", "--output", str(tmp_path / "poly")]) == 1
    assert "poly learning-rate schedule spans config.iterations" in capsys.readouterr().err
    args += ["--lr-schedule", "constant"]  # a constant rate: a run may grow
    assert main(args + ["--iterations", "2"]) == 0
    assert main(args + ["--iterations", "4", "--resume"]) == 0
    for name in ("checkpoints/best.pt", "checkpoints/last.pt", "history.json", "training-curve.png"):
        assert (tmp_path / "run" / name).is_file()
    assert torch.load(tmp_path / "run" / "checkpoints" / "last.pt", weights_only=False)["iteration"] == 4


def test_errors_are_one_line_messages(tmp_path, capsys):
    (tmp_path / "notes.tif").write_text("not an image")
    assert main(["evaluate", "--labels", str(tmp_path / "notes.tif"),
                 "--prediction", str(tmp_path / "notes.tif")]) == 1
    assert "not a TIFF" in capsys.readouterr().err
    assert main(["predict", "--model", str(tmp_path / "missing.pt"), "--input",
                 str(tmp_path / "notes.tif"), "--output", str(tmp_path / "o.tif")]) == 1
    assert "error:" in capsys.readouterr().err
    assert main(["train", "--output", str(tmp_path / "r"), "--train-images", "a.tif"]) == 1
    assert "go together" in capsys.readouterr().err


def test_train_and_predict_say_what_is_missing(capsys):
    from emseg.cli import main

    assert main(["train", "--model", "unet2d"]) == 1
    assert "train needs --output RUN_FOLDER (or --config TEMPLATE)" in capsys.readouterr().err
    assert main(["predict", "--input", "x.tif"]) == 1
    assert "predict needs --model, --output (or --config TEMPLATE)" in capsys.readouterr().err
    assert main(["train", "--model", "unet3d", "--preset", "original", "--output", "x"]) == 1
    assert "no preset 'unet3d-original'" in capsys.readouterr().err
    assert main(["train", "--model", "unet3d", "--preset", "cpu-legacy", "--output", "x"]) == 1
    assert "no preset 'unet3d-cpu-legacy'" in capsys.readouterr().err


def test_cpu_legacy_preset_is_the_old_recipe():
    # the bundled phantom nets' command (emseg.pretrained) trains with --preset cpu-legacy
    from emseg.cli import _parser
    from emseg.cli.train import _model_and_config
    from emseg.pretrained import PRETRAINED
    from emseg.train import PRESETS

    command = PRETRAINED["phantom-2d3d_0"]["command"].split(" && ")[0].split()[3:]
    args = _parser().parse_args(command)
    model, config = _model_and_config(args)
    assert config == PRESETS["net2d3d-cpu-legacy"].config.replace(seed=0)
    assert config.lr_schedule == "constant" and config.loss == "default"
    assert not any(isinstance(m, torch.nn.modules.batchnorm._BatchNorm) for m in model.modules())
    args = _parser().parse_args(["train", "--model", "net2d3d", "--preset", "cpu-legacy",
                                 "--width", "8", "--output", "x"])
    assert _model_and_config(args)[0].spec()["kwargs"]["pyramid_width"] == 8


# --------------------------------------------------------------------------- train settings

def _train_options():
    """``{dest: action}`` of the ``train`` command's options."""
    from emseg.cli import _parser
    import argparse

    parser = _parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return {a.dest: a for a in sub.choices["train"]._actions}


def test_every_predict_option_maps_to_the_config_or_is_refused_with_it():
    """No predict option is silently ignored under --config (e.g. --precision)."""
    import argparse

    from emseg.cli import _parser
    from emseg.cli.train import _CONFIG_FLAGS, _NOT_WITH_CONFIG

    parser = _parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    options = {a.dest for a in sub.choices["predict"]._actions if a.option_strings} - {
        "help", "config", "set", "overwrite", "quiet", "device"}
    handled = set(_CONFIG_FLAGS["predict"]) | set(_NOT_WITH_CONFIG["predict"])
    assert options <= handled, f"predict options neither mapped nor refused: {options - handled}"
    assert _CONFIG_FLAGS["predict"]["precision"] == ("predict", "precision")


def test_every_train_setting_is_a_train_option():
    """One option per TrainConfig field, named after it, that --config maps to [train]."""
    import dataclasses
    from emseg.cli.train import _CONFIG_FLAGS
    from emseg.train import TrainConfig
    from emseg.train._config import setting_help

    options = _train_options()
    for f in dataclasses.fields(TrainConfig):
        flag = "--" + f.name.replace("_", "-")
        assert f.name in options, f"TrainConfig.{f.name} has no train option {flag}"
        action = options[f.name]
        assert flag in action.option_strings
        assert action.default == (0 if f.name == "seed" else None)  # None: the preset's value
        help_text, choices = setting_help(f.name)
        if f.name != "augment":
            assert action.help.replace("%%", "%").startswith(help_text)
        if choices:
            assert list(action.choices) == list(choices)
        assert _CONFIG_FLAGS["train"][f.name] == ("train", f.name)


# settings as command-line options, and the TrainConfig they must give (from unet3d-cpu)
FLAGS = ["--iterations", "7", "--batch-size", "3", "--lr", "0.01", "--lr-schedule", "poly",
         "--warmup", "2", "--optimizer", "adamw", "--weight-decay", "0.001",
         "--betas", "0.9,0.999", "--eps", "1e-8", "--grad-clip", "1.5", "--window", "16x32x32",
         "--spacing", "1,8,8", "--scale", "2", "--oversample", "0.33", "--loss", "dice_ce",
         "--class-weights", "1,2", "--aux-weight", "0.5", "--weight-floor", "0.1",
         "--no-augment", "--eval-every", "5", "--eval-overlap", "0.5",
         "--organelle-classes", "1", "--seed", "4", "--no-amp", "--cpu-bf16",
         "--no-channels-last", "--prefetch", "0"]
EXPECTED = dict(iterations=7, batch_size=3, lr=0.01, lr_schedule="poly", warmup=2,
                optimizer="adamw", weight_decay=0.001, betas=(0.9, 0.999), eps=1e-8,
                grad_clip=1.5, window=(16, 32, 32), spacing=(1, 8, 8), scale=2, oversample=0.33,
                loss="dice_ce", class_weights=(1.0, 2.0), aux_weight=0.5, weight_floor=0.1,
                augment=None, eval_every=5, eval_overlap=0.5, organelle_classes=(1,), seed=4,
                amp=False, cpu_bf16=True, channels_last=False, prefetch=0)


def _with_config(argv):
    """The network and TrainConfig that ``train --config ...`` would train."""
    from emseg.cli import _explicit_options, _parser
    from emseg.cli.train import config_from_args
    from emseg.config import build_from_config

    args = _parser().parse_args(argv)
    args._explicit = _explicit_options(argv)
    return build_from_config(config_from_args(args, "train"))


def test_train_settings_with_and_without_config(tmp_path):
    import dataclasses
    from emseg.augment import AugmentConfig
    from emseg.cli import _parser
    from emseg.cli.train import _model_and_config
    from emseg.train import PRESETS, TrainConfig

    assert set(EXPECTED) == {f.name for f in dataclasses.fields(TrainConfig)}  # all of them
    (tmp_path / "p.toml").write_text('[data]\nfolder = "data"\nn_classes = 7\n\n'
                                     '[train]\npreset = "unet3d-cpu"\n')
    args = _parser().parse_args(["train", "--model", "unet3d", "--output", "x", "--norm", "batch",
                                 *FLAGS])
    net, config = _model_and_config(args)
    assert config == PRESETS["unet3d-cpu"].config.replace(**EXPECTED)
    net2, config2 = _with_config(["train", "--config", str(tmp_path / "p.toml"), "--norm",
                                  "batch", *FLAGS])
    assert config2 == config
    assert net.spec() == net2.spec() and net.spec()["kwargs"]["norm"] == "batch"
    # the same seed, the same initial weights: with or without --config, and as Preset.build
    net3, _ = PRESETS["unet3d-cpu"].build(7, seed=EXPECTED["seed"], model_options={"norm": "batch"})
    for other in (net2, net3):
        for (k, a), b in zip(net.state_dict().items(), other.state_dict().values()):
            assert torch.equal(a, b), k
    # --augment: the preset's augmentation, with and without --config
    on = ["--augment", "--scale", "1,2,2"]
    args = _parser().parse_args(["train", "--model", "unet3d", "--output", "x", *on])
    assert _model_and_config(args)[1].augment == PRESETS["unet3d-cpu"].config.augment
    config3 = _with_config(["train", "--config", str(tmp_path / "p.toml"), *on])[1]
    assert config3 == _model_and_config(args)[1] and config3.scale == (1, 2, 2)
    # left out: the preset's values (the seed: 0, as before)
    args = _parser().parse_args(["train", "--model", "unet3d", "--output", "x"])
    assert _model_and_config(args)[1] == PRESETS["unet3d-cpu"].config.replace(seed=0)


@pytest.mark.parametrize("options, message", [
    (["--scale", "-2"], "--scale must be a positive integer (in-plane binning)"),
    (["--oversample", "1.5"], "--oversample must be a fraction in [0, 1], got 1.5"),
    (["--grad-clip", "0"], "--grad-clip must be positive"),
    (["--norm", "batch", "--model", "reisoseg"],
     "--norm sets the normalisation layers of the networks with a norm option (unet2d, unet3d, "
     "net2d3d); reisoseg has none"),
    (["--model", "unet2d", "--scale", "2,1,1"],
     "--scale: a 2D network sees one section at a time"),
])
def test_bad_train_settings_fail_before_the_data_are_read(options, message, tmp_path, capsys,
                                                          monkeypatch):
    import emseg.cli.train

    def no_data(args):
        raise AssertionError("the data were read")

    monkeypatch.setattr(emseg.cli.train, "_training_data", no_data)
    assert main(["train", "--output", str(tmp_path / "run"), *options]) == 1
    assert message in capsys.readouterr().err


def test_bad_train_settings_with_config(tmp_path, capsys):
    (tmp_path / "p.toml").write_text('[data]\nfolder = "data"\n\n[model]\nname = "reisoseg"\n')
    assert main(["train", "--config", str(tmp_path / "p.toml"), "--norm", "group"]) == 1
    assert "reisoseg has none" in capsys.readouterr().err
    assert main(["train", "--config", str(tmp_path / "p.toml"), "--scale", "0"]) == 1
    assert "override 'train.scale': train.scale must be a positive integer" in \
        capsys.readouterr().err
    with pytest.raises(SystemExit) as exc:  # choices: argparse refuses them
        main(["train", "--config", str(tmp_path / "p.toml"), "--lr-schedule", "step"])
    assert exc.value.code == 2
    assert "invalid choice: 'step'" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["train", "--config", str(tmp_path / "p.toml"), "--betas", "0.9"])
    assert "--betas: expected 2 numbers separated by commas" in capsys.readouterr().err


def test_none_clears_a_setting_the_preset_gives(tmp_path):
    from emseg.cli import _parser
    from emseg.cli.train import _train_config
    from emseg.config import build_from_config, load_config
    from emseg.train import PRESETS
    assert PRESETS["unet2d-cpu"].config.grad_clip == 12.0
    args = _parser().parse_args(["train", "--model", "unet2d", "--output", str(tmp_path / "r"),
                                 "--grad-clip", "none", "--window", "none"])
    config = _train_config(args)[1]
    assert config.grad_clip is None and config.window is None
    (tmp_path / "c.toml").write_text('[data]\nfolder = "d"\n[train]\npreset = "unet2d-cpu"\n'
                                     'grad_clip = "none"\n')
    assert build_from_config(load_config(tmp_path / "c.toml"))[1].grad_clip is None
