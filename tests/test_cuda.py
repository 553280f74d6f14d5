"""CUDA checks, run on a lent GPU machine by ``bench/gpu_check.sh`` (``pytest -m cuda``):
the same network predicts the same labels on the GPU (mixed precision) as on the CPU,
and a short training run with AMP on the GPU writes checkpoints that load on the CPU.
Without CUDA every test here skips, saying so."""
import numpy as np
import pytest
import torch

pytestmark = [pytest.mark.cuda,
              pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")]


def _volume(seed=0):
    rng = np.random.default_rng(seed)
    image = rng.normal(size=(4, 96, 96)).astype(np.float32)
    return image, (image > 0.3).astype(np.uint8)


def test_gpu_predictions_agree_with_the_cpu():
    from emseg.infer import predict
    from emseg.models import Net2D3D, UNet2D

    image, _ = _volume()
    for net, window in ((UNet2D(3, width=8, depth=3, padding="same"), (64, 64)),
                        (Net2D3D(3, width=8, pyramid_width=8), (5, 64, 64))):
        torch.manual_seed(0)
        net.eval()
        cpu = predict(net, image, window=window, output="probabilities", device="cpu",
                      progress=False)
        gpu = predict(net, image, window=window, output="probabilities", device="cuda",
                      progress=False)
        assert np.abs(cpu - gpu).max() < 2e-2  # float16 autocast on the GPU
        assert (cpu.argmax(0) == gpu.argmax(0)).mean() >= 0.995


def test_amp_training_on_the_gpu_writes_checkpoints_the_cpu_loads(tmp_path):
    from emseg.checkpoint import load_model
    from emseg.models import UNet2D
    from emseg.train import TrainConfig, fit

    image, labels = _volume(1)
    torch.manual_seed(0)
    net = UNet2D(2, width=8, depth=3, padding="same")
    cfg = TrainConfig(window=(64, 64), batch_size=2, iterations=6, eval_every=3, augment=None,
                      amp=True)
    history = fit(net, (image, labels), (image, labels), config=cfg, output_dir=tmp_path,
                  device="cuda", progress=False)
    assert len(history["loss"]) == 6 and np.all(np.isfinite(history["loss"]))
    back = load_model(tmp_path / "checkpoints" / "last.pt", device="cpu")
    assert next(back.parameters()).device.type == "cpu"
