import json

import numpy as np
import pytest
import torch

from emseg.checkpoint import load_checkpoint, load_model
from emseg.data import Volume
from emseg.models import Net2D3D, UNet2D
from emseg.train import TrainConfig, fit


def _toy(seed=0, shape=(4, 48, 48)):
    """Two classes: bright blobs on a dark background, with noise."""
    from scipy import ndimage
    rng = np.random.default_rng(seed)
    blobs = ndimage.gaussian_filter(rng.normal(size=shape), (0.5, 3, 3)) > 0.02
    image = blobs.astype(np.float32) + rng.normal(scale=0.3, size=shape).astype(np.float32)
    return Volume(image, blobs.astype(np.uint8), np.ones(shape, np.float32), name=f"toy{seed}")


def _unet():
    torch.manual_seed(0)
    return UNet2D(2, width=4, depth=2)


CFG = TrainConfig(iterations=6, window=(60, 60), batch_size=2, eval_every=3, lr=3e-3)


def test_resume_reproduces_uninterrupted_losses(tmp_path):
    straight = fit(_unet(), _toy(), _toy(1), config=CFG, output_dir=tmp_path / "a", progress=False)
    first = fit(_unet(), _toy(), _toy(1), config=CFG.replace(iterations=4), output_dir=tmp_path / "b",
                progress=False)
    assert first["iteration"] == [1, 2, 3, 4]
    resumed = fit(_unet(), _toy(), _toy(1), config=CFG, output_dir=tmp_path / "b", resume=True,
                  progress=False)
    assert resumed["iteration"] == [1, 2, 3, 4, 5, 6]
    assert resumed["loss"] == straight["loss"]  # exactly, on the CPU
    # the interrupted run also validated when it stopped (iteration 4); the rest must agree
    at = {v["iteration"]: v["miou_all"] for v in resumed["val"]}
    assert sorted(at) == [3, 4, 6]
    assert [at[v["iteration"]] for v in straight["val"]] == [v["miou_all"] for v in straight["val"]]


def test_checkpoints_history_and_reload(tmp_path):
    model = _unet()
    history = fit(model, _toy(), _toy(1), config=CFG, output_dir=tmp_path, device="cpu",
                  progress=False)
    assert [v["iteration"] for v in history["val"]] == [3, 6]
    best = load_checkpoint(tmp_path / "checkpoints" / "best.pt")
    last = load_checkpoint(tmp_path / "checkpoints" / "last.pt")
    assert last["iteration"] == 6 and best["iteration"] in (3, 6)
    assert best["best_metric"] == max(v["miou_all"] for v in history["val"])
    on_disk = json.loads((tmp_path / "history.json").read_text())
    assert on_disk["loss"] == history["loss"]
    assert sorted(p.name for p in (tmp_path / "checkpoints").iterdir()) == ["best.pt", "last.pt"]
    reloaded = load_model(tmp_path / "checkpoints" / "last.pt", device="cpu")
    x = torch.randn(1, 1, 60, 60)
    model.cpu().eval()
    with torch.no_grad():
        assert torch.equal(reloaded(x), model(x))


def test_ctrl_c_finishes_the_iteration_saves_and_resumes_exactly(tmp_path, monkeypatch, ctrl_c):
    import signal
    from emseg.train import _sampler
    straight = fit(_unet(), _toy(), config=CFG, output_dir=tmp_path / "a", progress=False)
    calls = {"n": 0}
    original = _sampler.WindowSampler.window

    def window(self, index):
        calls["n"] += 1
        if calls["n"] == 9:  # the first window of iteration 5 (batch size 2)
            signal.raise_signal(signal.SIGINT)  # as Ctrl-C does
        return original(self, index)

    monkeypatch.setattr(_sampler.WindowSampler, "window", window)
    # windows made in the loop (prefetch=0), so that the signal comes in iteration 5
    with pytest.raises(KeyboardInterrupt):
        fit(_unet(), _toy(), config=CFG.replace(prefetch=0), output_dir=tmp_path / "b",
            progress=False)
    monkeypatch.undo()
    assert load_checkpoint(tmp_path / "b" / "checkpoints" / "last.pt")["iteration"] == 5
    # resumed with the default prefetching thread: the same batches, the same losses
    resumed = fit(_unet(), _toy(), config=CFG, output_dir=tmp_path / "b", resume=True, progress=False)
    assert CFG.prefetch > 0
    assert resumed["loss"] == straight["loss"]
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # handler restored


def test_second_ctrl_c_stops_at_once(tmp_path, monkeypatch, ctrl_c):
    import signal
    from emseg.train import _sampler
    original = _sampler.WindowSampler.window
    seen = []

    def window(self, index):
        seen.append(index)
        if len(seen) == 3:
            signal.raise_signal(signal.SIGINT)
            signal.raise_signal(signal.SIGINT)  # impatient: the second press stops now
        return original(self, index)

    monkeypatch.setattr(_sampler.WindowSampler, "window", window)
    with pytest.raises(KeyboardInterrupt):
        fit(_unet(), _toy(), config=CFG.replace(prefetch=0), output_dir=tmp_path, progress=False)
    assert len(seen) == 3  # stopped inside iteration 2, without finishing it
    assert not (tmp_path / "checkpoints" / "last.pt").exists()


