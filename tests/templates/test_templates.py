import dataclasses
import json
import typing

import numpy as np
import pytest
import tifffile

from emseg.augment import AugmentConfig
from emseg.templates import (TEMPLATES, ConfigError, TrainSection, build_from_config, dump_config,
                          load_config, predict_from_config, read_folder_pair, template_path,
                          train_from_config)
from emseg.models import window_geometry
from emseg.train import TrainConfig


pytestmark = pytest.mark.usefixtures("one_thread")


def _write(path, text):
    path.write_text(text)
    return path


MINIMAL = """\
[data]
folder = "data"

[model]
name = "unet3d"
"""


# --------------------------------------------------------------------------- templates

@pytest.mark.parametrize("name, cls, window", [
    ("unet2d", "UNet2D", (1, 572, 572)),
    ("unet3d", "UNet3D", (32, 128, 128)),
    ("reisoseg", "ReIsoSeg", (32, 128, 128)),
    ("net2d3d", "Net2D3D", (5, 300, 300)),
])
def test_templates_build_their_network_with_a_window_that_fits(name, cls, window):
    config = load_config(name)
    assert config.path == template_path(name) and name in TEMPLATES
    model, train_config = build_from_config(config)
    assert type(model).__name__ == cls
    assert window_geometry(model, train_config.window).input == window
    assert config.train.output == f"runs/{name}" and config.train.augment is True


def test_template_recipes():
    unet2d = build_from_config(load_config("unet2d"))[1]
    assert unet2d.iterations == 36000 and unet2d.lr == pytest.approx(10 ** -3.3)
    reiso_model, reiso = build_from_config(load_config("reisoseg"))
    assert reiso.iterations == 600 * 250 and reiso_model.alpha == 0.5
    assert reiso_model.features == (28, 36, 48, 64, 80)
    net2d3d = build_from_config(load_config("net2d3d"))[1]
    assert net2d3d.aux_weight == 0.33 and net2d3d.spacing == (2, 100, 100)


def test_dump_and_load_round_trip(tmp_path):
    config = load_config("reisoseg").override({"model": {"pools": [[2, 2, 2], [1, 2, 2],
                                                                     [1, 2, 2], [2, 2, 2]],
                                                         "anisotropy": None}})
    text = dump_config(config, tmp_path / "copy.toml")
    assert 'name = "reisoseg"' in text and "pools = [[2, 2, 2], [1, 2, 2]" in text
    again = load_config(tmp_path / "copy.toml")
    assert again.data == config.data and again.train == config.train
    assert again.model.options["pools"] == [[2, 2, 2], [1, 2, 2], [1, 2, 2], [2, 2, 2]]
    assert build_from_config(again)[0].pools == ((2, 2, 2), (1, 2, 2), (1, 2, 2), (2, 2, 2))


# --------------------------------------------------------------------------- config errors

@pytest.mark.parametrize("extra, match", [
    ("[train]\niteratons = 5\n",
     r"line 8: unknown key 'iteratons' in \[train\] \(did you mean 'iterations'\?\)"),
    ("[train]\niterations = \"5\"\n", r"line 8: train.iterations must be an integer, got '5'"),
    ("[train]\nwindow = 32\n", r"line 8: train.window must be a list of int"),
    ("[train]\nwindow = [32, 1.5]\n", r"train.window\[1\] must be an integer"),
    ("[train]\namp = 1\n", r"train.amp must be true or false"),
    ("[trian]\n", r"line 7: unknown section \[trian\] \(did you mean 'train'\?\)"),
    ("[predict]\noverlap = \"a lot\"\n", r"predict.overlap must be a number"),
    ("[data]\n", r"invalid TOML"),  # [data] twice
])
def test_config_errors_name_the_key_and_line(tmp_path, extra, match):
    path = _write(tmp_path / "bad.toml", MINIMAL + "\n" + extra)
    with pytest.raises(ConfigError, match=match) as info:
        load_config(path)
    assert str(path) in str(info.value)


