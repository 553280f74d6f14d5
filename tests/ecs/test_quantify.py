"""ECS quantification: hand-computed fractions, widths, lengths and components; CSV, plot
and result TIFFs; one check on the real VNC proxy labels (skipped without them)."""
import csv
import math

import numpy as np
import pytest
import tifffile

from emseg.ecs import (CSV_COLUMNS, area_fraction, check_mask, component_stats, gap_width_map,
                       plot_ecs, quantify_ecs, skeleton_length, write_ecs_csv, write_results)
from emseg.ecs.quantify import _path_length


def two_sheets():
    """A 40 x 40 section with sheets 3 and 5 px wide: fraction 8 / 40 = 0.2."""
    m = np.zeros((40, 40), bool)
    m[:, 5:8] = True
    m[:, 20:25] = True
    return m


def test_fraction_and_widths_by_hand():
    m = two_sheets()
    assert area_fraction(m).tolist() == [0.2]
    w = gap_width_map(m, voxel_size=(10.0, 10.0))
    # away from the sheets' ends the skeleton runs down the middle: 30 nm and 50 nm
    np.testing.assert_array_equal(w[10:30, 6], 30.0)
    np.testing.assert_array_equal(w[10:30, 22], 50.0)
    assert np.isnan(w[:, :5]).all() and np.isnan(w[:, 26:]).all()
    s = quantify_ecs(m, voxel_size=(10.0, 10.0))
    assert s["volume_fraction"] == 0.2 and s["slice_fraction"].tolist() == [0.2]
    assert s["ecs_area_um2"][0] == pytest.approx(0.2 * 0.16)
    assert s["n_components"].tolist() == [2] and s["n_components_3d"] is None


@pytest.mark.parametrize("width", [1, 2, 3, 4, 5, 6, 7])
def test_straight_band_width_is_exact_for_odd_and_even_widths(width):
    m = np.zeros((48, 48), bool)
    m[:, 10:10 + width] = True
    w = gap_width_map(m, voxel_size=(9.0, 9.0))
    assert np.nanmedian(w) == pytest.approx(9.0 * width)


def test_anisotropic_pixels_scale_each_axis():
    m = np.zeros((30, 30), bool)
    m[:, 10:13] = True                     # 3 px across x at 20 nm
    w = gap_width_map(m, voxel_size=(10.0, 20.0))
    assert np.nanmedian(w) == pytest.approx(60.0)
    line = np.zeros((30, 30), bool)
    line[5, 2:12] = True                   # 10 px along x: 9 steps of 20 nm
    assert skeleton_length(line, voxel_size=(10.0, 20.0)).tolist() == [pytest.approx(0.18)]


def test_skeleton_length_and_density_by_hand():
    m = np.zeros((40, 40), bool)
    m[:, 10] = m[:, 30] = True             # two 40-px lines: 2 x 39 steps of 10 nm
    s = quantify_ecs(m, voxel_size=(10.0, 10.0))
    assert s["skeleton_length_um"][0] == pytest.approx(0.78)
    assert s["length_density_per_um"][0] == pytest.approx(0.78 / 0.16)
    diagonal = np.eye(20, dtype=bool)      # 19 diagonal steps
    assert skeleton_length(diagonal, voxel_size=(10.0, 10.0))[0] == pytest.approx(0.19 * math.sqrt(2))
    corner = np.zeros((6, 6), bool)
    corner[1, 1:4] = corner[1:4, 3] = True  # an L: the diagonal shortcut is not counted
    assert _path_length(corner, 1.0, 1.0) == pytest.approx(4.0)
    staircase = np.zeros((6, 6), bool)
    staircase[[0, 1, 1, 2], [0, 0, 1, 1]] = True   # axial steps only: 3
    assert _path_length(staircase, 1.0, 1.0) == pytest.approx(3.0)


