"""TrainConfig.cpu_bf16: bfloat16 autocast on a CPU with native bfloat16, float32 for 3D
convolutions and on CPUs without it; the precision is recorded in the checkpoint."""
import numpy as np
import pytest
import torch

from emseg.checkpoint import load_checkpoint
from emseg.data import Volume
from emseg.device import amp_dtype, cpu_bf16_supported
from emseg.models import UNet2D, UNet3D
from emseg.train import TrainConfig, fit


def _volume(seed=0, shape=(2, 32, 32)):
    rng = np.random.default_rng(seed)
    labels = (rng.random(shape) > 0.7).astype(np.uint8)
    return Volume(labels + rng.normal(0, 0.3, shape).astype(np.float32), labels)


def _fit(model, window, tmp_path, shape=(2, 32, 32), **changes):
    changes = {"lr_schedule": "constant", **changes}
    cfg = TrainConfig(iterations=3, batch_size=2, window=window, eval_every=3, lr=1e-3,
                      loss="dice_ce", **changes)
    history = fit(model, [_volume(shape=shape)], config=cfg, output_dir=tmp_path, device="cpu", progress=False)
    return history, load_checkpoint(tmp_path / "checkpoints" / "last.pt")


def test_amp_dtype_on_the_cpu_only_when_asked():
    assert amp_dtype("cpu") is None
    assert amp_dtype("cpu", cpu_bf16=True) == (torch.bfloat16 if cpu_bf16_supported() else None)


@pytest.mark.skipif(not cpu_bf16_supported(), reason="this CPU has no native bfloat16")
def test_a_2d_network_trains_in_bfloat16_and_says_so(tmp_path):
    torch.manual_seed(0)
    history, ckpt = _fit(UNet2D(2, width=4, depth=2, padding="same"), (32, 32), tmp_path, cpu_bf16=True)
    assert ckpt["precision"] == "bfloat16"
    assert all(np.isfinite(history["loss"]))
    assert next(iter(ckpt["model_state"].values())).dtype == torch.float32  # weights stay float32


def test_3d_convolutions_stay_float32(tmp_path):
    torch.manual_seed(0)
    net = UNet3D(2, width=2, depth=1, anisotropy=1.0)
    history, ckpt = _fit(net, (8, 16, 16), tmp_path, shape=(8, 32, 32), cpu_bf16=True)
    assert ckpt["precision"] == "float32" and all(np.isfinite(history["loss"]))


def test_bfloat16_by_default_where_native_and_float32_when_asked(tmp_path):
    _, ckpt = _fit(UNet2D(2, width=4, depth=2, padding="same"), (32, 32), tmp_path / "a")
    assert ckpt["precision"] == ("bfloat16" if cpu_bf16_supported() else "float32")
    _, ckpt = _fit(UNet2D(2, width=4, depth=2, padding="same"), (32, 32), tmp_path / "b",
                   cpu_bf16=False)
    assert ckpt["precision"] == "float32"


def test_a_float32_run_resumes_only_in_float32(tmp_path):
    """A run trained before bfloat16 became the default resumes with cpu_bf16=False, and
    the refusal says so."""
    torch.manual_seed(0)
    _fit(UNet2D(2, width=4, depth=2, padding="same"), (32, 32), tmp_path, cpu_bf16=False)
    cfg = TrainConfig(iterations=5, batch_size=2, window=(32, 32), eval_every=3, lr=1e-3,
                      loss="dice_ce", lr_schedule="constant")
    torch.manual_seed(0)
    net = UNet2D(2, width=4, depth=2, padding="same")
    with pytest.raises(ValueError, match="config.cpu_bf16 was False and is now True"):
        fit(net, [_volume()], config=cfg, output_dir=tmp_path, resume=True, device="cpu",
            progress=False)