def test_data_section_checks(tmp_path):
    with pytest.raises(ConfigError, match=r"\[data\] folder is required"):
        load_config(_write(tmp_path / "a.toml", "[model]\nname = 'unet3d'\n"))
    with pytest.raises(ConfigError, match="line 3: data.label_values must list 2 distinct"):
        load_config(_write(tmp_path / "b.toml", "[data]\nfolder = 'x'\nlabel_values = [0]\n"))
    with pytest.raises(ConfigError, match="n_classes belongs in"):
        load_config(_write(tmp_path / "c.toml", MINIMAL + "n_classes = 3\n"))
    with pytest.raises(ConfigError, match=r"\[model\] name is required"):
        load_config(_write(tmp_path / "d.toml", "[data]\nfolder = 'x'\n"))
    with pytest.raises(ConfigError, match="data.validation must be one of"):
        load_config(_write(tmp_path / "e.toml", MINIMAL.replace(
            'folder = "data"', 'folder = "data"\nvalidation = "eval"')))
    with pytest.raises(ConfigError, match="line 1: iterations = ... must be inside a section"):
        load_config(_write(tmp_path / "f.toml", "iterations = 5\n" + MINIMAL))
    with pytest.raises(FileNotFoundError, match="template_path"):
        load_config(tmp_path / "missing.toml")


def test_model_option_errors(tmp_path):
    config = load_config(_write(tmp_path / "a.toml", MINIMAL + "widht = 8\n"))
    with pytest.raises(ConfigError, match=r"line 6: \[model\] option 'widht' is not an option "
                                          r"of UNet3D \(did you mean 'width'\?\)"):
        build_from_config(config)
    config = load_config(_write(tmp_path / "b.toml", MINIMAL + "norm = 'layer'\n"))
    with pytest.raises(ConfigError, match="UNet3D: norm must be one of"):
        build_from_config(config)
    config = load_config(_write(tmp_path / "c.toml", MINIMAL.replace("unet3d", "unet4d")))
    with pytest.raises(ConfigError, match="unknown model 'unet4d'"):
        build_from_config(config)


def test_preset_is_the_starting_point(tmp_path):
    text = "[data]\nfolder = 'x'\nn_classes = 2\n[train]\npreset = 'unet2d-cpu'\niterations = 7\n"
    model, cfg = build_from_config(load_config(_write(tmp_path / "p.toml", text)))
    assert type(model).__name__ == "UNet2D" and model.width == 16 and model.padding == "same"
    assert cfg.iterations == 7 and cfg.window == (128, 128)
    assert cfg.organelle_classes is None  # the platelet organelles do not apply to 2 classes


def test_override_is_checked():
    config = load_config("unet3d")
    assert config.override({"train": {"iterations": 3}}).train.iterations == 3
    with pytest.raises(ConfigError, match="train.iterations must be an integer"):
        config.override({"train": {"iterations": 2.5}})


# --------------------------------------------------------------------------- [train] = TrainConfig

# values for the TrainConfig fields whose default is None (any other field gets a value
# other than its default, from the default): a new None-default field needs one here
SAMPLES = {"grad_clip": 1.5, "window": (16, 32, 32), "spacing": (1, 8, 8), "scale": 2,
           "class_weights": (1.0, 2.0), "organelle_classes": (1,)}


def _other_value(f):
    """A valid value of a TrainConfig field that differs from its default."""
    if f.name in SAMPLES:
        return SAMPLES[f.name]
    default = f.default if f.default is not dataclasses.MISSING else f.default_factory()
    assert default is not None, f"TrainConfig.{f.name}: add a sample value to SAMPLES"
    choices = f.metadata["choices"]
    if choices:
        return next(c for c in choices if c != default)
    if isinstance(default, AugmentConfig):
        return AugmentConfig(elastic=False, flips=False)
    if isinstance(default, bool):
        return not default
    if isinstance(default, int):
        return default + 3
    if isinstance(default, float):
        return default * 0.5 + 0.1
    if isinstance(default, tuple):
        return tuple(v * 0.5 for v in default)
    raise AssertionError(f"TrainConfig.{f.name}: no test value for {default!r}")


def _toml(value):
    """``value`` as TOML text (tuples as lists, AugmentConfig as an inline table)."""
    if isinstance(value, AugmentConfig):
        return "{" + ", ".join(f"{k} = {_toml(v)}" for k, v in dataclasses.asdict(value).items()) + "}"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, (tuple, list)):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    return json.dumps(value)


SMALL = MINIMAL + "width = 4\ndepth = 2\n\n[train]\n"  # a quick network; [train] at line 9


