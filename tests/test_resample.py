import numpy as np
import pytest
import torch

from emseg.resample import check_scale, downscale, downscale_volume, upscale_probabilities


def test_check_scale_forms_and_errors():
    assert check_scale(None) == check_scale(1) == (1, 1, 1)
    assert check_scale(4) == (1, 4, 4) and check_scale((2, 3)) == (1, 2, 3)
    assert check_scale([2, 2, 2], ndim=3) == (2, 2, 2)
    for bad in (0, -2, 1.5, True, (1, 2, 2, 2), "2"):
        with pytest.raises(ValueError, match="scale must be"):
            check_scale(bad)
    with pytest.raises(ValueError, match="cannot bin z"):
        check_scale((2, 2, 2), ndim=2)


def test_block_means_and_a_partial_edge_block():
    a = np.arange(2 * 3 * 5, dtype=np.float32).reshape(2, 3, 5)
    small = downscale(a, (1, 2, 2))
    assert small.shape == (2, 2, 3) and small.dtype == np.float32
    assert small[0, 0, 0] == np.mean(a[0, :2, :2])
    # the last row and column are partial blocks: filled by repeating the edge voxels
    assert small[0, 1, 2] == a[0, 2, 4]
    assert small[1, 1, 0] == np.mean([a[1, 2, 0], a[1, 2, 1]])


def test_mode_of_labels_and_ties_to_the_larger_class():
    labels = np.array([[[0, 0, 3, 3],
                        [0, 2, 1, 0]]], np.uint8)
    assert downscale(labels, (1, 2, 2), kind="mode").tolist() == [[[0, 3]]]  # 3 of 4; 2 of 4 vs 1+1
    tie = np.array([[[0, 1], [1, 0]]], np.uint8)
    assert downscale(tie, (1, 2, 2), kind="mode").tolist() == [[[1]]]
    assert downscale(labels, (1, 1, 1), kind="mode") is labels


def test_upscaling_a_ramp_puts_block_centres_back_in_place():
    """Binning a linear ramp and interpolating back returns the ramp (centres aligned)."""
    x = np.arange(32, dtype=np.float32)
    ramp = np.broadcast_to(x, (1, 8, 32)).copy()
    small = downscale(ramp, (1, 1, 4))
    probs = torch.from_numpy(np.stack([small, 1 - small]))
    back = upscale_probabilities(probs, ramp.shape, (1, 1, 4))[0].numpy()
    inner = slice(2, 30)  # away from the two edge half-blocks (linear extrapolation is clamped)
    np.testing.assert_allclose(back[..., inner], ramp[..., inner], atol=1e-4)
    summed = upscale_probabilities(probs, ramp.shape, (1, 1, 4)).sum(0).numpy()
    np.testing.assert_allclose(summed, 1.0, atol=1e-5)


def test_a_volume_is_binned_with_its_voxel_size():
    from emseg.data import Volume
    vol = Volume(np.zeros((2, 8, 8), np.float32), np.ones((2, 8, 8), np.uint8),
                 np.ones((2, 8, 8), np.float32), voxel_size=(40.0, 5.0, 5.0))
    small = downscale_volume(vol, (1, 2, 2))
    assert small.image.shape == small.labels.shape == small.weights.shape == (2, 4, 4)
    assert small.voxel_size == (40.0, 10.0, 10.0) and small.labels.dtype == np.uint8
    assert downscale_volume(vol, None) is vol