def test_components_in_sections_and_in_3d():
    v = np.zeros((3, 10, 10), bool)
    v[:, 1, :] = v[:, 8, :] = True
    v[1, 1:9, 5] = True                    # a bridge in the middle section only
    c = component_stats(v, voxel_size=(50.0, 10.0, 10.0))
    assert c["n_components"].tolist() == [2, 1, 2]
    assert c["n_components_3d"] == 1 and c["largest_component_share_3d"] == 1.0
    assert c["component_volumes_um3"].tolist() == [pytest.approx(66 * 50 * 10 * 10 / 1e9)]
    assert c["component_slice"].tolist() == [0, 0, 1, 2, 2]
    np.testing.assert_allclose(c["component_areas_um2"][:2], [10 * 100 / 1e6] * 2)
    diag = np.zeros((4, 4), bool)
    diag[0, 0] = diag[1, 1] = True          # 8-connected in a section
    assert component_stats(diag, voxel_size=(1.0, 1.0))["n_components"].tolist() == [1]


def test_sections_without_ecs_give_nan_widths_not_errors():
    v = np.zeros((2, 20, 20), bool)
    v[1, :, 5:8] = True
    s = quantify_ecs(v, voxel_size=(50.0, 10.0, 10.0))
    assert s["slice_fraction"].tolist() == [0.0, 0.15]
    assert math.isnan(s["gap_width_mean_nm"][0]) and s["gap_width_median_nm"][1] == pytest.approx(30.0)
    assert s["n_components"].tolist() == [0, 1]
    assert math.isnan(s["largest_component_share"][0])


@pytest.mark.parametrize("mask, kwargs, match", [
    (np.full((8, 8), 0.5), {}, "binary"), (np.arange(16).reshape(4, 4), {}, "binary"),
    (np.zeros(8, bool), {}, "2-D or 3-D"), (np.zeros((2, 2, 2, 2), bool), {}, "2-D or 3-D"),
    (np.zeros((0, 4), bool), {}, "empty"),
    (np.zeros((2, 4, 4), bool), {"voxel_size": (9.0, 9.0)}, "z, y, x"),
    (np.zeros((4, 4), bool), {"voxel_size": (0.0, 9.0)}, "positive"),
])
def test_bad_masks_and_voxel_sizes(mask, kwargs, match):
    with pytest.raises(ValueError, match=match):
        quantify_ecs(mask, **{"voxel_size": (50.0, 9.0, 9.0), **kwargs})


def test_check_mask_accepts_bool_and_0_1_numbers():
    assert check_mask(np.array([[0.0, 1.0]])).dtype == bool
    assert check_mask(np.array([[0, 1]], np.uint8)).tolist() == [[False, True]]
    with pytest.raises(TypeError):
        check_mask("mask.tif")


def test_csv_rows_per_section_and_total(tmp_path):
    v = np.zeros((2, 40, 40), bool)
    v[:, :, 5:8] = True
    v[1, :, 20:25] = True
    stats = quantify_ecs(v, voxel_size=(50.0, 10.0, 10.0))
    path = write_ecs_csv(tmp_path / "out" / "ecs.csv", stats)
    rows = list(csv.DictReader(path.open()))
    assert tuple(rows[0]) == CSV_COLUMNS
    assert [r["z"] for r in rows] == ["0", "1", "all"]
    assert float(rows[0]["ecs_fraction"]) == pytest.approx(0.075)
    assert float(rows[1]["ecs_fraction"]) == pytest.approx(0.2)
    assert float(rows[2]["ecs_fraction"]) == pytest.approx(0.1375)
    assert float(rows[0]["gap_width_median_nm"]) == pytest.approx(30.0)
    assert rows[1]["n_components"] == "2" and rows[2]["n_components"] == "2"   # 3D
    assert [p.name for p in path.parent.iterdir()] == ["ecs.csv"]             # no temp files
    with pytest.raises(ValueError, match="quantify_ecs"):
        write_ecs_csv(tmp_path / "bad.csv", {"volume_fraction": 0.1})


