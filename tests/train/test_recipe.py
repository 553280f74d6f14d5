"""The modern training recipe: schedules, optimiser, clipping, scale, exact resume."""
import numpy as np
import pytest
import torch

from emseg.checkpoint import load_checkpoint, load_model
from emseg.data import Volume
from emseg.infer import predict
from emseg.models import UNet2D
from emseg.train import PRESETS, TrainConfig, fit
from emseg.train._config import MODERN
from emseg.train._loop import make_optimizer, scheduled_lr


def _toy(seed=0, shape=(3, 48, 48)):
    from scipy import ndimage
    rng = np.random.default_rng(seed)
    blobs = ndimage.gaussian_filter(rng.normal(size=shape), (0.5, 3, 3)) > 0.6  # rare class
    image = blobs.astype(np.float32) + rng.normal(scale=0.3, size=shape).astype(np.float32)
    return Volume(image, blobs.astype(np.uint8), name=f"toy{seed}")


def _net(norm="batch"):
    torch.manual_seed(0)
    return UNet2D(2, width=4, depth=2, padding="same", norm=norm)


ALL_ON = TrainConfig(**{**MODERN, "warmup": 2, "lr": 3e-3}, iterations=6, batch_size=2,
                     window=(16, 16), eval_every=3, scale=(1, 2, 2))


def test_schedules_by_hand():
    cfg = TrainConfig(iterations=10, lr=2.0)
    assert [scheduled_lr(cfg, i) for i in (0, 9)] == [2.0, 2.0]
    poly = cfg.replace(lr_schedule="poly")
    assert scheduled_lr(poly, 0) == 2.0
    assert scheduled_lr(poly, 5) == pytest.approx(2.0 * 0.5 ** 0.9)
    assert scheduled_lr(poly, 10) == 0.0
    warm = poly.replace(warmup=3)
    assert [round(scheduled_lr(warm, i), 6) for i in (0, 1, 2)] == \
        [round(2.0 * (1 - i / 10) ** 0.9 * (i + 1) / 4, 6) for i in (0, 1, 2)]
    assert scheduled_lr(warm, 3) == scheduled_lr(poly, 3)  # warm-up over
    cos = cfg.replace(lr_schedule="cosine")
    assert scheduled_lr(cos, 5) == pytest.approx(2.0 * 0.525)


def test_adamw_decays_weights_but_not_biases_or_norms():
    net = _net()
    opt = make_optimizer(net, TrainConfig(optimizer="adamw", weight_decay=0.1))
    assert isinstance(opt, torch.optim.AdamW)
    decayed, plain = opt.param_groups
    assert decayed["weight_decay"] == 0.1 and plain["weight_decay"] == 0.0
    assert all(p.ndim > 1 for p in decayed["params"]) and all(p.ndim == 1 for p in plain["params"])
    assert len(decayed["params"]) + len(plain["params"]) == len(list(net.parameters()))
    assert isinstance(make_optimizer(net, TrainConfig()), torch.optim.Adam)


def test_grad_clip_bounds_the_gradient_norm(monkeypatch):
    seen = {}
    original = torch.nn.utils.clip_grad_norm_

    def spy(params, max_norm, *args, **kwargs):
        params = list(params)
        seen["before"] = float(original(params, max_norm, *args, **kwargs))
        seen["after"] = float(torch.norm(torch.stack([p.grad.norm() for p in params])))
        return seen["before"]

    monkeypatch.setattr(torch.nn.utils, "clip_grad_norm_", spy)
    cfg = TrainConfig(iterations=1, batch_size=2, window=(16, 16), grad_clip=1e-3, augment=None)
    fit(_net(None), _toy(), config=cfg, progress=False)
    assert seen["before"] > 1e-3 and seen["after"] == pytest.approx(1e-3, rel=1e-3)
    seen.clear()
    fit(_net(None), _toy(), config=cfg.replace(grad_clip=None), progress=False)
    assert not seen  # no clipping asked: not called


def test_resume_is_exact_with_every_new_option(tmp_path, monkeypatch, ctrl_c):
    """Ctrl-C in iteration 5 of 6 (all recipe options on), then resume: the same losses."""
    import signal
    from emseg.train import _loop
    straight = fit(_net(), _toy(), _toy(1), config=ALL_ON, output_dir=tmp_path / "a",
                   progress=False)
    original, pressed = _loop.scheduled_lr, []

    def lr(cfg, it):  # called by the loop itself (the windows come from the prefetch thread)
        if it == 4 and not pressed:  # iteration 5 (once: it is called per parameter group)
            pressed.append(it)
            signal.raise_signal(signal.SIGINT)
        return original(cfg, it)

    monkeypatch.setattr(_loop, "scheduled_lr", lr)
    with pytest.raises(KeyboardInterrupt):
        fit(_net(), _toy(), _toy(1), config=ALL_ON, output_dir=tmp_path / "b", progress=False)
    monkeypatch.undo()
    assert load_checkpoint(tmp_path / "b/checkpoints/last.pt")["iteration"] == 5
    resumed = fit(_net(), _toy(), _toy(1), config=ALL_ON, output_dir=tmp_path / "b", resume=True,
                  progress=False)
    assert resumed["loss"] == straight["loss"]  # exactly, on the CPU
    assert len(set(straight["loss"])) == 6  # (it did train)


