"""emseg.device.pick_device: device strings checked in words."""
import pytest
import torch

from emseg.device import pick_device


def test_auto_and_cpu():
    assert pick_device(None).type in ("cpu", "cuda")
    assert pick_device("cpu") == torch.device("cpu")


@pytest.mark.parametrize("bad, message", [("banana", "not a device name"),
                                          ("xla", "emseg runs on 'cpu' or 'cuda'"),
                                          (3.5, "not a device name")])
def test_bad_device_names_are_explained(bad, message):
    with pytest.raises(ValueError, match=message):
        pick_device(bad)


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the message on a machine without CUDA")
def test_cuda_without_a_gpu_is_explained():
    with pytest.raises(ValueError, match="sees no CUDA GPU"):
        pick_device("cuda:1")


def test_inference_precision_names_the_arithmetic_predict_uses():
    from emseg.device import cpu_bf16_supported, inference_precision

    assert inference_precision("cpu", "float32") == "float32"
    assert inference_precision("cpu") == ("bfloat16" if cpu_bf16_supported() else "float32")
    with pytest.raises(ValueError, match="float16"):
        inference_precision("cpu", "float16")
