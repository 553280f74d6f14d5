"""The ``train`` command's options (emseg.cli.train): one per TrainConfig field, the same
network and TrainConfig with and without ``--config``, the presets, and the checks that
fail before any data are read; and the predict options that ``--config`` maps or refuses."""
import pytest
import torch

from emseg.cli import main


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
    from emseg.templates import build_from_config

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
    from emseg.templates import build_from_config, load_config
    from emseg.train import PRESETS
    assert PRESETS["unet2d-cpu"].config.grad_clip == 12.0
    args = _parser().parse_args(["train", "--model", "unet2d", "--output", str(tmp_path / "r"),
                                 "--grad-clip", "none", "--window", "none"])
    config = _train_config(args)[1]
    assert config.grad_clip is None and config.window is None
    (tmp_path / "c.toml").write_text('[data]\nfolder = "d"\n[train]\npreset = "unet2d-cpu"\n'
                                     'grad_clip = "none"\n')
    assert build_from_config(load_config(tmp_path / "c.toml"))[1].grad_clip is None