def test_scale_trains_and_predicts_at_the_working_resolution(tmp_path):
    net = _net()
    fit(net, _toy(), config=ALL_ON, output_dir=tmp_path, progress=False)
    assert net.working_scale == (1, 2, 2)
    saved = load_checkpoint(tmp_path / "checkpoints" / "last.pt")
    assert saved["working_scale"] == [1, 2, 2] and saved["config"]["scale"] == [1, 2, 2]
    reloaded = load_model(tmp_path / "checkpoints" / "last.pt", device="cpu")
    assert reloaded.working_scale == (1, 2, 2)
    image = _toy(2, shape=(2, 37, 50)).image  # not a multiple of the factor
    probs = predict(reloaded, image, window=(16, 16), progress=False)
    assert probs.shape == (2, 2, 37, 50)
    np.testing.assert_allclose(probs.sum(0), 1, atol=1e-5)
    # the same as binning by hand, predicting natively and resampling back
    from emseg.resample import downscale, upscale_probabilities
    native = predict(reloaded, downscale(image, (1, 2, 2)), window=(16, 16), scale=1,
                     progress=False)
    back = upscale_probabilities(torch.from_numpy(native), image.shape, (1, 2, 2)).numpy()
    np.testing.assert_allclose(probs, back, atol=1e-6)
    with pytest.raises(ValueError, match="cannot bin z"):
        fit(_net(), _toy(), config=ALL_ON.replace(scale=(2, 2, 2)), progress=False)


@pytest.mark.parametrize("change, match", [
    (dict(oversample=1.5), "oversample"), (dict(optimizer="sgd"), "optimizer"),
    (dict(loss="focal"), "loss"), (dict(lr_schedule="step"), "lr_schedule"),
    (dict(warmup=-1), "warmup"), (dict(grad_clip=0.0), "grad_clip"),
    (dict(weight_decay=-1.0), "weight_decay"), (dict(scale=(0, 2)), "scale"),
    (dict(weight_floor=-0.5), "weight_floor"), (dict(class_weights=(1.0, 2.0, 3.0)), "3 values"),
])
def test_bad_recipe_settings(change, match):
    with pytest.raises(ValueError, match=match):
        fit(_net(), _toy(), config=ALL_ON.replace(**change), progress=False)


def test_resume_refuses_a_changed_recipe(tmp_path):
    fit(_net(), _toy(), config=ALL_ON.replace(iterations=2), output_dir=tmp_path, progress=False)
    for change in (dict(oversample=0.5), dict(loss="default"), dict(scale=(1, 1, 1))):
        with pytest.raises(ValueError, match="cannot resume exactly"):
            fit(_net(), _toy(), config=ALL_ON.replace(iterations=2, **change),
                output_dir=tmp_path, resume=True, progress=False)


def test_cpu_presets_use_the_modern_recipe_and_originals_do_not():
    for name, preset in PRESETS.items():
        if name.endswith("-original"):
            assert preset.config.loss == "default" and preset.config.oversample == 0
            assert preset.model_kwargs.get("norm") is None or preset.model in ("unet3d",
                                                                                "voxresnet")
        elif name.endswith("-cpu"):
            assert preset.config.loss == "dice_ce", name
            assert preset.config.oversample > 0, name
            assert preset.config.lr_schedule != "constant", name


