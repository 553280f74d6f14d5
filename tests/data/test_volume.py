import numpy as np
import pytest

from emseg.data import Volume, zscore


def test_zscore_hand_computed():
    out = zscore(np.array([[1, 2], [3, 6]], dtype=np.uint16))  # mean 3, std sqrt(3.5)
    assert out.dtype == np.float32
    np.testing.assert_allclose(out, (np.array([[1, 2], [3, 6]]) - 3) / np.sqrt(3.5), rtol=1e-6)
    assert abs(float(out.mean())) < 1e-7 and float(out.std()) == pytest.approx(1.0, rel=1e-6)


def test_zscore_does_not_change_the_input():
    a = np.array([1.0, 2.0, 4.0], np.float32)
    zscore(a)
    assert a.tolist() == [1.0, 2.0, 4.0]


@pytest.mark.parametrize("bad, match", [
    (np.ones((3, 3)), "constant"),
    (np.array([1.0, np.nan]), "NaN"),
    (np.zeros((0, 4)), "empty"),
    (np.array(["a", "b"]), "numeric"),
])
def test_zscore_bad_inputs(bad, match):
    with pytest.raises(ValueError, match=match):
        zscore(bad)


def test_volume_checks_shapes_and_flags_synthetic():
    img = np.zeros((2, 4, 4), np.float32)
    vol = Volume(img, np.zeros((2, 4, 4), np.uint8), source="phantom")
    assert vol.synthetic and vol.shape == (2, 4, 4)
    assert not Volume(img, source="platelet").synthetic
    with pytest.raises(ValueError, match="labels shape"):
        Volume(img, np.zeros((2, 4, 5), np.uint8))
    with pytest.raises(ValueError, match="weights shape"):
        Volume(img, None, np.zeros((1, 4, 4)))


def test_crop_takes_the_start_and_keeps_everything_aligned():
    img = np.arange(4 * 6 * 8, dtype=np.float32).reshape(4, 6, 8)
    vol = Volume(img, (img % 7).astype(np.uint8), img * 2, source="phantom", name="t")
    small = vol.crop((2, None, 3))
    assert small.shape == (2, 6, 3) and small.synthetic and small.name == "t"
    np.testing.assert_array_equal(small.image, img[:2, :, :3])
    np.testing.assert_array_equal(small.weights, img[:2, :, :3] * 2)
    assert vol.crop(None) is vol and vol.crop((10, 10, 10)).shape == (4, 6, 8)
    with pytest.raises(ValueError, match="crop shape"):
        vol.crop((2, 3))
    with pytest.raises(ValueError, match="crop shape"):
        vol.crop((0, 3, 3))
