"""ECSNet: the reference's parameter counts, the cascade, outputs per mode, tiled prediction."""
import numpy as np
import pytest
import torch

from emseg.infer import predict
from emseg.models import count_parameters, window_geometry
from emseg.models.ecsnet import ContrastiveHeads, ECSNet, ECSOutput, _Stage


pytestmark = pytest.mark.usefixtures("one_thread")


def tiny(**kwargs):
    torch.manual_seed(0)
    return ECSNet(width=4, depth=2, proj_dim=8, **kwargs)


def test_parameter_counts_match_the_reference():
    # reference sheet: stage 1 (3-channel input) 8.638 M, stage 2 (32-channel input)
    # 8.647 M, projector 5,344, predictor 33,280
    assert round(count_parameters(_Stage(3, 32, 4)) / 1e6, 3) == 8.638
    assert round(count_parameters(_Stage(32, 32, 4)) / 1e6, 3) == 8.647
    heads = ContrastiveHeads(32, 128)
    assert count_parameters(heads.projector) == 5_344
    assert count_parameters(heads.predictor) == 33_280
    net = ECSNet()  # grayscale: 2 input channels x 32 x 9 weights fewer than the RGB original
    assert count_parameters(net) == (count_parameters(_Stage(3, 32, 4)) - 2 * 32 * 9
                                     + count_parameters(_Stage(32, 32, 4)) + 5_344 + 33_280)


def test_training_output_shapes_and_eval_two_class_logits():
    net = tiny().train()
    out = net(torch.randn(2, 1, 16, 24))
    assert isinstance(out, ECSOutput)
    assert out.logits.shape == out.aux_logits.shape == (2, 1, 16, 24)
    assert out.embedding.shape == (2, 4, 16, 24)
    net.eval()
    x = torch.randn(2, 1, 16, 24)
    two = net(x)
    assert two.shape == (2, 2, 16, 24)
    assert torch.all(two[:, 0] == 0)
    # softmax over [0, l] is exactly [1 - sigmoid(l), sigmoid(l)]
    torch.testing.assert_close(torch.softmax(two, 1)[:, 1], torch.sigmoid(two[:, 1]))
    torch.testing.assert_close(net.predict_logits(x), two)


def test_stage_two_reads_stage_one_embedding_not_its_prediction():
    net = tiny().train()
    assert net.stage2.down[0][0].in_channels == net.width      # takes the embedding
    x = torch.randn(1, 1, 16, 16)
    out = net(x)
    # the final logits depend on stage 1's weights through the embedding ...
    out.logits.sum().backward()
    assert net.stage1.down[0][0].weight.grad.abs().sum() > 0
    assert net.stage1.pred.weight.grad is None                 # ... but not via its logit
    # and changing stage 2 leaves stage 1's outputs unchanged
    with torch.no_grad():
        for p in net.stage2.parameters():
            p.add_(1.0)
    again = net(x)
    torch.testing.assert_close(again.aux_logits, out.aux_logits)
    assert not torch.allclose(again.logits, out.logits)


def test_window_geometry_is_same_padded_2d():
    net = tiny()
    geo = window_geometry(net, (64, 48))
    assert (geo.input, geo.output, geo.offset) == ((1, 64, 48), (1, 64, 48), (0, 0, 0))
    assert window_geometry(ECSNet(width=4)).input == (1, 512, 512)
    with pytest.raises(ValueError, match="multiples of 4"):
        net.output_window((30, 32))
    with pytest.raises(ValueError, match="multiples of 4"):
        net(torch.zeros(1, 1, 30, 32))
    with pytest.raises(ValueError, match=r"\(N, 1, y, x\)"):
        net(torch.zeros(1, 3, 32, 32))


@pytest.mark.parametrize("kwargs, match", [
    (dict(n_classes=3), "n_classes must be 2"), (dict(width=0), "width"),
    (dict(depth=1.5), "depth"), (dict(proj_dim=-1), "proj_dim"), (dict(in_channels=0), "in_channels"),
])
def test_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        ECSNet(**kwargs)


def test_spec_rebuilds_the_same_network():
    net = tiny()
    spec = net.spec()
    assert spec["name"] == "ECSNet"
    again = ECSNet(**spec["kwargs"])
    again.load_state_dict(net.state_dict())   # same layers, same shapes
    assert count_parameters(again) == count_parameters(net)


def test_tiled_prediction_of_a_volume_is_the_stage_two_sigmoid():
    net = tiny().eval()
    rng = np.random.default_rng(0)
    vol = rng.standard_normal((3, 32, 32)).astype(np.float32)
    # one window per slice, no overlap: predict must reproduce sigmoid(stage-2 logit)
    probs = predict(net, vol, window=(32, 32), blending="constant", device="cpu",
                    precision="float32", progress=False)
    assert probs.shape == (2, 3, 32, 32)
    with torch.no_grad():
        logit = net.stage2(net.stage1(torch.from_numpy(vol)[:, None])[1])[0][:, 0]
    np.testing.assert_allclose(probs[1], torch.sigmoid(logit).numpy(), atol=1e-5)
    np.testing.assert_allclose(probs.sum(0), 1.0, atol=1e-5)
    # a volume that is not a multiple of the window, and labels
    odd = rng.standard_normal((2, 40, 52)).astype(np.float32)
    labels = predict(net, odd, window=(16, 16), output="labels", device="cpu", progress=False)
    assert labels.shape == (2, 40, 52) and set(np.unique(labels)) <= {0, 1}
    assert net.training is False