@pytest.mark.slow
def test_the_new_unet2d_cpu_clearly_beats_the_old_one_at_the_same_iterations():
    """The platelet phantom (7 classes, organelles 2-5 % each), 300 iterations each, the same
    data, window, width and seeds: the old recipe stays near the all-"cell" solution
    (organelle MIoU 0.00-0.04 here, the new one 0.05-0.15).

    One 300-iteration run is at the mercy of its seed and of the float order that the thread
    count sets (seed 0: the new recipe 0.098 with 2 threads, 0.050 with 1), so the test reads
    seeds 0-2: the new recipe at least twice the old on each, and ahead by 0.04 on the mean
    (measured: 3.6 times or more on each seed, +0.079 on the mean with 2 threads, +0.060
    with 1)."""
    from emseg.data import load_platelet
    from emseg.metrics import segmentation_report

    train = load_platelet("train", source="phantom", shape=(6, 160, 160))
    test = load_platelet("test", source="phantom", shape=(4, 160, 160))
    scores = {"unet2d-cpu": [], "unet2d-cpu-legacy": []}
    for seed in (0, 1, 2):
        for name in scores:
            preset = PRESETS[name]
            torch.manual_seed(seed)
            net = preset.build_model(n_classes=7, width=8)
            # float32, as when this test was calibrated: its subject is the recipe. In bfloat16
            # (the default since 2026-12-05) one 300-iteration run differs by chance from the
            # float32 one (seeds 0-2: organelle MIoU 0.051/0.141/0.042 vs 0.099/0.146/0.042;
            # at 1,000 iterations within 0.01 on each seed; bench/README.md has the VNC check)
            cfg = preset.config.replace(iterations=300, window=(64, 64), eval_every=300,
                                        cpu_bf16=False, seed=seed)
            fit(net, train, config=cfg, progress=False)
            pred = predict(net, test.image, window=(64, 64), output="labels", progress=False)
            report = segmentation_report(test.labels, pred, n_classes=7,
                                         organelle_classes=(2, 3, 4, 5, 6))
            scores[name].append(report["miou_organelle"])
    new, old = np.array(scores["unet2d-cpu"]), np.array(scores["unet2d-cpu-legacy"])
    assert np.all(new > 2 * old), scores
    assert new.mean() > old.mean() + 0.04, scores


def test_a_run_saved_before_the_new_settings_still_resumes(tmp_path):
    """A checkpoint written before norm, augment.rotate and the recipe settings existed."""
    from emseg.checkpoint import save_checkpoint
    cfg = TrainConfig(iterations=4, batch_size=2, window=(16, 16), eval_every=2, lr=1e-3)
    fit(_net(None), _toy(), config=cfg.replace(iterations=2), output_dir=tmp_path,
        progress=False)
    path = tmp_path / "checkpoints" / "last.pt"
    old = load_checkpoint(path)
    del old["model_spec"]["kwargs"]["norm"]
    del old["config"]["augment"]["rotate"]
    for key in ("loss", "oversample", "optimizer", "weight_decay", "warmup", "grad_clip",
                "scale", "class_weights"):
        del old["config"][key]
    del old["working_scale"]
    save_checkpoint(old, path)
    history = fit(_net(None), _toy(), config=cfg, output_dir=tmp_path, resume=True,
                  progress=False)
    assert history["iteration"] == [1, 2, 3, 4]
    # scale given as 1 or as (1, 1, 1) is the same setting
    fit(_net(None), _toy(), config=cfg.replace(iterations=5, scale=1), output_dir=tmp_path,
        resume=True, progress=False)


def test_class_weights_where_a_loss_has_none_are_refused():
    from emseg.models import ECSNet, VoxResNet
    vol = _toy(shape=(8, 16, 16))
    cfg = TrainConfig(iterations=1, batch_size=1, window=(8, 16, 16), class_weights=(1.0, 3.0))
    torch.manual_seed(0)
    with pytest.raises(ValueError, match="needs loss='dice_ce'"):
        fit(VoxResNet(2, width=2, blocks=1), vol, config=cfg, progress=False)
    fit(VoxResNet(2, width=2, blocks=1), vol, config=cfg.replace(loss="dice_ce"), progress=False)
    with pytest.raises(ValueError, match="no class weights"):
        fit(ECSNet(2, width=4, depth=2, shape_loss=False, contrastive_weight=0.0, cascade=False),
            vol, config=cfg.replace(window=(16, 16)), progress=False)


def test_every_preset_names_its_task_and_the_cli_offers_the_label_networks():
    """The train command's --model choices come from the presets (task 'labels'), so a new
    network with a preset needs no edit of the CLI."""
    from emseg.cli import _parser
    from emseg.models import MODELS
    from emseg.train import PRESETS, TASKS, models_for_task

    assert all(p.task in TASKS and p.model in MODELS for p in PRESETS.values())
    assert models_for_task("ecs") == ["ecsnet"] and models_for_task("tracing") == ["voxresnet"]
    labels = models_for_task("labels")
    assert {"net2d3d", "unet2d", "unet3d", "reisoseg"} <= set(labels)
    train = next(a for a in _parser()._subparsers._group_actions[0].choices["train"]._actions
                 if "--model" in a.option_strings)
    assert list(train.choices) == labels
    with pytest.raises(ValueError, match="unknown task"):
        models_for_task("mitochondria")
