"""Share a trained network as a BioImage Model Zoo (bioimage.io) package.

:func:`to_bioimageio` writes a model package in the bioimage.io 0.5 format: TorchScript
weights (which run without emseg, in bioimage.io's tools and the GUI tools that read
them) and PyTorch state-dict weights (whose architecture is emseg's, importable with
``emseg`` installed), a test input/output pair made by emseg's own :func:`emseg.infer.predict`,
a cover image, the class names, the input's preprocessing (a z-score or noise units, as
in training) and the output's postprocessing (softmax over the classes), citations and what the
network was trained on. :func:`emseg.checkpoint.load_model` reads such a package back
(checking the weights' SHA-256).

The writer needs the optional extra: ``python -m pip install -e ".[bioimageio]"``
(``bioimageio.spec``; ``bioimageio.core`` runs the package's own test).

What was checked here: the package validates with ``bioimageio.spec`` and passes
``bioimageio.core``'s ``test_model`` on a CPU; the GUI tools (Fiji/deepImageJ, ilastik,
BiaPy) were not run.
"""
import tempfile
import warnings
from pathlib import Path

import numpy as np
import torch
from torch import nn

from emseg.atomic import atomic_path, check_output

__all__ = ["to_bioimageio", "PackagedNet", "CITATIONS", "EXPORTABLE", "PREPROCESSING"]

#: The input normalisations a package can carry, in words.
PREPROCESSING = {
    "zscore": "z-scored per image (mean 0, sd 1)",
    "noise": "in noise units per image, (x - p50) / (1.4826 (p75 - p50)), the median/MAD "
             "normalisation of emseg.tracing.normalize_stack for symmetric background noise",
}

#: The networks whose packages pass bioimageio.core's test_model (tests/test_bioimageio.py
#: exports and tests each): every network emseg trains.
EXPORTABLE = ("UNet2D", "UNet3D", "Net2D3D", "ECSNet", "VoxResNet", "ReIsoSeg")

#: The paper of each network, cited in its package: (text, DOI or None, URL or None).
CITATIONS = {
    "unet2d": ("Ronneberger O., Fischer P., Brox T. U-Net: convolutional networks for biomedical "
               "image segmentation. MICCAI 2015", None, "https://arxiv.org/abs/1505.04597"),
    "net2d3d": ("Guay M. D. et al. Dense cellular segmentation for EM using 2D-3D neural network "
                "ensembles. Scientific Reports 11:2561 (2021)", "10.1038/s41598-021-81590-0", None),
    "unet3d": ("Cicek O. et al. 3D U-Net: learning dense volumetric segmentation from sparse "
               "annotation. MICCAI 2016", None, "https://arxiv.org/abs/1606.06650"),
    "reisoseg": ("Guo et al. ReIsoSeg. IEEE Transactions on Medical Imaging (2024)",
                 "10.1109/TMI.2024.3511599", None),
    "voxresnet": ("Huang Q. et al. Automated neuron tracing using content-aware adaptive voxel "
                  "scooping on CNN predicted probability map. Front. Neuroanat. 15:712842 (2021)",
                  "10.3389/fnana.2021.712842", None),
    "ecsnet": ("Yang et al. ECS-Net. Expert Systems with Applications 270:126370 (2025)",
               "10.1016/j.eswa.2024.126370", None),
}


class PackagedNet(nn.Module):
    """An emseg network as a bioimage.io package runs it: ``forward`` returns the main
    logits only (no auxiliary outputs).

    Parameters
    ----------
    name : str
        The network's registry name (``model.spec()["name"]``).
    kwargs : dict
        Its constructor arguments (``model.spec()["kwargs"]``).
    """

    def __init__(self, name, kwargs):
        super().__init__()
        from emseg.models import build_model

        self.net = build_model(name, **kwargs)

    def forward(self, x):
        return self.net.predict_logits(x)


def _axis_sizes(model, window, axis):
    """(min, step) of the input sizes ``model`` accepts along one spatial axis of
    ``window`` (the other axes as in ``window``), counting only the sizes whose output
    keeps the smallest size's margin (output minus input): bioimage.io describes an output
    size as the input size plus a fixed offset (``Net2D3D`` accepts any in-plane size but
    only multiples of 8 keep it). Step 0 when only one size fits."""
    fits, margin = [], None
    for s in range(1, max(window) * 2 + 1):
        shape = list(window)
        shape[axis] = s
        try:
            out = model.output_window(tuple(shape))[0][axis]
        except ValueError:
            continue
        if margin is None:
            margin = out - s
        elif out - s != margin:
            continue
        fits.append(s)
        if len(fits) == 2:
            break
    if not fits:
        raise ValueError(f"no input size fits the network along axis {axis}")
    return fits[0], (fits[1] - fits[0]) if len(fits) == 2 else 0