def test_every_train_setting_is_a_train_key(tmp_path):
    """Each TrainConfig field is a [train] key with its help and choices, and setting it in
    a file changes exactly that field of the TrainConfig that build_from_config makes."""
    keys = {f.name: f for f in dataclasses.fields(TrainSection)}
    hints = typing.get_type_hints(TrainSection)
    assert [k for k in keys if k not in {f.name for f in dataclasses.fields(TrainConfig)}] == \
        ["output", "preset", "resume", "overwrite"]
    for f in dataclasses.fields(TrainConfig):
        assert f.name in keys, f"TrainConfig.{f.name} is not a [train] key"
        key = keys[f.name]
        assert key.metadata["help"] == f.metadata["help"]
        assert key.metadata["choices"] == f.metadata["choices"]
        assert key.default == (0 if f.name == "seed" else None)  # None: keep the preset's
        assert f.name == "seed" or type(None) in typing.get_args(hints[f.name])
        value = _other_value(f)
        path = _write(tmp_path / f"{f.name}.toml", SMALL + f"{f.name} = {_toml(value)}\n")
        config = load_config(path)
        assert config.lines[("train", f.name)] == 10
        built = build_from_config(config)[1]
        assert built == TrainConfig().replace(**{f.name: value}), f.name
        again = load_config(_write(tmp_path / "again.toml", dump_config(config)))
        assert again.train == config.train, f.name  # dump_config writes it back


def test_new_train_keys_build_the_train_config(tmp_path):
    text = SMALL + ('loss = "dice_ce"\noversample = 0.33\nbetas = [0.9, 0.999]\nscale = 2\n'
                    'augment = {elastic = false}\nlr_schedule = "poly"\noptimizer = "adamw"\n')
    config = load_config(_write(tmp_path / "new.toml", text))
    assert config.train.augment == {"elastic": False}  # the keys given, checked
    model, train_config = build_from_config(config)
    assert train_config == TrainConfig(loss="dice_ce", oversample=0.33, betas=(0.9, 0.999),
                                       scale=2, augment=AugmentConfig(elastic=False),
                                       lr_schedule="poly", optimizer="adamw")
    text = dump_config(config)
    assert "augment = {elastic = false}" in text and "scale = 2\n" in text
    again = load_config(_write(tmp_path / "again.toml", text))
    assert again.train == config.train and build_from_config(again)[1] == train_config
    # scale as a list; augment true/false as before; an override with a table
    config = load_config(_write(tmp_path / "list.toml", SMALL + "scale = [1, 2, 2]\naugment = false\n"))
    assert build_from_config(config)[1].scale == (1, 2, 2)
    assert build_from_config(config)[1].augment is None
    changed = config.override(["train.augment={flips = false}"])
    assert build_from_config(changed)[1].augment == AugmentConfig(flips=False)
    assert build_from_config(config.override({"train": {"augment": True}}))[1].augment == \
        AugmentConfig()


def test_augment_changes_the_presets_augmentation_field_by_field(tmp_path):
    from emseg.train import PRESETS
    modern = PRESETS["unet2d-cpu"].config.augment  # no elastic warp, quarter turns
    base = SMALL.replace("[train]", '[train]\npreset = "unet2d-cpu"')
    table = load_config(_write(tmp_path / "a.toml", base + "augment = {flips = false}\n"))
    got = build_from_config(table)[1].augment
    assert got == AugmentConfig(**{**dataclasses.asdict(modern), "flips": False})
    assert got.rotate and not got.elastic  # the preset's other fields stay
    on = load_config(_write(tmp_path / "b.toml", base + "augment = true\n"))
    assert build_from_config(on)[1].augment == modern  # true keeps the preset's
    # the same for the command line: --augment keeps the preset's augmentation
    from emseg.cli import _parser
    from emseg.cli.train import _train_config
    args = _parser().parse_args(["train", "--model", "unet2d", "--output", str(tmp_path / "r"),
                                 "--augment"])
    assert _train_config(args)[1].augment == modern


