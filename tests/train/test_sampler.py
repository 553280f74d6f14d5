import numpy as np
import pytest

from emseg.data import Volume
from emseg.models import Geometry, Net2D3D, UNet2D, window_geometry
from emseg.train import WindowSampler


def _coded_volume(shape):
    """An image whose voxel values encode their own coordinates (labels = the same code)."""
    z, y, x = np.meshgrid(*[np.arange(s) for s in shape], indexing="ij")
    code = (z * 10000 + y * 100 + x).astype(np.float32)
    return Volume(code, code.astype(np.int64), code.copy())


@pytest.mark.parametrize("geometry", [
    window_geometry(UNet2D(3, width=4, depth=2), (44, 44)),          # valid: 44 -> 4, offset 20
    window_geometry(Net2D3D(3, width=4, pyramid_width=4, faithful=True), (5, 36, 36)),  # offset 2
    Geometry((3, 16, 16), (1, 8, 8), (1, 4, 4)),
])
def test_labels_are_the_output_window_of_the_input(geometry):
    vol = _coded_volume((6, 30, 28))
    sampler = WindowSampler([vol], geometry, seed=1)
    for k in range(sampler.windows_per_epoch):
        img, lab, w = sampler.window(k)
        assert img.shape == geometry.input and lab.shape == geometry.output
        crop = tuple(slice(f, f + o) for f, o in zip(geometry.offset, geometry.output))
        assert np.array_equal(lab, img[crop].astype(np.int64))  # label window sits at the offset
        assert np.array_equal(w, img[crop])
        # output voxels lie inside the volume (padding only feeds the input margin)
        codes = lab.ravel()
        assert codes.min() >= 0 and codes.max() <= 5 * 10000 + 29 * 100 + 27


def test_one_random_corner_per_bin_and_epochs_differ():
    geo = Geometry((1, 10, 10), (1, 10, 10), (0, 0, 0))
    vol = _coded_volume((2, 50, 50))
    sampler = WindowSampler([vol], geo, spacing=(1, 10, 10), seed=3)
    # corners 0..40 per axis in bins of 10 -> 5 bins (0,10,20,30,40) x 5 x 2 slices
    assert sampler.windows_per_epoch == 2 * 5 * 5
    e0, e1 = sampler.epoch(0), sampler.epoch(1)
    bins = sorted((v, c[0], c[1] // 10, c[2] // 10) for v, c in e0)
    assert len(set(bins)) == len(bins) == 50
    assert e0 != e1
    again = WindowSampler([vol], geo, spacing=(1, 10, 10), seed=3)
    assert again.epoch(1) == e1  # pure function of (seed, epoch)


def test_volume_smaller_than_window_is_padded():
    geo = window_geometry(Net2D3D(2, width=4, pyramid_width=4), (5, 40, 40))
    vol = _coded_volume((2, 20, 25))
    sampler = WindowSampler([vol], geo, seed=0)
    img, lab, _ = sampler.window(0)
    assert img.shape == (5, 40, 40) and lab.shape == (5, 40, 40)


def test_bad_spacing():
    geo = Geometry((1, 10, 10), (1, 10, 10), (0, 0, 0))
    with pytest.raises(ValueError, match="spacing"):
        WindowSampler([_coded_volume((1, 20, 20))], geo, spacing=(1, 0, 5))


@pytest.mark.parametrize("geometry", [
    window_geometry(Net2D3D(3, width=4, pyramid_width=4), (5, 36, 36)),  # 36 -> 32 at offset 0
    window_geometry(UNet2D(3, width=4, depth=2), (44, 44)),
])
def test_flipped_windows_keep_labels_under_their_voxels(geometry):
    from emseg.augment import AugmentConfig
    vol = _coded_volume((6, 40, 40))
    flips_only = AugmentConfig(elastic=False, brightness=0.0, contrast=0.0)
    sampler = WindowSampler([vol], geometry, seed=2, augment=flips_only)
    crop = tuple(slice(f, f + o) for f, o in zip(geometry.offset, geometry.output))
    flipped = 0
    for k in range(12):
        img, lab, _ = sampler.window(k)
        # the network predicts the voxels at the offset of its (flipped) input window
        assert np.array_equal(lab, img[crop].astype(np.int64))
        codes = img[crop]
        flipped += bool(np.any(np.diff(codes, axis=-1) < 0))
    assert flipped > 0


def _sparse_volume(shape=(2, 64, 64), seed=0):
    """Class 1 in 1 % of the voxels, class 2 in one small square: rare foreground."""
    rng = np.random.default_rng(seed)
    labels = np.zeros(shape, np.uint8)
    inner = (slice(None), slice(8, -8), slice(8, -8))  # a window centred there fits inside
    labels[inner][rng.random(labels[inner].shape) < 0.01] = 1
    labels[1, 40:43, 10:13] = 2
    return Volume(rng.normal(size=shape).astype(np.float32), labels)


def _centred_on(sampler, lab):
    geom = sampler.geometry
    centre = tuple(o // 2 for o in geom.output)
    return lab[centre] != 0


@pytest.mark.parametrize("fraction", [0.0, 0.33, 1.0])
def test_oversampling_centres_that_fraction_on_foreground(fraction):
    geometry = Geometry((1, 16, 16), (1, 16, 16), (0, 0, 0))
    vol = _sparse_volume()
    sampler = WindowSampler([vol], geometry, seed=3, oversample=fraction)
    n = 600
    centred = np.mean([_centred_on(sampler, sampler.window(k)[1]) for k in range(n)])
    # a grid window's centre is foreground about 0.6 % of the time; oversampled ones always
    expected = fraction + (1 - fraction) * 0.006
    assert abs(centred - expected) < 0.06
    if fraction == 1.0:  # both classes are drawn, the rare square about half the time
        classes = [sampler.window(k)[1][(0, 8, 8)] for k in range(200)]
        assert 0.35 < np.mean(np.array(classes) == 2) < 0.65


def test_oversampling_is_a_pure_function_of_seed_and_index():
    geometry = Geometry((1, 16, 16), (1, 16, 16), (0, 0, 0))
    a = WindowSampler([_sparse_volume()], geometry, seed=5, oversample=0.5)
    b = WindowSampler([_sparse_volume()], geometry, seed=5, oversample=0.5)
    order = [7, 3, 150, 3, 0, 151, 64]
    first = [a.window(k)[:2] for k in order]
    second = [b.window(k)[:2] for k in reversed(order)][::-1]  # another instance, other order
    for x, y in zip(first, second):
        assert np.array_equal(x[0], y[0]) and np.array_equal(x[1], y[1])
    c = WindowSampler([_sparse_volume()], geometry, seed=6, oversample=0.5)
    assert not all(np.array_equal(a.window(k)[0], c.window(k)[0]) for k in range(10))


def test_oversampling_without_foreground_and_bad_fraction():
    geometry = Geometry((1, 16, 16), (1, 16, 16), (0, 0, 0))
    empty = Volume(np.zeros((1, 32, 32), np.float32), np.zeros((1, 32, 32), np.uint8))
    sampler = WindowSampler([empty], geometry, oversample=0.5)  # nothing to centre on: grid only
    assert sampler.window(0)[1].shape == (1, 16, 16)
    with pytest.raises(ValueError, match="oversample must be a fraction"):
        WindowSampler([empty], geometry, oversample=1.5)
