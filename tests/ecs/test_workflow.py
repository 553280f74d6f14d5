"""ECS workflows: train a variant through the one loop, predict, evaluate, segment a folder."""
import numpy as np
import pytest
import tifffile
import torch

from emseg.data import Volume, ecs_phantom
from emseg.ecs import (ecs_preset, evaluate_ecs, predict_ecs, segment_ecs, train_ecs,
                                with_shape_weights)
from emseg.models.ecsnet import ECSNet

TINY = dict(width=4, depth=2, proj_dim=8)


pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def data():
    return ecs_phantom((2, 128, 128), seed=0), ecs_phantom((1, 128, 128), seed=1)


def test_presets():
    cpu, original = ecs_preset("cpu"), ecs_preset("original")
    assert cpu.model == original.model == "ecsnet" and cpu.config.window == (128, 128)
    assert original.config.window == (512, 512) and original.config.lr == 0.01
    assert original.config.betas == (0.5, 0.999) and original.config.batch_size == 8
    assert original.build_model(n_classes=2).width == 32
    with pytest.raises(ValueError, match="unknown ECS-Net preset 'gpu'"):
        ecs_preset("gpu")


@pytest.mark.parametrize("variant, stages", [("unet", 1), ("ecsnet", 2)])
def test_train_a_variant_returns_its_best_checkpoint(tmp_path, data, variant, stages):
    train, val = data
    assert train.weights is None          # shape weights are made when the variant needs them
    model, history = train_ecs(train, val, variant=variant, iterations=2, output_dir=tmp_path,
                               device="cpu", **TINY)
    assert isinstance(model, ECSNet) and (model.stage2 is not None) == (stages == 2)
    assert len(history["loss"]) == 2 and np.all(np.isfinite(history["loss"]))
    assert (history["loss_aux"][0] is None) == (stages == 1)
    assert history["val"][-1]["iteration"] == 2 and history["seconds_total"] > 0
    assert (tmp_path / "checkpoints" / "best.pt").is_file()


def test_config_changes_reach_the_run(tmp_path, data):
    from emseg.checkpoint import load_checkpoint

    train, val = data
    train_ecs(train, val, variant="unet", iterations=2, output_dir=tmp_path, device="cpu",
              config_changes={"cpu_bf16": False, "lr": 1e-4}, **TINY)
    ckpt = load_checkpoint(tmp_path / "checkpoints" / "last.pt")
    assert ckpt["precision"] == "float32" and ckpt["config"]["lr"] == 1e-4
    assert ckpt["config"]["cpu_bf16"] is False


def test_shape_weights_are_added_once(data):
    train, _ = data
    (weighted,) = with_shape_weights(train)
    assert weighted.weights.shape == train.image.shape and weighted.weights.max() > 0
    (again,) = with_shape_weights(weighted)
    assert again.weights is weighted.weights


def test_train_rejects_bad_input(data):
    train, val = data
    with pytest.raises(ValueError, match="unknown variant 'full'"):
        train_ecs(train, val, variant="full", iterations=1)
    small = ecs_phantom((1, 64, 64), seed=3)
    with pytest.raises(ValueError, match="64x64 pixels, smaller than one 128x128 training window"):
        train_ecs(small, iterations=1, **TINY)
    bad = Volume(train.image, train.labels * 2)
    with pytest.raises(ValueError, match="binary"):
        train_ecs(bad, iterations=1, **TINY)
    with pytest.raises(ValueError, match="no labels"):
        train_ecs(Volume(train.image), iterations=1, **TINY)


def test_predict_and_evaluate(data):
    _, val = data
    torch.manual_seed(0)
    net = ECSNet(**TINY)
    prob = predict_ecs(net, val.image, window=(64, 64), device="cpu")
    assert prob.shape == val.image.shape and prob.dtype == np.float32
    assert 0 <= prob.min() and prob.max() <= 1
    scores = evaluate_ecs(val.labels, prob, voxel_size=val.voxel_size)
    by_hand = evaluate_ecs(val.labels, (prob > 0.5).astype(np.uint8), voxel_size=val.voxel_size)
    assert scores["iou"] == by_hand["iou"] and "hd95_nm" in scores
    perfect = evaluate_ecs(val.labels, val.labels.astype(np.float32))
    assert perfect["dice"] == 1.0 and perfect["hd95_px"] == 0.0
    with pytest.raises(ValueError, match="does not match"):
        evaluate_ecs(val.labels, prob[:, :64])
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        evaluate_ecs(val.labels, prob * 3)


def test_segment_a_folder_writes_result_tiffs(tmp_path):
    torch.manual_seed(0)
    net = ECSNet(**TINY)
    src = tmp_path / "sections"
    src.mkdir()
    tifffile.imwrite(src / "a.tif", np.random.default_rng(0).integers(0, 255, (40, 56), np.uint8))
    tifffile.imwrite(src / "b.tif", np.random.default_rng(1).normal(size=(2, 32, 32)).astype(np.float32),
                     photometric="minisblack")
    done = segment_ecs(net, src, tmp_path / "result", window=(32, 32), device="cpu")
    assert [d["name"] for d in done] == ["a", "b"]
    p = tifffile.imread(tmp_path / "result" / "a_probability.tif")
    lab = tifffile.imread(tmp_path / "result" / "a_labels.tif")
    assert p.shape == lab.shape == (40, 56) and p.dtype == np.float32 and lab.dtype == np.uint8
    np.testing.assert_array_equal(lab, (p > 0.5).astype(np.uint8))
    assert tifffile.imread(tmp_path / "result" / "b_labels.tif").shape == (2, 32, 32)
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(ValueError, match="holds no"):
        segment_ecs(net, empty, tmp_path / "r2")
    with pytest.raises(FileNotFoundError, match="does not exist"):
        segment_ecs(net, tmp_path / "nope", tmp_path / "r3")
    tifffile.imwrite(src / "a.tiff", np.zeros((40, 56), np.uint8))  # a second "a"
    with pytest.raises(ValueError, match="share the name 'a'"):
        segment_ecs(net, src, tmp_path / "r4", window=(32, 32), device="cpu")
    assert not (tmp_path / "r4").exists()


def test_ecs_mask_reads_probabilities_and_masks_one_way():
    from emseg.ecs import ecs_mask

    def read(values, **kw):
        return ecs_mask(np.array([values]), **kw).tolist()[0]

    assert read([0.2, 0.5, 0.51]) == [False, False, True]
    assert read([0.2, 0.9], threshold=0.1) == [True, True]
    assert read(np.array([0, 1], np.uint8)) == [False, True]
    assert read(np.array([0, 255], np.uint8)) == [False, True]
    assert read([0.0, 1.0]) == [False, True]  # a float 0/1 mask
    with pytest.raises(ValueError, match="my.tif holds floats outside"):
        read([0.2, 1.5], name="my.tif")
    with pytest.raises(ValueError, match="label x.tif is not a binary mask: it holds the values 0, 1, 2"):
        read([0, 1, 2], name="x.tif")
    with pytest.raises(ValueError, match="must be 2-D or 3-D"):
        ecs_mask(np.array([0.2, 0.7]))
