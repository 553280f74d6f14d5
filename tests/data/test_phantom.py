"""Synthetic platelet phantom: determinism, geometry, class fractions, image statistics."""
import numpy as np
import pytest
import tifffile
from scipy import ndimage as ndi

from emseg.data import Volume, phantom_labels, platelet_phantom, render_image

ORGANELLES = (2, 3, 4, 5, 6)


@pytest.fixture(scope="module")
def train():
    return platelet_phantom("train")


def pooled_std(a, b):
    return float(np.sqrt((a.var() + b.var()) / 2))


def test_same_seed_same_arrays_other_seed_differs():
    a = phantom_labels((6, 64, 64), seed=3)
    b = phantom_labels((6, 64, 64), seed=3)
    c = phantom_labels((6, 64, 64), seed=4)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
    lab = phantom_labels((6, 96, 96), seed=1)
    np.testing.assert_array_equal(render_image(lab, seed=7), render_image(lab, seed=7))
    assert not np.array_equal(render_image(lab, seed=7), render_image(lab, seed=8))


def test_platelet_phantom_is_deterministic_and_splits_differ():
    v1 = platelet_phantom("eval", seed=1, shape=(4, 64, 64))
    v2 = platelet_phantom("eval", seed=1, shape=(4, 64, 64))
    np.testing.assert_array_equal(v1.image, v2.image)
    np.testing.assert_array_equal(v1.labels, v2.labels)
    other_seed = platelet_phantom("eval", seed=2, shape=(4, 64, 64))
    other_split = platelet_phantom("test", seed=1, shape=(4, 64, 64))
    assert not np.array_equal(v1.labels, other_seed.labels)
    assert not np.array_equal(v1.labels, other_split.labels)


def test_volume_fields(train):
    assert isinstance(train, Volume)
    assert train.synthetic and train.source == "phantom" and train.name == "train"
    assert train.voxel_size == (40.0, 10.0, 10.0)
    assert train.image.shape == train.labels.shape == train.weights.shape == (24, 256, 256)
    assert train.image.dtype == np.float32 and train.labels.dtype == np.uint8
    assert train.weights.dtype == np.float32
    assert abs(float(train.image.mean())) < 1e-3 and abs(float(train.image.std()) - 1) < 1e-3
    assert train.weights.min() >= 0 and train.weights.max() > 10
    ev = platelet_phantom("eval", shape=(4, 64, 64))
    assert ev.weights is None and ev.labels.shape == (4, 64, 64)


def test_all_classes_present_with_plausible_fractions(train):
    frac = np.bincount(train.labels.ravel(), minlength=7) / train.labels.size
    assert np.all(frac > 0), frac
    # loose bounds around the real data's fractions (bg ~40 %, cell ~50 %, alpha ~4 %,
    # canalicular ~3 %, mito ~0.7 %, dense ~0.25 %, core ~0.07 %)
    bounds = [(0.25, 0.60), (0.35, 0.65), (0.002, 0.02), (0.02, 0.08), (0.01, 0.07),
              (0.0005, 0.01), (0.0001, 0.003)]
    for cls, (lo, hi) in enumerate(bounds):
        assert lo < frac[cls] < hi, (cls, frac[cls])
    assert frac[3] == max(frac[2:]), "alpha granules should be the most common organelle"
    assert frac[6] < frac[5], "the dense core is smaller than its granule body"


def test_organelles_strictly_inside_cells(train):
    lab = train.labels
    near_background = ndi.binary_dilation(lab == 0, np.ones((3, 3, 3), bool))
    assert np.count_nonzero(np.isin(lab, ORGANELLES) & near_background) == 0
    # dense cores only ever touch their granule body
    near_core = ndi.binary_dilation(lab == 6, np.ones((3, 3, 3), bool))
    assert set(np.unique(lab[near_core])) <= {5, 6}
    # every dense granule component holds a core
    bodies, n = ndi.label(np.isin(lab, (5, 6)))
    with_core = np.unique(bodies[lab == 6])
    assert n >= 1 and len(with_core) == n


