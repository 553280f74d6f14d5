"""emseg.bioimageio: a trained network as a BioImage Model Zoo package that validates with
bioimageio.spec, passes bioimageio.core's own test, and loads back into emseg (hashes
checked); bad packages give clear errors.

The writer and the package test need the optional extra (``.[bioimageio]``); without it
those tests skip, except where ``EMSEG_REQUIRE_BIOIMAGEIO=1`` (CI) turns the skip into a
failure. Reading a package back needs no bioimage.io library.
"""
import importlib.util
import os
import zipfile

import numpy as np
import pytest
import torch
import yaml

from emseg.checkpoint import load_model


def _installed(module):
    try:
        return importlib.util.find_spec(module) is not None
    except ModuleNotFoundError:  # the parent package (bioimageio) is missing
        return False


def _need(module):
    if not _installed(module):
        if os.environ.get("EMSEG_REQUIRE_BIOIMAGEIO") == "1":
            pytest.fail(f"{module} is missing and EMSEG_REQUIRE_BIOIMAGEIO=1 requires it")
        pytest.skip(f"{module} is not installed (python -m pip install -e \".[bioimageio]\")")


@pytest.fixture(scope="module")
def package(tmp_path_factory):
    _need("bioimageio.spec")
    from emseg.bioimageio import to_bioimageio
    from emseg.models import UNet2D

    torch.manual_seed(0)
    net = UNet2D(3, width=4, depth=2, padding="same").eval()
    net.default_window = net.trained_window = (64, 64)
    image = np.random.default_rng(0).normal(size=(80, 96)).astype(np.float32)
    path = to_bioimageio(net, tmp_path_factory.mktemp("pkg") / "net.zip", name="tiny U-Net",
                         test_image=image, class_names=["background", "cell", "mitochondrion"],
                         training_data="synthetic platelet phantom", voxel_size=(40, 10, 10))
    return net, image, path


def test_package_validates_and_passes_its_own_test(package):
    _need("bioimageio.core")
    from bioimageio.core import test_model
    from bioimageio.spec import load_description

    _, _, path = package
    descr = load_description(str(path), perform_io_checks=True)
    assert type(descr).__name__ == "ModelDescr", descr.validation_summary.format()
    assert descr.validation_summary.status in ("valid-format", "passed")
    summary = test_model(str(path))
    assert summary.status == "passed", summary.format()


def test_package_holds_what_users_need(package):
    _, _, path = package
    with zipfile.ZipFile(path) as zf:
        rdf = yaml.safe_load(zf.read("rdf.yaml"))
        names = set(zf.namelist())
    assert {"weights.pt", "weights-torchscript.pt", "test_input.npy", "test_output.npy",
            "cover.png", "README.md"} <= names
    assert rdf["format_version"].startswith("0.5.") and rdf["type"] == "model"
    channels = rdf["outputs"][0]["axes"][1]["channel_names"]
    assert channels == ["background", "cell", "mitochondrion"]
    assert [p["id"] for p in rdf["inputs"][0]["preprocessing"]].count("zero_mean_unit_variance") == 1
    assert rdf["outputs"][0]["postprocessing"][0]["id"] == "softmax"
    assert "arxiv.org/abs/1505.04597" in rdf["cite"][0]["url"]
    assert rdf["config"]["emseg"]["training_data"] == "synthetic platelet phantom"
    assert rdf["inputs"][0]["axes"][2]["size"] == {"min": 4, "step": 4}  # depth 2: steps of 4


def test_package_loads_back_into_emseg(package, tmp_path):
    from emseg.data import zscore
    from emseg.infer import predict

    net, image, path = package
    back = load_model(path, device="cpu")
    assert back.spec() == net.spec() and back.default_window == (64, 64)
    for key, value in net.state_dict().items():
        assert torch.equal(back.state_dict()[key], value), key
    a = predict(net, zscore(image), window=(64, 64), progress=False)
    b = predict(back, zscore(image), progress=False)  # its trained window by default
    np.testing.assert_array_equal(a, b)


def _rewrite(src, dst, change):
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w") as zout:
        for item in zin.infolist():
            zout.writestr(item, change(item.filename, zin.read(item.filename)))
    return dst


def test_bad_packages_are_refused_in_words(package, tmp_path):
    _, _, path = package
    tampered = _rewrite(path, tmp_path / "tampered.zip",
                        lambda n, d: d[:-8] + bytes(8) if n == "weights.pt" else d)
    with pytest.raises(ValueError, match="do not match the SHA-256"):
        load_model(tampered)

    def foreign(name, data):
        if name != "rdf.yaml":
            return data
        rdf = yaml.safe_load(data)
        rdf["config"] = {"other-tool": {}}
        return yaml.safe_dump(rdf).encode()
    with pytest.raises(ValueError, match="made by another tool"):
        load_model(_rewrite(path, tmp_path / "foreign.zip", foreign))

    def old(name, data):
        if name != "rdf.yaml":
            return data
        rdf = yaml.safe_load(data)
        rdf["format_version"] = "0.4.10"
        return yaml.safe_dump(rdf).encode()
    with pytest.raises(ValueError, match="format 0.4.10; emseg reads model packages in format 0.5"):
        load_model(_rewrite(path, tmp_path / "old.zip", old))
    plain = tmp_path / "plain.zip"
    with zipfile.ZipFile(plain, "w") as zf:
        zf.writestr("notes.txt", "hello")
    with pytest.raises(ValueError, match="not a bioimage.io package"):
        load_model(plain)