@pytest.mark.parametrize("extra, match", [
    ('lr_schedule = "step"', r"line 10: train.lr_schedule must be one of 'constant', 'cosine', "
                             r"'poly', got 'step'"),
    ('optimizer = "sgd"', r"line 10: train.optimizer must be one of 'adam', 'adamw'"),
    ('loss = "dice"', r"line 10: train.loss must be one of 'default', 'dice_ce'"),
    ("scale = -2", r"line 10: train.scale must be a positive integer .in-plane binning."),
    ("scale = [1, 0, 2]", r"line 10: train.scale must be a positive integer"),
    ("scale = 1.5", r"line 10: train.scale must be an integer, or a list of integers"),
    ("augment = {elastik = false}", r"line 10: unknown key 'elastik' in train.augment \(did you "
                                    r"mean 'elastic'\?\); the keys of train.augment "
                                    r"\(AugmentConfig\) are elastic, elastic_grid, elastic_sigma"),
    ("augment = {flips = 1}", r"line 10: train.augment.flips must be true or false, got 1"),
    ("augment = 1", r"line 10: train.augment must be true or false, or a table of "
                    r"emseg.augment.AugmentConfig keys \(elastic, "),
    ("betas = [0.9]", r"line 10: train.betas must be a list of 2 numbers"),
    ("class_weights = [1, \"a\"]", r"line 10: train.class_weights\[1\] must be a number"),
    ("warmpu = 5", r"line 10: unknown key 'warmpu' in \[train\] \(did you mean 'warmup'\?\)"),
])
def test_bad_train_values_name_the_key(tmp_path, extra, match):
    path = _write(tmp_path / "bad.toml", SMALL + extra + "\n")
    with pytest.raises(ConfigError, match=match) as info:
        load_config(path)
    assert str(path) in str(info.value)


@pytest.mark.parametrize("extra, match", [
    ("oversample = 1.5", r"line 10: train.oversample must be a fraction in \[0, 1\]"),
    ("grad_clip = -1.0", r"line 10: train.grad_clip must be positive"),
    ("warmup = -1", r"line 10: train.warmup must be a number of iterations >= 0"),
    ("iterations = 0", r"line 10: train.iterations must be a positive integer"),
])
def test_out_of_range_train_values_fail_when_built(tmp_path, extra, match):
    """Checked as emseg.train.fit checks them, when the config is built (before any data)."""
    config = load_config(_write(tmp_path / "range.toml", SMALL + extra + "\n"))
    with pytest.raises(ConfigError, match=match):
        build_from_config(config)


def test_a_2d_network_cannot_bin_z(tmp_path):
    text = MINIMAL.replace("unet3d", "unet2d") + "width = 4\ndepth = 2\n\n[train]\nscale = [2, 1, 1]\n"
    config = load_config(_write(tmp_path / "s.toml", text))  # valid for a 3D network
    with pytest.raises(ConfigError, match=r"line 10: train.scale: a 2D network sees one section"):
        build_from_config(config)
    assert build_from_config(config.override(["train.scale=[1, 2, 2]"]))[1].scale == (1, 2, 2)


# --------------------------------------------------------------------------- data folders

def _pngs(folder, stack):
    from skimage.io import imsave
    folder.mkdir(parents=True)
    for k, section in enumerate(stack):
        imsave(folder / f"s{k}.png", section, check_contrast=False)


def test_png_sections_form_one_stack_in_natural_order(tmp_path):
    rng = np.random.default_rng(0)
    image = rng.integers(0, 255, (11, 8, 12), dtype=np.uint8)
    labels = (image > 128).astype(np.uint8) * 255
    _pngs(tmp_path / "x", image)
    _pngs(tmp_path / "y", labels)
    (vol,) = read_folder_pair(tmp_path / "x", tmp_path / "y", label_values=[0, 255])
    assert vol.shape == (11, 8, 12) and vol.name == "x"
    np.testing.assert_array_equal(vol.labels, image > 128)  # s10 after s9, not after s1
    assert vol.image.dtype == np.float32 and abs(float(vol.image.mean())) < 1e-5


def test_tiff_volumes_pair_by_name(tmp_path):
    (tmp_path / "x").mkdir()
    (tmp_path / "y").mkdir()
    for name, z in (("b", 3), ("a", 2)):
        _tif(tmp_path / "x" / f"{name}.tif", np.full((z, 4, 5), z, np.float32) + np.arange(5))
        _tif(tmp_path / "y" / f"{name}.tiff", np.full((z, 4, 5), z - 2, np.uint16))
    vols = read_folder_pair(tmp_path / "x", tmp_path / "y")
    assert [(v.name, v.shape, int(v.labels.max())) for v in vols] == [("a", (2, 4, 5), 0),
                                                                       ("b", (3, 4, 5), 1)]
    (images_only,) = read_folder_pair(tmp_path / "x")[:1]
    assert images_only.labels is None