def test_objects_span_fewer_slices_than_pixels(train):
    for cls in (2, 3, 5):
        comps, n = ndi.label(train.labels == cls)
        extent = np.array([[s.stop - s.start for s in box] for box in ndi.find_objects(comps)])
        z, y, x = extent.mean(0)
        assert n >= 1 and z < 0.5 * y and z < 0.5 * x, (cls, extent.mean(0))


def test_class_intensities_differ_but_overlap(train):
    img, lab = train.image, train.labels
    by = {c: img[lab == c] for c in range(7)}
    mean = {c: float(v.mean()) for c, v in by.items()}
    # granules and mitochondria are darker than cytoplasm, cores darkest
    assert mean[3] < mean[1] - 1.0 and mean[2] < mean[1] - 1.0
    assert mean[6] == min(mean.values())
    # ... but the pairs that context must separate overlap almost completely
    assert abs(mean[4] - mean[0]) < 0.5 * pooled_std(by[4], by[0])   # vessel lumen = resin
    assert abs(mean[1] - mean[0]) < 0.5 * pooled_std(by[1], by[0])   # texture, not mean
    assert abs(mean[5] - mean[2]) < 0.5 * pooled_std(by[5], by[2])   # dense body ~ mito
    # cytoplasm is granular, resin smooth: higher local variance well inside each
    local_var = ndi.uniform_filter(img * img, (1, 5, 5)) - ndi.uniform_filter(img, (1, 5, 5)) ** 2
    inner = [ndi.binary_erosion(lab == c, np.ones((1, 9, 9), bool)) for c in (0, 1)]
    assert local_var[inner[1]].mean() > 1.15 * local_var[inner[0]].mean()


def test_render_real_labels(shared_data):
    labels = tifffile.imread(shared_data / "platelet" / "eval-labels.tif", key=range(8, 16))
    crop = labels[:, 272:528, 272:528]
    img = render_image(crop, seed=0)
    assert img.shape == (8, 256, 256) and img.dtype == np.float32 and np.isfinite(img).all()
    present = [c for c in range(7) if np.count_nonzero(crop == c) > 1000]
    assert {0, 1, 2, 3}.issubset(present)
    mean = {c: float(img[crop == c].mean()) for c in present}
    spread = float(img.std())
    assert mean[2] < mean[1] - spread and mean[3] < mean[1] - spread
    assert abs(mean[1] - mean[0]) < spread


@pytest.mark.parametrize("shape, match", [
    ((8, 64), "3 integers"),
    ((8, 64, 64, 1), "3 integers"),
    ((8.0, 64, 64), "3 integers"),
    ((0, 64, 64), "z >= 1"),
    ((8, 16, 64), "y, x >= 32"),
])
def test_bad_shape(shape, match):
    with pytest.raises(ValueError, match=match):
        phantom_labels(shape)
    with pytest.raises(ValueError, match=match):
        platelet_phantom("train", shape=shape)


def test_bad_arguments():
    with pytest.raises(ValueError, match="split must be one of"):
        platelet_phantom("validation")
    with pytest.raises(ValueError, match="seed"):
        platelet_phantom("eval", seed=-1)
    with pytest.raises(ValueError, match="voxel_size"):
        phantom_labels((4, 64, 64), voxel_size=(40.0, 0.0, 10.0))
    lab = np.zeros((2, 32, 32), np.uint8)
    lab[:, 8:24, 8:24] = 1
    with pytest.raises(ValueError, match="3-D"):
        render_image(lab[0])
    with pytest.raises(ValueError, match="integer class ids"):
        render_image(lab + 0.5)
    with pytest.raises(ValueError, match="0..6"):
        render_image(lab * 7)
    with pytest.raises(ValueError, match="0..6"):
        render_image(lab.astype(int) - 1)
    with pytest.raises(ValueError, match="dose"):
        render_image(lab, dose=0)
    with pytest.raises(ValueError, match="blur_nm"):
        render_image(lab, blur_nm=(1.0, -1.0, 1.0))