def test_net2d3d_trains_with_auxiliary_loss():
    torch.manual_seed(0)
    net = Net2D3D(2, width=4, pyramid_width=4)
    cfg = TrainConfig(iterations=3, window=(3, 32, 32), eval_every=10)
    history = fit(net, _toy(), config=cfg, progress=False)
    assert len(history["loss"]) == 3
    assert all(a is not None for a in history["loss_aux"])
    for total, main, aux in zip(history["loss"], history["loss_main"], history["loss_aux"]):
        assert total == pytest.approx(main + 0.33 * aux, rel=1e-5)


def test_a_new_run_does_not_replace_an_earlier_one(tmp_path):
    fit(_unet(), _toy(), _toy(1), config=CFG, output_dir=tmp_path, progress=False)
    before = (tmp_path / "checkpoints" / "best.pt").read_bytes()
    with pytest.raises(ValueError, match="already holds a training run"):
        fit(_unet(), _toy(), config=CFG, output_dir=tmp_path, progress=False)
    assert (tmp_path / "checkpoints" / "best.pt").read_bytes() == before
    history = fit(_unet(), _toy(), config=CFG.replace(iterations=2), output_dir=tmp_path,
                  overwrite=True, progress=False)
    assert history["iteration"] == [1, 2]
    assert not (tmp_path / "checkpoints" / "best.pt").exists()  # the old run's best is gone too
    assert load_checkpoint(tmp_path / "checkpoints" / "last.pt")["iteration"] == 2


def test_resume_with_fewer_iterations_or_a_model_file_is_explained(tmp_path):
    from emseg.checkpoint import save_model
    fit(_unet(), _toy(), config=CFG.replace(iterations=4), output_dir=tmp_path / "a", progress=False)
    with pytest.raises(ValueError, match="already at iteration 4"):
        fit(_unet(), _toy(), config=CFG.replace(iterations=2), output_dir=tmp_path / "a",
            resume=True, progress=False)
    save_model(_unet(), tmp_path / "b" / "checkpoints" / "last.pt")
    with pytest.raises(ValueError, match="not a training checkpoint"):
        fit(_unet(), _toy(), config=CFG, output_dir=tmp_path / "b", resume=True, progress=False)


def test_a_list_pair_is_one_volume():
    vol = _toy()
    history = fit(_unet(), [vol.image, vol.labels], config=CFG.replace(iterations=1), progress=False)
    assert history["iteration"] == [1]


def test_resume_refuses_a_different_setup(tmp_path):
    fit(_unet(), _toy(), config=CFG.replace(iterations=2), output_dir=tmp_path, progress=False)
    with pytest.raises(ValueError, match="batch_size"):
        fit(_unet(), _toy(), config=CFG.replace(batch_size=1), output_dir=tmp_path, resume=True,
            progress=False)
    with pytest.raises(ValueError, match="lr"):
        fit(_unet(), _toy(), config=CFG.replace(lr=1e-4), output_dir=tmp_path, resume=True,
            progress=False)
    with pytest.raises(ValueError, match="checkpoint is for"):
        fit(UNet2D(2, width=8, depth=2), _toy(), config=CFG, output_dir=tmp_path, resume=True,
            progress=False)


@pytest.mark.parametrize("mutate, match", [
    (lambda v: Volume(v.image, v.labels + 2), "classes"),
    (lambda v: (v.image, v.labels[:, :10]), "does not match"),
    (lambda v: (v.image[0], v.labels[0]), "3-D"),
    (lambda v: (v.image.astype(bool), v.labels), "dtype bool"),
    (lambda v: (v.image[:0], v.labels[:0]), "empty"),
    (lambda v: [v, Volume(v.image, v.labels)], "some training volumes have error weights"),
    (lambda v: [], "train is empty"),
    (lambda v: Volume(np.where(v.image > 1.5, np.nan, v.image), v.labels), "NaN"),
    (lambda v: Volume(v.image, None), "no labels"),
    (lambda v: (v.image, v.labels, v.weights[:2]), "weights"),
])
def test_bad_training_data(mutate, match):
    with pytest.raises(ValueError, match=match):
        fit(_unet(), mutate(_toy()), config=CFG, progress=False)


def test_bad_config():
    with pytest.raises(ValueError, match="iterations"):
        fit(_unet(), _toy(), config=CFG.replace(iterations=0), progress=False)
    with pytest.raises(ValueError, match="resume"):
        fit(_unet(), _toy(), config=CFG, resume=True, progress=False)
    with pytest.raises(TypeError, match="TrainConfig"):
        fit(_unet(), _toy(), config={"iterations": 3}, progress=False)
