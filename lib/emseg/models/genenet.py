"""Convert the original TensorFlow 2D-3D+3x3x3 checkpoints into :class:`Net2D3D`.

The published nets of Guay et al. (2021) were trained with the lab's TF1 graph
builder ("genenet"); their checkpoints hold one kernel and one bias per layer
under ``<NAME>/...``, where ``<NAME>`` is ``2D3D`` when built by the examples' code
and four random words otherwise, plus Adam slots (``<var>/adam``, ``<var>/adam_1``),
``train/beta{1,2}_power`` and ``global_step``. :data:`LAYERS` maps each of our
modules to its TF scope. The converter

* finds ``<NAME>`` from the checkpoint itself;
* reads the widths (2D width, pyramid width, classes, input channels) from the
  kernel shapes and builds ``Net2D3D(faithful=True)`` with them;
* maps every kernel and bias by name, checks every shape, and refuses with one
  message listing everything missing, extra or mis-shaped;
* ignores optimizer slots (``.../kernel/<slot>``, ``.../bias/<slot>``) and the variables outside
  ``<NAME>/`` (``global_step``, ``train/...``).

Kernel layouts: TF conv3d ``[kd, kh, kw, in, out]`` and conv3d_transpose
``[kd, kh, kw, out, in]`` both become PyTorch's layout by ``transpose(4, 3, 0, 1, 2)``
(``Conv3d.weight`` is ``[out, in, ...]``, ``ConvTranspose3d.weight`` ``[in, out, ...]``);
TF's transposed convolution with kernel = stride needs no spatial flip.

Examples
--------
>>> net, info = convert_genenet("2d3d-3x3x3_0/model/checkpoints/best")   # doctest: +SKIP
>>> info["prefix"], info["global_step"], net.width                       # doctest: +SKIP
('2D3D', 41000, 64)
"""
from collections import namedtuple

import numpy as np
import torch

from emseg.models.net2d3d import Net2D3D
from emseg.tfcheckpoint import CheckpointError, checkpoint_prefix, list_variables, read_checkpoint

__all__ = ["LAYERS", "convert_genenet", "genenet_state_dict"]

_N, _D, _P = "net/encoder/", "net/decoder/", "spatialpyramid/"
#: Our module name -> TF scope below ``<NAME>/`` (each has ``/kernel`` and ``/bias``).
LAYERS = {
    "enc0.0.0": _N + "encode_block_0/comp_3dinit_0/conv",
    "enc0.1.0": _N + "encode_block_0/comp_0/conv",
    "enc0.2.0": _N + "encode_block_0/comp_1/conv",
    "enc1.0.0": _N + "encode_block_1/comp_3dinit_1/conv",
    "enc1.1.0": _N + "encode_block_1/comp_0/conv",
    "enc1.2.0": _N + "encode_block_1/comp_1/conv",
    "enc2.0.0": _N + "encode_block_2/comp_0/conv",
    "enc2.1.0": _N + "encode_block_2/comp_1/conv",
    "bottom.0.0": _D + "decode_block_3/comp_0/conv",
    "bottom.1.0": _D + "decode_block_3/comp_1/conv",
    "up2": _D + "decode_block_2/comp_0/forward/upsample_conv",
    "dec2.0.0": _D + "decode_block_2/comp_0/conv",
    "dec2.1.0": _D + "decode_block_2/comp_1/conv",
    "up1": _D + "decode_block_1/comp_3dinit_2/forward/upsample_conv",
    "dec1.0.0": _D + "decode_block_1/comp_3dinit_2/conv",
    "dec1.1.0": _D + "decode_block_1/comp_0/conv",
    "dec1.2.0": _D + "decode_block_1/comp_1/conv",
    "up0": _D + "decode_block_0/comp_3dinit_3/forward/upsample_conv",
    "dec0.0.0": _D + "decode_block_0/comp_3dinit_3/conv",
    "dec0.1.0": _D + "decode_block_0/comp_0/conv",
    "dec0.2.0": _D + "decode_block_0/comp_1/conv",
    "predictor_2d": "predictor_2d/logits",
    **{f"path0.{i}.0": _P + f"conv_block_0/comp_{i}/conv" for i in range(3)},
    **{f"path1.{i}.0": _P + f"conv_block_1/comp_{i}/conv" for i in range(5)},
    "path1.5.0": _P + "conv_block_1/path_end_1/conv",
    "path1_up": _P + "path_combine/residual_1/upsample_conv",
    "predictor_3d": "predictor_3d/logits",
}

_Plan = namedtuple("_Plan", "name weights ignored kwargs")