@pytest.mark.parametrize("make, match", [
    (lambda x, y: None, "holds no .tif/.tiff/.png files .it is empty."),
    (lambda x, y: (x / "notes.txt").write_text("hi"), r"holds no .* \(found notes.txt\)"),
    (lambda x, y: _two(x, y, y_shape=(2, 4, 6)), r"image a.tif has shape \(2, 4, 5\) but labels "
                                                 r"a.tif have \(2, 4, 6\)"),
    (lambda x, y: _two(x, y, labels=np.full((2, 4, 5), 0.5, np.float32)),
     r"labels a.tif hold non-integer values \(e.g. 0.5\)"),
    (lambda x, y: _two(x, y, extra_x=True), "has 2 image files but .* has 1 label files"),
    (lambda x, y: _two(x, y, labels=np.full((2, 4, 5), 7, np.uint8), values=[0, 255]),
     r"values \[7\] that are not in data.label_values \[0, 255\]"),
])
def test_folder_errors(tmp_path, make, match):
    x, y = tmp_path / "x", tmp_path / "y"
    x.mkdir()
    y.mkdir()
    values = make(x, y)
    with pytest.raises(ValueError, match=match):
        read_folder_pair(x, y, label_values=values)


def _tif(path, array):
    tifffile.imwrite(path, array, photometric="minisblack")


def _two(x, y, *, y_shape=(2, 4, 5), labels=None, extra_x=False, values=None):
    _tif(x / "a.tif", np.arange(40, dtype=np.float32).reshape(2, 4, 5))
    if extra_x:
        _tif(x / "b.tif", np.arange(40, dtype=np.float32).reshape(2, 4, 5))
    _tif(y / "a.tif", np.zeros(y_shape, np.uint8) if labels is None else labels)
    return values


def test_missing_folder_and_colour_png(tmp_path):
    with pytest.raises(ValueError, match="does not exist .expected layout"):
        read_folder_pair(tmp_path / "nope", tmp_path / "nope")
    from skimage.io import imsave
    (tmp_path / "x").mkdir()
    rgb = np.zeros((4, 4, 3), np.uint8)
    rgb[..., 0] = 200
    imsave(tmp_path / "x" / "a.png", rgb, check_contrast=False)
    with pytest.raises(ValueError, match=r"a.png has shape \(4, 4, 3\), expected a 2D grayscale"):
        read_folder_pair(tmp_path / "x")


def test_folder_pair_reads_grey_stored_as_rgb_and_pairs_by_name(tmp_path):
    """The templates' reader and read_image_label_folder agree (one reader): grey saved as
    RGB is grey, and labels pair with their images by file name, never by order."""
    from skimage.io import imsave

    from emseg.data.io import read_image_label_folder
    for sub in ("images", "labels"):
        (tmp_path / sub).mkdir()
    grey = np.arange(16, dtype=np.uint8).reshape(4, 4) * 10
    imsave(tmp_path / "images" / "a.png", np.stack([grey] * 3, -1), check_contrast=False)
    imsave(tmp_path / "labels" / "a.png", (grey > 80).astype(np.uint8), check_contrast=False)
    ours = read_folder_pair(tmp_path / "images", tmp_path / "labels")
    theirs = read_image_label_folder(tmp_path)
    np.testing.assert_array_equal(ours[0].image, theirs[0].image)
    np.testing.assert_array_equal(ours[0].labels, theirs[0].labels)
    (tmp_path / "labels" / "a.png").rename(tmp_path / "labels" / "a_mask.png")
    with pytest.raises(ValueError, match="paired by file name: no label for a.png in .*labels; no image for label.s. a_mask.png"):
        read_folder_pair(tmp_path / "images", tmp_path / "labels")


# --------------------------------------------------------------------------- end to end

def _dataset(root, layout=("images", "labels")):
    """train: two TIFF volumes; test: one; labels 0/255 masks of bright blobs."""
    rng = np.random.default_rng(0)
    for split, names in (("train", ("v1", "v2")), ("test", ("t1",))):
        for name in names:
            labels = np.zeros((4, 32, 32), np.uint8)
            for _ in range(4):
                cy, cx = rng.integers(4, 28, 2)
                labels[:, cy - 3:cy + 3, cx - 3:cx + 3] = 255
            image = (labels / 255 + 0.3 * rng.normal(size=labels.shape)).astype(np.float32)
            for sub, arr in zip(layout, (image, labels)):
                (root / split / sub).mkdir(parents=True, exist_ok=True)
                _tif(root / split / sub / f"{name}.tif", arr)