def test_plot_saves_a_png(tmp_path):
    m = np.zeros((2, 48, 48), bool)
    m[:, :, 10:13] = True
    m[:, 20:23, :] = True
    image = np.random.default_rng(0).standard_normal(m.shape)
    out = plot_ecs(m, tmp_path / "ecs.png", voxel_size=(50.0, 9.0, 9.0), image=image)
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    with pytest.raises(ValueError, match="z must be"):
        plot_ecs(m, tmp_path / "x.png", voxel_size=(50.0, 9.0, 9.0), z=5)
    with pytest.raises(ValueError, match="image shape"):
        plot_ecs(m, tmp_path / "x.png", voxel_size=(50.0, 9.0, 9.0), image=image[0])


def test_write_results_probability_and_labels(tmp_path):
    p = np.random.default_rng(0).random((3, 16, 16)).astype(np.float32)
    paths = write_results(tmp_path / "result", p, name="stack")
    np.testing.assert_array_equal(tifffile.imread(paths["probability"]), p)
    labels = tifffile.imread(paths["labels"])
    assert labels.dtype == np.uint8
    np.testing.assert_array_equal(labels, (p > 0.5).astype(np.uint8))
    # predict's (2, z, y, x) output: class 1 is the ECS probability
    two = np.stack([1 - p, p])
    again = write_results(tmp_path / "result2", two)
    np.testing.assert_array_equal(tifffile.imread(again["probability"]), p)
    assert again["labels"].name == "ecs_labels.tif"


@pytest.mark.parametrize("prob, kwargs, match", [
    (np.full((4, 4), 1.5), {}, r"\[0, 1\]"), (np.zeros((3, 2, 4, 4)), {}, "2, z, y, x"),
    (np.zeros((4, 4), np.uint8), {}, "float"), (np.zeros((4, 4)), {"threshold": 1.0}, "threshold"),
    (np.zeros((4, 4)), {"name": "a/b"}, "name"),
])
def test_write_results_rejects_bad_input(tmp_path, prob, kwargs, match):
    with pytest.raises(ValueError, match=match):
        write_results(tmp_path, prob, **kwargs)


def test_real_vnc_extracellular_labels(shared_data):
    """The glia/extracellular class (159) of the VNC ssTEM labels as a real-geometry proxy."""
    from emseg.data import read_volume
    from emseg.losses._ecs import shape_weight_map

    folder = shared_data / "vnc" / "stack1" / "labels"
    if not folder.is_dir():
        pytest.skip(f"{folder} not found")
    labels = read_volume(folder)[:2]
    mask = labels == 159
    stats = quantify_ecs(mask, voxel_size=(50.0, 4.6, 4.6))
    assert 0.0 < stats["volume_fraction"] < 0.5
    assert np.all(stats["gap_width_nm"][np.isfinite(stats["gap_width_nm"])] >= 4.6 - 1e-4)
    assert stats["n_components"].min() >= 1
    w = shape_weight_map(mask[0])
    assert w.shape == mask[0].shape and np.isfinite(w).all() and w[mask[0]].mean() > w[~mask[0]].mean()


def test_weight_map_and_prediction_figures(tmp_path):
    from emseg.ecs import plot_ecs_prediction, plot_weight_map
    m = two_sheets()
    img = m.astype(np.float32) + 0.1
    assert plot_weight_map(img, m, tmp_path / "w.png").stat().st_size > 1000
    prob = np.clip(m + 0.2 * np.random.default_rng(0).standard_normal(m.shape), 0, 1)
    out = plot_ecs_prediction(img, m, prob, tmp_path / "p.png", crop=(20, 20))
    assert out.stat().st_size > 1000
    with pytest.raises(ValueError, match="same shape"):
        plot_ecs_prediction(img, m, prob[:10])
    with pytest.raises(ValueError, match="does not match"):
        plot_weight_map(img[:5], m)
