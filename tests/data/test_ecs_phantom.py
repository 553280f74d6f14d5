"""ECS phantom: determinism, the asked ECS fraction and gap width, lakes, image contrast."""
import numpy as np
import pytest
from scipy import ndimage as ndi

from emseg.data import Volume
from emseg.data.phantoms.ecs import ecs_phantom, ecs_phantom_labels, render_ecs_image
from emseg.ecs import quantify_ecs


def test_same_seed_same_arrays_other_seed_differs():
    a = ecs_phantom((64, 64), seed=3)
    b = ecs_phantom((64, 64), seed=3)
    c = ecs_phantom((64, 64), seed=4)
    np.testing.assert_array_equal(a.image, b.image)
    np.testing.assert_array_equal(a.labels, b.labels)
    assert not np.array_equal(a.labels, c.labels)
    mask, cells = ecs_phantom_labels((64, 64), seed=1, return_cells=True)
    np.testing.assert_array_equal(render_ecs_image(mask, cells, seed=2),
                                  render_ecs_image(mask, cells, seed=2))
    assert not np.array_equal(render_ecs_image(mask, cells, seed=2),
                              render_ecs_image(mask, cells, seed=3))


@pytest.mark.parametrize("shape", [(96, 128), (4, 64, 80)])
@pytest.mark.parametrize("fraction", [0.05, 0.15, 0.3])
def test_ecs_fraction_is_honoured(shape, fraction):
    m = ecs_phantom_labels(shape, seed=0, ecs_fraction=fraction)
    assert m.shape == shape and m.dtype == np.uint8 and set(np.unique(m)) == {0, 1}
    assert abs(m.mean() - fraction) <= 1.0 / m.size + 1e-12


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_gap_width_is_honoured_within_a_quarter(seed):
    medians = {}
    for width in (40.0, 80.0):
        m = ecs_phantom_labels((256, 256), seed=seed, gap_width=width, lake_share=0.0)
        medians[width] = quantify_ecs(m, voxel_size=(9.0, 9.0))["gap_width_median_nm_all"]
        assert 0.75 * width <= medians[width] <= 1.25 * width, (width, medians[width])
    assert medians[80.0] > 1.5 * medians[40.0]


def test_lakes_widen_the_width_distribution_but_not_the_fraction():
    no = quantify_ecs(ecs_phantom_labels((192, 192), seed=0, lake_share=0.0), voxel_size=(9.0, 9.0))
    yes = quantify_ecs(ecs_phantom_labels((192, 192), seed=0, lake_share=0.4), voxel_size=(9.0, 9.0))
    assert no["volume_fraction"] == pytest.approx(yes["volume_fraction"], abs=1e-4)
    assert yes["gap_width_p90_nm"] > 1.4 * no["gap_width_p90_nm"]


def test_image_contrast_ecs_lighter_membranes_darker_but_overlapping():
    vol = ecs_phantom((192, 192), seed=0)
    img, m = vol.image[0], vol.labels[0].astype(bool)
    membrane = ndi.binary_dilation(m) & ~m                         # cell side of every gap
    interior = ~ndi.binary_dilation(m, iterations=4)
    assert img[m].mean() > img[interior].mean() + 0.5             # z-scored units
    assert img[membrane].mean() < img[interior].mean()
    # no grey level separates ECS from cells: the best threshold is a poor segmentation
    thresholds = np.quantile(img, np.linspace(0.5, 0.98, 25))
    ious = [np.sum((img > t) & m) / np.sum((img > t) | m) for t in thresholds]
    assert max(ious) < 0.6


def test_volume_fields_2d_section_and_3d_stack():
    sec = ecs_phantom((64, 96), seed=0, shape_weights=True)
    assert isinstance(sec, Volume) and sec.synthetic and sec.name == "ecs"
    assert sec.image.shape == sec.labels.shape == sec.weights.shape == (1, 64, 96)
    assert sec.image.dtype == np.float32 and sec.weights.dtype == np.float32
    assert abs(float(sec.image.mean())) < 1e-3 and abs(float(sec.image.std()) - 1) < 1e-3
    assert sec.voxel_size == (50.0, 9.0, 9.0)
    stack = ecs_phantom((6, 64, 64), seed=0, voxel_size=(40.0, 8.0, 8.0))
    assert stack.image.shape == (6, 64, 64) and stack.weights is None
    # 3D cells: neighbouring sections share much of their ECS, distant stacks do not
    a, b = stack.labels[2].astype(bool), stack.labels[3].astype(bool)
    other = ecs_phantom_labels((64, 64), seed=9).astype(bool)
    iou = lambda p, q: np.sum(p & q) / np.sum(p | q)  # noqa: E731
    assert iou(a, b) > 2 * iou(a, other)


@pytest.mark.parametrize("kwargs, match", [
    (dict(shape=(16, 64)), "shape"), (dict(shape=(64,)), "shape"),
    (dict(ecs_fraction=0.0), "ecs_fraction"), (dict(ecs_fraction=0.7), "ecs_fraction"),
    (dict(gap_width=5.0), "gap_width"), (dict(lake_share=1.0), "lake_share"),
    (dict(seed=-1), "seed"), (dict(voxel_size=(9.0, 9.0)), "voxel_size"),
])
def test_bad_arguments(kwargs, match):
    args = {"shape": (64, 64), **kwargs}
    with pytest.raises(ValueError, match=match):
        ecs_phantom_labels(args.pop("shape"), **args)


def test_render_checks_its_inputs():
    mask, cells = ecs_phantom_labels((32, 32), seed=0, return_cells=True)
    with pytest.raises(ValueError, match="shape"):
        render_ecs_image(mask, cells[:, :16])
    with pytest.raises(ValueError, match="dose"):
        render_ecs_image(mask, cells, dose=0.0)