E2E = """\
[data]
folder = "data"
n_classes = 2
label_values = [0, 255]
validation = "test"

[model]
name = "{name}"
{options}

[train]
output = "runs/{name}"
iterations = 4
batch_size = 1
window = [4, 32, 32]
eval_every = 2
augment = false
amp = false

[predict]
window = [4, 32, 32]
probabilities = true
"""


@pytest.mark.parametrize("name, options", [
    ("unet3d", "width = 4\ndepth = 2\nanisotropy = 4.0"),
    ("reisoseg", "features = [4, 4, 8, 8, 8]\nanisotropy = 4.0"),
])
def test_train_and_predict_from_config(tmp_path, name, options):
    _dataset(tmp_path / "data")
    path = _write(tmp_path / "run.toml", E2E.format(name=name, options=options))
    result = train_from_config(path, device="cpu", progress=False)
    run = tmp_path / "runs" / name
    assert result["output"] == run and result["checkpoint"] == run / "checkpoints" / "best.pt"
    for f in ("checkpoints/best.pt", "checkpoints/last.pt", "history.json", "metrics.json",
              "training-curve.png", "config.toml"):
        assert (run / f).is_file(), f
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["iterations"] == 4 and metrics["validation_split"] == "test"
    assert 0 <= metrics["best_validation"]["miou_all"] <= 1
    assert metrics["train_volumes"] == {"v1": [4, 32, 32], "v2": [4, 32, 32]}
    copy = load_config(run / "config.toml")  # the run's config, with absolute paths
    assert copy.resolve(copy.data.folder) == tmp_path / "data"

    out = predict_from_config(path, device="cpu", progress=False)
    pred_dir = run / "predictions"
    assert out["predictions"] == {"t1": pred_dir / "t1-prediction.tif"}
    pred = tifffile.imread(pred_dir / "t1-prediction.tif")
    assert pred.shape == (4, 32, 32) and pred.dtype == np.uint8 and pred.max() <= 1
    assert tifffile.imread(pred_dir / "t1-probabilities.tif").shape == (2, 4, 32, 32)
    report = json.loads((pred_dir / "metrics.json").read_text())
    assert report["volumes"]["t1"]["voxels"] == report["overall"]["voxels"]
    assert sum(report["overall"]["voxels"]) == 4 * 32 * 32

    with pytest.raises(ValueError, match="already holds a training run"):
        train_from_config(path, device="cpu", progress=False)


def test_the_old_x_y_layout_is_read_with_a_warning(tmp_path):
    from emseg.data.io import read_image_label_folder

    _dataset(tmp_path / "data", layout=("x", "y"))
    path = _write(tmp_path / "run.toml", E2E.format(name="unet3d", options="width = 4\ndepth = 2")
                  .replace("iterations = 4", "iterations = 1"))
    with pytest.warns(FutureWarning, match="rename them to images/ and labels/"):
        result = train_from_config(path, device="cpu", progress=False)
    assert result["checkpoint"].is_file()
    with pytest.warns(FutureWarning, match="x/ and y/ are the old names"):
        vols = read_image_label_folder(tmp_path / "data" / "train")  # the ECS reader too
    assert sorted(v.name for v in vols) == ["v1", "v2"]


def test_label_values_must_fit_n_classes(tmp_path):
    _dataset(tmp_path / "data")
    text = E2E.format(name="unet3d", options="width = 4\ndepth = 2").replace(
        "label_values = [0, 255]\n", "")
    with pytest.raises(ConfigError, match=r"go up to 255, but data.n_classes = 2: set n_classes "
                                          r"or list the raw values in data.label_values"):
        train_from_config(_write(tmp_path / "run.toml", text), device="cpu", progress=False)


def test_predict_without_a_checkpoint(tmp_path):
    path = _write(tmp_path / "run.toml", E2E.format(name="unet3d", options=""))
    with pytest.raises(FileNotFoundError, match="train first"):
        predict_from_config(path, device="cpu", progress=False)


def test_old_module_name_still_works_and_warns():
    import importlib
    import sys

    import emseg.templates

    sys.modules.pop("emseg.config", None)
    with pytest.warns(DeprecationWarning, match="emseg.templates"):
        old = importlib.import_module("emseg.config")
    assert old.train_from_config is emseg.templates.train_from_config
    assert set(old.__all__) == set(emseg.templates.__all__)
