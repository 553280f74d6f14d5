"""Device choice and mixed precision.

``device=None`` everywhere in emseg means :func:`pick_device`: the first CUDA
GPU when PyTorch sees one, else the CPU. Mixed precision (bfloat16 where the GPU
supports it, else float16) is used on CUDA. On a CPU, training uses bfloat16 only when
asked (``cpu_bf16=True``, e.g. ``TrainConfig.cpu_bf16``) and inference by default
(``precision="auto"``, :func:`inference_dtype`), both only where the CPU runs bfloat16
natively (:func:`cpu_bf16_supported`); elsewhere bfloat16 is emulated and slower than
float32.
"""
import contextlib

import torch

__all__ = ["pick_device", "autocast", "amp_dtype", "inference_dtype", "inference_precision",
           "cpu_bf16_supported", "channels_last", "describe", "PRECISIONS"]

PRECISIONS = ("auto", "float32", "bfloat16", "float16")


def pick_device(device=None):
    """Return a :class:`torch.device`: ``device`` if given, else CUDA if available, else CPU.

    Parameters
    ----------
    device : str or torch.device, optional
        ``"cpu"``, ``"cuda"``, ``"cuda:1"``, ... or ``None`` / ``"auto"`` to choose.
    """
    if device is None or device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError, ValueError):
        raise ValueError(f"device {device!r} is not a device name; use None (auto), 'cpu', "
                         f"'cuda' or 'cuda:N'") from None
    if dev.type not in ("cpu", "cuda", "mps"):
        raise ValueError(f"device {device!r}: emseg runs on 'cpu' or 'cuda' ('cuda:N'), not "
                         f"{dev.type!r}; use None to choose automatically")
    if dev.type == "mps" and not torch.backends.mps.is_available():
        raise ValueError(f"device {device!r} was requested but PyTorch sees no Apple GPU; "
                         "use device=None (auto) or 'cpu'")
    if dev.type == "cuda" and dev.index is not None and torch.cuda.is_available() \
            and dev.index >= torch.cuda.device_count():
        raise ValueError(f"device {device!r}: PyTorch sees {torch.cuda.device_count()} CUDA "
                         f"GPU(s) (cuda:0 ... cuda:{torch.cuda.device_count() - 1})")
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device {device!r} was requested but PyTorch sees no CUDA GPU; "
                         "use device=None (auto) or 'cpu'")
    return dev


def cpu_bf16_supported():
    """Whether this CPU computes in bfloat16 natively (AVX-512 BF16 or AMX), as oneDNN
    (PyTorch's CPU kernels) reports it. Without it bfloat16 is emulated and slower."""
    try:
        return bool(torch.backends.mkldnn.is_available()
                    and torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):
        return False


def amp_dtype(device, *, cpu_bf16=False):
    """The autocast dtype used on ``device`` (``None`` means full float32).

    CUDA: bfloat16 where the GPU supports it, else float16. CPU: bfloat16 when
    ``cpu_bf16`` and :func:`cpu_bf16_supported`, else None.
    """
    device = torch.device(device)
    if device.type == "cuda":
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    if device.type == "cpu" and cpu_bf16 and cpu_bf16_supported():
        return torch.bfloat16
    return None


def inference_dtype(device, precision="auto"):
    """The autocast dtype of inference on ``device`` (``None``: float32 throughout).

    Parameters
    ----------
    device : str or torch.device
        Where the network runs.
    precision : {'auto', 'float32', 'bfloat16', 'float16'}
        ``'auto'``: CUDA as :func:`amp_dtype`; a CPU bfloat16 where it computes bfloat16
        natively (:func:`cpu_bf16_supported`), else float32. The others ask for one
        precision: ``'bfloat16'`` needs native support on a CPU, ``'float16'`` a GPU.

    Returns
    -------
    torch.dtype or None

    Raises
    ------
    ValueError
        For an unknown precision, or one this device cannot run (saying what to use).
    """
    if precision not in PRECISIONS:
        raise ValueError(f"unknown precision {precision!r}; choose one of {PRECISIONS}")
    device = torch.device(device)
    if precision == "float32":
        return None
    if precision == "auto":
        return amp_dtype(device, cpu_bf16=True)
    if device.type == "cpu" and precision == "bfloat16" and not cpu_bf16_supported():
        raise ValueError("precision='bfloat16': this CPU has no native bfloat16 (AVX-512 BF16 or "
                         "AMX), where it would be slower than float32; use 'auto' or 'float32'")
    if device.type != "cuda" and precision == "float16":
        raise ValueError(f"precision='float16' runs on a CUDA GPU, not on {device.type!r}; use "
                         "'auto' (bfloat16 where the CPU has it) or 'float32'")
    return getattr(torch, precision)


def inference_precision(device, precision="auto"):
    """The name of the arithmetic :func:`emseg.infer.predict` uses on ``device``:
    ``'float32'``, ``'bfloat16'`` or ``'float16'`` (``precision`` as in
    :func:`inference_dtype`), for reports and results tables.

    Examples
    --------
    >>> inference_precision("cpu", "float32")
    'float32'
    """
    dtype = inference_dtype(device, precision)
    return "float32" if dtype is None else str(dtype).removeprefix("torch.")


def autocast(device, enabled=True, *, cpu_bf16=False):
    """A context manager: mixed precision where :func:`amp_dtype` gives a dtype, else a no-op."""
    dtype = amp_dtype(device, cpu_bf16=cpu_bf16)
    if not enabled or dtype is None:
        return contextlib.nullcontext()
    return torch.autocast(device_type=torch.device(device).type, dtype=dtype)


def channels_last(model):
    """Store the 4D and 5D weights and buffers of ``model`` channels-last, in place.

    Convolutions then compute in that layout (``torch.channels_last``, and
    ``torch.channels_last_3d`` for 5D weights), which oneDNN runs faster on CPUs for
    the 2D and 2D-3D nets (bench/README.md). The Parameter objects stay the same (an
    optimizer holding them is unaffected); only their storage changes.

    Parameters
    ----------
    model : torch.nn.Module
        The network.

    Returns
    -------
    list of (torch.Tensor, torch.Tensor)
        Each changed tensor with its previous data, to put back with ``t.data = data``.
    """
    changed = []
    with torch.inference_mode(False):  # also when called inside inference mode
        for t in list(model.parameters()) + list(model.buffers()):
            if t.dim() not in (4, 5):
                continue
            fmt = torch.channels_last if t.dim() == 4 else torch.channels_last_3d
            if not t.data.is_contiguous(memory_format=fmt):
                changed.append((t, t.data))
                t.data = t.data.contiguous(memory_format=fmt)
    return changed


def describe(device):
    """A human-readable name of the device, e.g. ``'cpu (2 threads)'`` or the GPU's name."""
    device = torch.device(device)
    if device.type == "cuda":
        return f"cuda ({torch.cuda.get_device_name(device)})"
    return f"cpu ({torch.get_num_threads()} threads)"