def _plan(variables):
    """Split a checkpoint's variables into the network's, the ignored ones and its widths."""
    names = set(variables)
    # Optimizer slots live below their variable: "<...>/kernel/adam", "<...>/bias/adam_1", ...
    slots = {n for n in names if "/kernel/" in n or "/bias/" in n}
    scoped = sorted(n for n in names - slots if "/" in n and n.endswith(("/kernel", "/bias")))
    roots = sorted({n.split("/", 1)[0] for n in scoped if n.split("/", 1)[0] != "train"})
    if len(roots) != 1:
        found = ", ".join(repr(r) for r in roots) or "none"
        raise CheckpointError(f"expected the layers of one 2D-3D network under a single name "
                              f"scope (2D3D or four random words), found scope(s) {found}")
    name = roots[0]
    weights = {n: variables[n] for n in names - slots if n.startswith(name + "/")}
    ignored = sorted(names - set(weights))

    def shape(scope, i, default=None):
        entry = variables.get(f"{name}/{scope}/kernel")
        return entry[1][i] if entry is not None and len(entry[1]) == 5 else default
    kwargs = dict(in_channels=shape(LAYERS["enc0.0.0"], 3), width=shape(LAYERS["enc0.1.0"], 4),
                  pyramid_width=shape(LAYERS["path0.0.0"], 4),
                  n_classes=shape(LAYERS["predictor_3d"], 4))
    unknown = [k for k, v in kwargs.items() if v is None]
    if unknown:
        raise CheckpointError(f"checkpoint scope {name!r} lacks the layers that give the "
                              f"network's {', '.join(unknown)}: is this a 2D-3D+3x3x3 network? "
                              f"(looked for {name}/{LAYERS['enc0.1.0']}/kernel and others)")
    return _Plan(name, weights, ignored, kwargs)


def genenet_state_dict(tensors, *, model):
    """Map TF tensors onto ``model``'s state dict, checking every name and shape.

    Parameters
    ----------
    tensors : dict
        ``{TF name: numpy array}`` of the network's kernels and biases (names
        with their ``<NAME>/`` scope, optimizer slots already left out).
    model : Net2D3D
        The network whose ``state_dict`` keys and shapes the result must match.

    Returns
    -------
    dict
        ``{parameter name: torch.Tensor}`` for ``model.load_state_dict``.

    Raises
    ------
    CheckpointError
        Listing every missing, extra and mis-shaped tensor at once.
    """
    roots = {n.split("/", 1)[0] for n in tensors}
    if len(roots) != 1:
        raise CheckpointError(f"tensors come from several scopes: {sorted(roots)}")
    root = roots.pop()
    own = model.state_dict()
    state, problems, used = {}, [], set()
    for module, scope in LAYERS.items():
        for tf_part, torch_part in (("kernel", "weight"), ("bias", "bias")):
            key, target = f"{root}/{scope}/{tf_part}", f"{module}.{torch_part}"
            if key not in tensors:
                problems.append(f"missing {key} (for {target})")
                continue
            used.add(key)
            value = np.asarray(tensors[key])
            if tf_part == "kernel":
                if value.ndim != 5:
                    problems.append(f"{key} has shape {value.shape}; a 3D conv kernel has 5 axes")
                    continue
                value = value.transpose(4, 3, 0, 1, 2)
            want = tuple(own[target].shape)
            if value.shape != want:
                tf_want = want if tf_part == "bias" else tuple(want[i] for i in (2, 3, 4, 1, 0))
                problems.append(f"{key} has shape {list(tensors[key].shape)}, expected "
                                f"{list(tf_want)} (for {target})")
                continue
            state[target] = torch.from_numpy(np.ascontiguousarray(value, dtype=np.float32))
    problems += [f"unexpected tensor {k} (no layer of Net2D3D takes it)"
                 for k in sorted(set(tensors) - used)]
    if problems:
        raise CheckpointError(f"the checkpoint does not match Net2D3D(faithful=True) "
                              f"({len(problems)} problem(s)):\n  " + "\n  ".join(problems))
    return state


def convert_genenet(path, *, device=None):
    """Load an original TF 2D-3D+3x3x3 checkpoint as a PyTorch :class:`Net2D3D`.

    Parameters
    ----------
    path : str or Path
        The checkpoint: a prefix (``model.ckpt-1234``), its ``.index`` file, or the
        folder holding it (``model/checkpoints/best`` in the published zips).
        No TensorFlow is needed.
    device : str or torch.device, optional
        Where to put the network (default: CUDA if available, else CPU).

    Returns
    -------
    model : Net2D3D
        ``Net2D3D(faithful=True)`` with the checkpoint's widths and weights, in eval
        mode. It returns ReLU'd logits, as the original did.
    info : dict
        ``prefix`` (the TF name scope), ``checkpoint`` (the file prefix read),
        ``global_step`` (or None), ``n_tensors`` (kernels and biases loaded),
        ``ignored`` (names of the optimizer and bookkeeping variables skipped).

    Raises
    ------
    FileNotFoundError
        When there is no checkpoint at ``path``.
    CheckpointError
        When the file is damaged, or its variables do not match the network
        (every missing, extra or mis-shaped tensor is listed).
    """
    from emseg.device import pick_device

    prefix = checkpoint_prefix(path)
    plan = _plan(list_variables(prefix))
    model = Net2D3D(**plan.kwargs, faithful=True)
    wanted = list(plan.weights) + (["global_step"] if "global_step" in plan.ignored else [])
    tensors = read_checkpoint(prefix, names=wanted)
    step = tensors.pop("global_step", None)
    model.load_state_dict(genenet_state_dict(tensors, model=model), strict=True)
    info = {"prefix": plan.name, "checkpoint": str(prefix),
            "global_step": None if step is None else int(step), "n_tensors": len(tensors),
            "ignored": plan.ignored}
    return model.to(pick_device(device)).eval(), info