#: every other network emseg trains, tiny, with a test image of its kind
OTHER_NETS = {
    "UNet3D": (dict(width=4, depth=3, anisotropy=4.0), (32, 64, 64)),
    "Net2D3D": (dict(width=4, pyramid_width=4), (8, 40, 40)),
    "ECSNet": (dict(width=4, depth=2, proj_dim=8), (48, 48)),
    "VoxResNet": (dict(width=4, stage_width=4, blocks=1), (16, 32, 32)),
    "ReIsoSeg": (dict(features=(4, 4, 4, 4, 4), anisotropy=4), (16, 32, 32)),
}


@pytest.mark.parametrize("name", sorted(OTHER_NETS))
def test_every_network_packages_and_passes_test_model(name, tmp_path):
    """Each network's package runs at the sizes it declares (bioimageio.core tries the
    smallest size and two steps up, batch 1 and 2) and reproduces its test output; the
    package loads back into emseg with the same predictions."""
    _need("bioimageio.core")
    from bioimageio.core import test_model

    from emseg.bioimageio import to_bioimageio
    from emseg.infer import predict
    from emseg.models import build_model

    kwargs, shape = OTHER_NETS[name]
    torch.manual_seed(0)
    net = build_model(name.lower(), n_classes=2, **kwargs).eval()
    image = np.random.default_rng(0).normal(size=shape).astype(np.float32)
    path = to_bioimageio(net, tmp_path / "net.zip", name=f"tiny {name}", test_image=image)
    summary = test_model(str(path))
    assert summary.status == "passed", summary.format()
    with zipfile.ZipFile(path) as zf:
        rdf = yaml.safe_load(zf.read("rdf.yaml"))
    if name == "Net2D3D":  # any in-plane size runs, but only multiples of 8 keep the output size
        assert rdf["inputs"][0]["axes"][-1]["size"]["step"] == 8
    steps = [p["id"] for p in rdf["inputs"][0]["preprocessing"] if p["id"] != "ensure_dtype"]
    # the tracing network sees noise units (median/MAD), the others a z-score
    assert steps == (["scale_range", "scale_linear"] if name == "VoxResNet"
                     else ["zero_mean_unit_variance"])
    back = load_model(path, device="cpu")
    window = tuple(rdf["config"]["emseg"]["window"])
    np.testing.assert_array_equal(predict(net, image, window=window, progress=False),
                                  predict(back, image, window=window, progress=False))


def test_noise_units_match_the_tracing_normalisation():
    """The package form of normalize_stack (percentiles, as bioimage.io can say it) agrees
    with emseg's median/MAD form on a sparse-signal stack."""
    from emseg.bioimageio import _noise_units
    from emseg.tracing import normalize_stack

    rng = np.random.default_rng(0)
    stack = rng.normal(100, 5, (16, 64, 64))
    stack[:, 30:33, 30:33] += 60  # a bright neurite on 0.2 % of the voxels
    assert np.abs(_noise_units(stack) - normalize_stack(stack)).max() < 0.05 * np.abs(
        normalize_stack(stack)).max()
    with pytest.raises(ValueError, match="preprocessing must be one of zscore, noise"):
        from emseg.bioimageio import to_bioimageio
        from emseg.models import UNet2D
        to_bioimageio(UNet2D(2, width=2, depth=1), "x.zip", name="tiny net",
                      test_image=stack[0], preprocessing="minmax")


def test_networks_not_verified_are_refused(tmp_path, monkeypatch):
    _need("bioimageio.spec")
    from emseg import bioimageio
    from emseg.models import UNet3D

    monkeypatch.setattr(bioimageio, "EXPORTABLE", ("UNet2D",))
    with pytest.raises(ValueError, match="verified for UNet2D networks so far"):
        bioimageio.to_bioimageio(UNet3D(2, width=2, depth=1), tmp_path / "n.zip", name="a 3D net",
                                 test_image=np.zeros((16, 64, 64), np.float32))
    assert not (tmp_path / "n.zip").exists()


def test_a_trace_that_freezes_a_shape_is_refused():
    from emseg.bioimageio import _check_trace

    class Net(torch.nn.Module):  # doubles its input only at the traced width
        def __init__(self):
            super().__init__()
            self.net = torch.nn.Identity()
            self.net.in_channels = 1

        def forward(self, x):
            return x * (2 if int(x.shape[-1]) == 16 else 1)

    traced = torch.jit.trace(Net(), torch.zeros(1, 1, 16, 16))
    with pytest.raises(ValueError, match="TorchScript trace does not reproduce it"):
        _check_trace(traced, Net(), [(16, 8), (16, 8)])
    _check_trace(torch.jit.trace(Net(), torch.zeros(1, 1, 24, 24)), Net(), [(24, 8), (24, 8)])


def test_cli_exports_a_package_and_predicts_with_it(tmp_path):
    _need("bioimageio.spec")
    from emseg.cli import main
    from emseg.checkpoint import save_model
    from emseg.data import write_volume
    from emseg.models import UNet2D

    torch.manual_seed(0)
    save_model(UNet2D(2, width=2, depth=2, padding="same"), tmp_path / "net.pt")
    image = np.random.default_rng(1).normal(size=(2, 64, 64)).astype(np.float32)
    write_volume(tmp_path / "img.tif", image)
    argv = ["export", str(tmp_path / "net.pt"), "--bioimageio", str(tmp_path / "net.zip"),
            "--test-image", str(tmp_path / "img.tif"), "--class-names", "background,ECS"]
    assert main(argv) == 0
    assert main(argv) == 1  # an existing package is not replaced without --overwrite
    assert main(["predict", "--model", str(tmp_path / "net.zip"), "--input",
                 str(tmp_path / "img.tif"), "--output", str(tmp_path / "labels.tif"),
                 "--quiet", "--device", "cpu"]) == 0
    from emseg.data import read_volume
    labels = read_volume(tmp_path / "labels.tif")
    assert labels.shape == image.shape and set(np.unique(labels)) <= {0, 1}