def test_fit_gives_a_shape_loss_ecsnet_its_shape_weights_when_the_data_bring_none():
    from emseg.losses import shape_weight_map
    from emseg.train import TrainConfig, fit

    rng = np.random.default_rng(0)
    labels = np.zeros((1, 48, 48), np.uint8)
    labels[:, 20:24, :] = 1
    image = (labels + 0.3 * rng.standard_normal(labels.shape)).astype(np.float32)
    net = tiny()
    np.testing.assert_array_equal(net.default_weights(labels), shape_weight_map(labels))
    assert tiny(shape_loss=False).default_weights(labels) is None
    hist = fit(net, (image, labels), config=TrainConfig(iterations=2, window=(32, 32), augment=None),
               device="cpu", progress=False)
    assert len(hist["loss"]) == 2 and np.all(np.isfinite(hist["loss"]))


def test_training_loss_hook_uses_the_heads():
    net = tiny().train()
    x = torch.randn(2, 1, 16, 16)
    target = (torch.rand(2, 16, 16) > 0.7).long()
    with pytest.raises(ValueError, match="needs the shape weights"):
        net.training_loss(net(x), target)
    total, focal, focal_stage1 = net.training_loss(net(x), target, torch.zeros(2, 16, 16))
    total.backward()
    assert not focal.requires_grad and not focal_stage1.requires_grad
    assert total.item() > 0.5 * (float(focal) + float(focal_stage1)) - 1e-6  # + 0.1 x contrastive
    assert net.heads.predictor[0].weight.grad is not None


def test_the_one_training_loop_trains_ecsnet(tmp_path):
    from emseg.data.phantoms.ecs import ecs_phantom
    from emseg.train import TrainConfig, fit

    train = ecs_phantom((2, 64, 64), seed=1, shape_weights=True)
    val = ecs_phantom((1, 64, 64), seed=2)
    net = tiny()
    config = TrainConfig(iterations=4, batch_size=2, window=(32, 32), eval_every=2, lr=1e-2)
    history = fit(net, train, val, config=config, output_dir=tmp_path, device="cpu",
                  progress=False)
    assert len(history["loss"]) == 4 and all(np.isfinite(history["loss"]))
    assert history["loss_aux"][0] is not None  # stage 1's focal loss is recorded
    assert [v["iteration"] for v in history["val"]] == [2, 4]
    assert (tmp_path / "checkpoints" / "best.pt").is_file()


# --- ablation switches --------------------------------------------------------------------

def test_ablation_variants_build_what_they_say():
    from emseg.models.ecsnet import ABLATION_LABELS, ABLATIONS
    assert list(ABLATIONS) == list(ABLATION_LABELS) == ["unet", "shape", "contrastive", "ecsnet"]
    nets = {k: tiny(**v) for k, v in ABLATIONS.items()}
    assert nets["unet"].stage2 is None and nets["unet"].heads is None
    assert nets["contrastive"].stage2 is None and nets["contrastive"].heads is not None
    assert nets["ecsnet"].stage2 is not None and nets["ecsnet"].heads is not None
    stage = count_parameters(nets["unet"].stage1)
    assert count_parameters(nets["unet"]) == count_parameters(nets["shape"]) == stage
    assert count_parameters(nets["ecsnet"]) == (count_parameters(nets["contrastive"])
                                                + count_parameters(nets["ecsnet"].stage2))
    for key, net in nets.items():  # the switches survive a checkpoint
        again = ECSNet(**net.spec()["kwargs"])
        assert (again.cascade, again.shape_loss, again.contrastive_weight) == \
            (net.cascade, net.shape_loss, net.contrastive_weight), key


def test_one_stage_network_predicts_with_its_only_stage():
    net = tiny(cascade=False).train()
    x = torch.randn(2, 1, 16, 16)
    out = net(x)
    assert out.aux_logits is None and out.logits.shape == (2, 1, 16, 16)
    net.eval()
    with torch.no_grad():
        torch.testing.assert_close(net(x)[:, 1], net.stage1(x)[0][:, 0])


def test_loss_switches_change_the_loss_as_documented():
    from emseg.losses import focal_shape_loss
    torch.manual_seed(1)
    x = torch.randn(2, 1, 16, 16)
    target = (torch.rand(2, 16, 16) > 0.7).long()
    weights = torch.rand(2, 16, 16) * 3
    plain = tiny(cascade=False, shape_loss=False, contrastive_weight=0.0).train()
    out = plain(x)
    total, focal, aux = plain.training_loss(out, target, weights)   # weights are ignored
    assert aux is None
    torch.testing.assert_close(total, focal_shape_loss(out.logits, target))  # 0.5 + 0.5 = 1
    shaped = tiny(cascade=False, shape_loss=True, contrastive_weight=0.0).train()
    shaped.load_state_dict(plain.state_dict())
    total_s, _, _ = shaped.training_loss(shaped(x), target, weights)
    torch.testing.assert_close(total_s, focal_shape_loss(out.logits, target, weights))
    assert float(total_s) > float(total)                              # weights 1 + S >= 1
    con = tiny(cascade=False, contrastive_weight=0.5).train()
    total_c, focal_c, _ = con.training_loss(con(x), target, weights)
    assert float(total_c) != pytest.approx(float(focal_c))             # + 0.5 x contrastive


@pytest.mark.parametrize("kwargs, match", [
    (dict(cascade=1), "cascade must be True or False"),
    (dict(shape_loss="yes"), "shape_loss must be True or False"),
    (dict(contrastive_weight=-0.1), "contrastive_weight"),
    (dict(contrastive_weight=float("nan")), "contrastive_weight"),
])
def test_bad_switches(kwargs, match):
    with pytest.raises(ValueError, match=match):
        ECSNet(**kwargs)