def _package_sizes(model, window):
    """(min, step) per spatial axis of ``window``, with the smallest sizes raised (by whole
    steps) until the network runs at all of them at once: bioimage.io's tools try every
    axis at its minimum together, where e.g. an instance norm at a 1-voxel bottleneck
    fails."""
    sizes = [list(_axis_sizes(model, window, k)) for k in range(len(window))]
    if not any(step for _, step in sizes):
        return [tuple(s) for s in sizes]
    channels = getattr(model, "in_channels", 1)
    device = next(model.parameters()).device
    was_training = model.training
    model.eval()
    try:
        for _ in range(8):
            shape = (1, channels) + tuple(lo for lo, _ in sizes)
            try:
                with torch.no_grad():
                    model.predict_logits(torch.zeros(shape, device=device))
                break
            except (RuntimeError, ValueError):
                for entry in sizes:
                    entry[0] += entry[1]
        else:
            raise ValueError(f"the network does not run at its smallest windows "
                             f"({tuple(lo for lo, _ in sizes)})")
    finally:
        model.train(was_training)
    return [tuple(s) for s in sizes]


def _check_trace(traced, net, sizes):
    """Refuse a TorchScript trace that does not reproduce the network at another window
    size than the one it was traced at (a Python branch on the shape would be frozen)."""
    shape = (1, net.net.in_channels) + tuple(lo + step for lo, step in sizes)
    x = torch.randn(shape, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        want, got = net(x), traced(x)
    if want.shape != got.shape or not torch.allclose(want, got, atol=1e-4, rtol=1e-3):
        raise ValueError(f"the network's TorchScript trace does not reproduce it at window "
                         f"{shape[2:]} (a shape-dependent step was frozen); it cannot be packaged")


def _fit_window(model, window, shape):
    """``window``, or where the image is smaller, the largest window the network accepts
    that fits in ``shape`` (per axis)."""
    fitted = []
    for k, (w, s) in enumerate(zip(window, shape)):
        lo, step = _axis_sizes(model, window, k)
        if s < lo:
            raise ValueError(f"the test image ({tuple(shape)}) is smaller than the network's "
                             f"smallest window along axis {k} ({lo})")
        fitted.append(w if w <= s else (lo + (s - lo) // step * step if step else lo))
    return tuple(fitted)


def _require_spec():
    try:
        import bioimageio.spec  # noqa: F401
    except ImportError:
        raise ImportError("exporting a bioimage.io package needs bioimageio.spec: "
                          "python -m pip install -e \".[bioimageio]\"") from None


def to_bioimageio(model, path, *, name, test_image, class_names=None, description=None,
                  authors=("emseg user",), training_data="not stated", license="CC-BY-4.0",
                  voxel_size=None, preprocessing=None, overwrite=False):
    """Write ``model`` as a bioimage.io model package (a zip); returns its path.

    Parameters
    ----------
    model : SegmentationNet
        A trained emseg network (e.g. ``load_model("run/checkpoints/best.pt")``), working
        at its native resolution (``working_scale`` 1).
    path : str or Path
        The ``.zip`` to write.
    name : str
        The package's name (e.g. ``"platelet 2D U-Net"``).
    test_image : ndarray
        An image of your data, (y, x) for a 2D network or (z, y, x) (a 2D network takes
        its middle slice). The package's test input is its first window (z-scored): the
        network's window, or where the image is smaller the largest window that fits; the
        test output is emseg's prediction of it.
    class_names : sequence of str, optional
        The output channels' names (default ``class 0``, ``class 1``, ...).
    description : str, optional
        One paragraph on what the network segments (default: made from the name).
    authors : sequence of str
        Who trained it.
    training_data : str
        What it was trained on, in words; say whether the data were real or synthetic.
    license : str
        SPDX identifier of the weights' licence.
    voxel_size : tuple of float, optional
        (z, y, x) or (y, x) in nm of the data it was trained on.
    preprocessing : {"zscore", "noise"}, optional
        How the network's input was normalised in training, written into the package so
        that the tools running it do the same: ``"zscore"`` (mean 0, sd 1 per image;
        :func:`emseg.data.zscore`, the segmentation examples) or ``"noise"`` (noise units,
        :func:`emseg.tracing.normalize_stack`, the tracing example). Default: what emseg's
        workflow for the network uses (``"noise"`` for VoxResNet, else ``"zscore"``).
        bioimage.io has no median/MAD step, so ``"noise"`` is written as
        ``(x - p50) / (p75 - p50) / 1.4826`` (percentiles per image), which equals
        ``(x - median) / (1.4826 MAD)`` when the background noise is symmetric; the
        package's test input is then the raw crop.
    overwrite : bool
        Replace an existing ``path``.

    Returns
    -------
    Path

    Raises
    ------
    ValueError
        For a network the package format cannot describe here (not in
        :data:`EXPORTABLE`, or a working scale other than 1), a test image smaller than
        the network's smallest window, or an existing ``path``.
    ImportError
        When ``bioimageio.spec`` is not installed.
    """
    path = Path(path)
    if path.suffix != ".zip":
        raise ValueError(f"{path}: a bioimage.io package is a .zip file")
    if not isinstance(name, str) or not 5 <= len(name.strip()) <= 128:
        raise ValueError(f"name must be 5 to 128 characters (bioimage.io's rule), got {name!r}")
    if preprocessing is None:
        preprocessing = "noise" if model.spec()["name"] == "VoxResNet" else "zscore"
    if preprocessing not in PREPROCESSING:
        raise ValueError(f"preprocessing must be one of {', '.join(PREPROCESSING)}, got "
                         f"{preprocessing!r}")
    check_output(path, overwrite=overwrite)
    with warnings.catch_warnings():
        # trio (under bioimageio's HTTP stack) warns inside Jupyter that it leaves
        # IPython's exception handler alone: nothing for the user to act on
        warnings.filterwarnings("ignore", message="IPython detected", category=RuntimeWarning)
        return _write(model, path, name=name, test_image=test_image, class_names=class_names,
                      description=description, authors=authors, training_data=training_data,
                      license=license, voxel_size=voxel_size, preprocessing=preprocessing)


def _write(model, path, *, name, test_image, class_names, description, authors, training_data,
           license, voxel_size, preprocessing):
    """The body of :func:`to_bioimageio`, its arguments checked."""
    _require_spec()
    from bioimageio.spec import save_bioimageio_package
    from bioimageio.spec.model import v0_5 as spec

    from emseg import __version__
    from emseg.data import zscore
    from emseg.infer import predict
    from emseg.models import window_geometry

    if tuple(getattr(model, "working_scale", (1, 1, 1))) not in ((1, 1, 1), (1, 1)):
        raise ValueError(f"the network works at scale {model.working_scale} (it bins its input); "
                         f"bioimage.io packages run networks at the image's resolution: export "
                         f"a network trained at scale 1")
    info = model.spec()
    if info["name"] not in EXPORTABLE:
        raise ValueError(f"bioimage.io export is verified for {', '.join(EXPORTABLE)} networks so "
                         f"far; a {info['name']} package does not yet pass bioimage.io's own test "
                         f"(its sizes or its TorchScript trace), so it is refused")
    geom = window_geometry(model)
    ndim = model.window_ndim
    window = tuple(geom.input[1:]) if ndim == 2 else tuple(geom.input)
    image = np.asarray(test_image, dtype=np.float32)
    if image.ndim == 3 and ndim == 2:
        image = image[image.shape[0] // 2]
    if image.ndim != ndim:
        raise ValueError(f"test_image must be {'(y, x)' if ndim == 2 else '(z, y, x)'}; got shape "
                         f"{image.shape}")
    window = _fit_window(model, window, image.shape)
    geom = window_geometry(model, window)
    sizes = _package_sizes(model, window)
    raw = image[tuple(slice(0, w) for w in window)]
    crop = zscore(raw) if preprocessing == "zscore" else _noise_units(raw)
    probs = predict(model, crop, window=window, output="probabilities", device="cpu",
                    precision="float32", progress=False)  # as the package's consumers run it
    out_window = tuple(geom.output[1:]) if ndim == 2 else tuple(geom.output)
    offset = tuple((w - o) // 2 for w, o in zip(window, out_window))
    # the test input is what the package's preprocessing turns into ``crop``
    test_in = (crop if preprocessing == "zscore" else raw)[None, None].astype(np.float32)
    test_out = probs[(slice(None),) + tuple(slice(f, f + o) for f, o in zip(offset, out_window))]
    test_out = test_out[None].astype(np.float32)

    packaged = PackagedNet(info["name"], info["kwargs"]).eval()
    packaged.net.load_state_dict(model.state_dict())
    names = list(class_names) if class_names is not None else [
        f"class {c}" for c in range(model.n_classes)]
    if len(names) != model.n_classes:
        raise ValueError(f"class_names has {len(names)} names for {model.n_classes} classes")
    axes_ids = ["y", "x"] if ndim == 2 else ["z", "y", "x"]
    scale = list(voxel_size)[-ndim:] if voxel_size is not None else [1.0] * ndim
    unit = "nanometer" if voxel_size is not None else None

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        np.save(tmp / "test_input.npy", test_in)
        np.save(tmp / "test_output.npy", test_out)
        torch.save(packaged.state_dict(), tmp / "weights.pt")
        with torch.no_grad(), warnings.catch_warnings():
            # shape checks inside forward become constants in the trace; _check_trace
            # verifies the trace at another size instead of warning about it
            warnings.simplefilter("ignore", torch.jit.TracerWarning)
            traced = torch.jit.trace(packaged, torch.from_numpy(test_in))
        _check_trace(traced, packaged, sizes)
        traced.save(str(tmp / "weights-torchscript.pt"))
        _cover(crop, test_out[0], tmp / "cover.png", ndim)
        (tmp / "README.md").write_text(_readme(name, info, names, training_data, window,
                                               __version__, preprocessing))

        in_axes = [spec.BatchAxis(), spec.ChannelAxis(channel_names=[spec.Identifier("raw")])]
        out_axes = [spec.BatchAxis(), spec.ChannelAxis(
            channel_names=[spec.Identifier(_identifier(n)) for n in names])]
        for k, ((lo, step), a) in enumerate(zip(sizes, axes_ids)):
            size = spec.ParameterizedSize(min=lo, step=step) if step else lo
            in_axes.append(spec.SpaceInputAxis(id=spec.AxisId(a), size=size, scale=scale[k],
                                               **({"unit": unit} if unit else {})))
            out_axes.append(spec.SpaceOutputAxis(
                id=spec.AxisId(a), scale=scale[k], **({"unit": unit} if unit else {}),
                size=spec.SizeReference(tensor_id=spec.TensorId("raw"), axis_id=spec.AxisId(a),
                                        offset=out_window[k] - window[k])))
        try:
            descr = _describe(spec, tmp, info=info, names=names, ndim=ndim, axes_ids=axes_ids,
                              name=name, description=description, authors=authors,
                              license=license, in_axes=in_axes, out_axes=out_axes,
                              window=window, training_data=training_data, version=__version__,
                              preprocessing=preprocessing)
        except Exception as exc:  # pydantic's ValidationError: say which field, in one line
            raise ValueError(f"the package description is not valid: "
                             f"{' '.join(str(exc).split())[:400]}") from None
        with atomic_path(path) as partial:
            save_bioimageio_package(descr, output_path=partial)
    return path


def _describe(spec, tmp, *, info, names, ndim, axes_ids, name, description, authors, license,
              in_axes, out_axes, window, training_data, version, preprocessing):
    """The package's ModelDescr (files from the folder ``tmp``)."""
    return spec.ModelDescr(
        name=name,
        description=description or f"{name}: {info['name']} network trained with emseg "
                                   f"to segment {len(names)} classes ({', '.join(names)}).",
        covers=[spec.FileDescr(source=tmp / "cover.png")],
        authors=[spec.Author(name=a) for a in authors],
        cite=[_cite(spec, info["name"])],
        license=spec.LicenseId(license),
        documentation=spec.FileDescr(source=tmp / "README.md"),
        tags=["segmentation", "electron-microscopy", "emseg", f"{ndim}d"],
        inputs=[spec.InputTensorDescr(
            id=spec.TensorId("raw"), axes=in_axes,
            test_tensor=spec.FileDescr(source=tmp / "test_input.npy"),
            preprocessing=_preprocessing(spec, preprocessing, axes_ids))],
        outputs=[spec.OutputTensorDescr(
            id=spec.TensorId("probabilities"), axes=out_axes,
            test_tensor=spec.FileDescr(source=tmp / "test_output.npy"),
            postprocessing=[spec.SoftmaxDescr(
                kwargs=spec.SoftmaxKwargs(axis=spec.AxisId("channel")))])],
        weights=spec.WeightsDescr(
            pytorch_state_dict=spec.PytorchStateDictWeightsDescr(
                source=tmp / "weights.pt",
                pytorch_version=spec.Version(torch.__version__.split("+")[0]),
                architecture=spec.ArchitectureFromLibraryDescr(
                    callable=spec.Identifier("PackagedNet"), import_from="emseg.bioimageio",
                    kwargs={"name": info["name"], "kwargs": info["kwargs"]})),
            torchscript=spec.TorchscriptWeightsDescr(
                source=tmp / "weights-torchscript.pt", parent="pytorch_state_dict",
                pytorch_version=spec.Version(torch.__version__.split("+")[0]))),
        config={"emseg": {"version": version, "model_spec": info,
                          "class_names": names, "window": list(window),
                          "preprocessing": PREPROCESSING[preprocessing],
                          "training_data": training_data}},
    )


def _noise_units(image):
    """``(x - p50) / (p75 - p50 + 1e-6) / 1.4826`` per image: the package's form of
    :func:`emseg.tracing.normalize_stack` (bioimage.io's scale_range then scale_linear)."""
    lo, hi = np.percentile(image, (50, 75))
    return ((image - lo) / (hi - lo + 1e-6) / 1.4826).astype(np.float32)


def _preprocessing(spec, kind, axes_ids):
    axes = [spec.AxisId(a) for a in axes_ids]
    if kind == "zscore":
        return [spec.ZeroMeanUnitVarianceDescr(kwargs=spec.ZeroMeanUnitVarianceKwargs(axes=axes))]
    return [spec.ScaleRangeDescr(kwargs=spec.ScaleRangeKwargs(axes=axes, min_percentile=50,
                                                              max_percentile=75, eps=1e-6)),
            spec.ScaleLinearDescr(kwargs=spec.ScaleLinearKwargs(gain=1 / 1.4826, offset=0.0))]


def _cite(spec, name):
    if name.lower() not in CITATIONS:
        raise ValueError(f"no citation known for a {name} network; add it to "
                         f"emseg.bioimageio.CITATIONS")
    text, doi, url = CITATIONS[name.lower()]
    return spec.CiteEntry(text=text, **({"doi": spec.Doi(doi)} if doi else {"url": url}))


def _identifier(text):
    """A channel name as bioimage.io identifiers want it (letters, digits, _)."""
    out = "".join(c if c.isalnum() else "_" for c in str(text)).strip("_") or "class"
    return out if out[0].isalpha() else f"c_{out}"


def _cover(image, probs, target, ndim):
    """The package's cover: the test input and its predicted labels side by side."""
    from emseg.plot import plot_prediction

    labels = probs.argmax(0)
    vol = image[None] if ndim == 2 else image
    lab = labels[None] if ndim == 2 else labels
    if vol.shape != lab.shape:  # a valid network's output is smaller: centre the input crop
        off = [(a - b) // 2 for a, b in zip(vol.shape, lab.shape)]
        vol = vol[tuple(slice(o, o + s) for o, s in zip(off, lab.shape))]
    plot_prediction(vol, None, lab, target, n_classes=probs.shape[0], title="test input and prediction")


def _readme(name, info, names, training_data, window, version, preprocessing="zscore"):
    return (f"# {name}\n\nA {info['name']} network ({info['kwargs']}) trained with emseg "
            f"{version}.\n\n- Classes: {', '.join(names)}\n- Trained on: {training_data}\n"
            f"- Window it was trained and tested with: {window}\n- Input: one grey channel, "
            f"{PREPROCESSING[preprocessing]} (the preprocessing does it); output: class probabilities "
            f"(softmax).\n\nVerified with bioimageio.spec (validation) and bioimageio.core "
            f"(`test_model`) on a CPU. Not verified here: running it in Fiji/deepImageJ, "
            f"ilastik or BiaPy.\n")
