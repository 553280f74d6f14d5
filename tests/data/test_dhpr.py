"""DHPR selection: hand-computed scores, noise filter, ranking, the original's bugs fixed."""
import numpy as np
import pytest

from emseg.data.dhpr import DHPRSelection, dhpr_image_scores, select_dhpr


def stack(noise, n_fg, contrast, *, seed, shape=(10, 30, 30)):
    """Background 100 + Gaussian noise; ``n_fg`` labelled voxels ``contrast`` brighter."""
    rng = np.random.default_rng(seed)
    img = rng.normal(100.0, noise, shape)
    lab = np.zeros(shape, np.uint8)
    lab.reshape(-1)[rng.choice(lab.size, n_fg, replace=False)] = 1
    img[lab > 0] += contrast
    return img, lab


def test_scores_by_hand():
    img = np.full((1, 4, 4), 104.0)
    img.flat[::2] = 96                                    # background: mean 100, std 4
    lab = np.zeros(img.shape, int)
    lab[0, 0, :3] = 1
    img[0, 0, :3] = 120, 104, 300
    s = dhpr_image_scores(img, lab, roi_size=4, density_scale=6)
    assert s["n_foreground"] == 3 and s["density"] == pytest.approx(0.5)
    # background voxels: 96 (x6), 104 (x7): mean 100.31; snr = (I - mu) / std / 2
    bg = np.array([96.0] * 6 + [104.0] * 7)
    assert s["background_mean"] == pytest.approx(bg.mean())
    assert s["noise_std"] == pytest.approx(bg.std())
    snr = (np.array([120, 104, 300]) - bg.mean()) / (bg.std() + 1e-5) / 2
    assert s["lsnr_ratio"] == pytest.approx(np.mean(snr < 2))        # only 104 is dim
    assert dhpr_image_scores(img, lab, roi_size=4, density_scale=2)["density"] == 1.0  # clipped


def test_noise_estimate_drops_bright_outliers_and_caps_sigma():
    img, lab = stack(3.0, 50, 20.0, seed=0)
    img[0, :5, :5] = 5000.0                               # unlabelled bright debris
    s = dhpr_image_scores(img, lab, roi_size=8)
    assert s["noise_std"] == pytest.approx(3.0, rel=0.1)  # the outliers are dropped
    loud, lab2 = stack(40.0, 50, 100.0, seed=1)
    capped = dhpr_image_scores(loud, lab2, roi_size=8)
    # sigma ~35 (after the outlier cut) is reported, but the SNR uses min(sigma, 6.5):
    # a contrast of 100 is far above 4 * 6.5, so few voxels are dim; uncapped, most are
    assert capped["noise_std"] > 30 and capped["lsnr_ratio"] < 0.2
    assert dhpr_image_scores(loud, lab2, roi_size=8, noise_cap=40)["lsnr_ratio"] > 0.5


def test_roi_is_the_widened_label_box():
    img, lab = stack(2.0, 0, 0.0, seed=2, shape=(20, 60, 60))
    lab[10, 30, 30] = lab[10, 31, 31] = 1
    img[0:2] += 50                                        # brighter slab far from the labels
    near = dhpr_image_scores(img, lab, roi_size=10)
    wide = dhpr_image_scores(img, lab, roi_size=60)
    assert near["background_mean"] == pytest.approx(100, abs=0.5)
    assert wide["background_mean"] > near["background_mean"] + 2


def test_selection_keeps_noisy_images_and_ranks_by_density_plus_hardness():
    imgs, labs = [], []
    # (noise, n_fg, contrast): 0-2 quiet (filtered out), 3-5 noisy with rising scores
    for i, (noise, n_fg, contrast) in enumerate([(2, 900, 5), (2, 900, 5), (2, 900, 5),
                                                 (8, 100, 60), (8, 500, 60), (8, 500, 10)]):
        img, lab = stack(noise, n_fg, contrast, seed=10 + i)
        imgs.append(img)
        labs.append(lab)
    sel = select_dhpr(imgs, labs, n_select=2, roi_size=8, density_scale=1000)
    assert isinstance(sel, DHPRSelection)
    assert sel.scores["eligible"].tolist() == [False, False, False, True, True, True]
    order = np.argsort(-sel.scores["score"][3:]) + 3
    assert order.tolist() == [5, 4, 3]                   # dense and dim first
    assert sel.indices.tolist() == [4, 5]                # top 2, in index order
    np.testing.assert_allclose(sel.scores["score"],
                               sel.scores["density"] + sel.scores["lsnr_ratio"])
    every = select_dhpr(imgs, labs, n_select=10, roi_size=8, noise_filter=False)
    assert every.indices.tolist() == [0, 1, 2, 3, 4, 5]


def test_selection_is_reproducible_and_seeded():
    imgs, labs = zip(*[stack(5.0, 200, 15.0, seed=s, shape=(30, 60, 60)) for s in range(3)])
    a = select_dhpr(imgs, labs, n_select=2, roi_size=8, n_background=500, seed=1)
    b = select_dhpr(imgs, labs, n_select=2, roi_size=8, n_background=500, seed=1)
    c = select_dhpr(imgs, labs, n_select=2, roi_size=8, n_background=500, seed=2)
    np.testing.assert_array_equal(a.scores["noise_std"], b.scores["noise_std"])
    assert not np.array_equal(a.scores["noise_std"], c.scores["noise_std"])


def test_multi_valued_labels_and_empty_labels():
    img, lab = stack(4.0, 300, 30.0, seed=3)
    multi = lab.astype(np.int32)
    multi[multi > 0] = np.arange(1, 301) % 3 + 1          # values 1..3: all foreground
    a = dhpr_image_scores(img, lab, roi_size=8)
    b = dhpr_image_scores(img, multi, roi_size=8)
    assert b["n_foreground"] == a["n_foreground"] == 300  # not just the voxels equal to max
    empty = dhpr_image_scores(img, np.zeros_like(lab), roi_size=8)
    assert empty["density"] == 0.0 and empty["n_foreground"] == 0
    sel = select_dhpr([img, img], [lab, np.zeros_like(lab)], noise_filter=False, roi_size=8)
    assert sel.indices.tolist() == [0] and sel.scores["eligible"].tolist() == [True, False]


@pytest.mark.parametrize("call, match", [
    (lambda img, lab: dhpr_image_scores(img[0], lab[0]), "must be 3-D"),
    (lambda img, lab: dhpr_image_scores(img, lab[:, :5]), "does not match the image shape"),
    (lambda img, lab: dhpr_image_scores(img, np.ones_like(lab)), "every voxel as foreground"),
    (lambda img, lab: dhpr_image_scores(img.astype(bool), lab), "numeric"),
    (lambda img, lab: dhpr_image_scores(img, lab, roi_size=0), "roi_size must be a positive"),
    (lambda img, lab: dhpr_image_scores(img, lab, noise_cap=0), "noise_cap must be a number > 0"),
    (lambda img, lab: select_dhpr([img], [lab, lab]), "1 images but 2 labels"),
    (lambda img, lab: select_dhpr([], []), "no candidate stacks"),
    (lambda img, lab: select_dhpr(img, lab), "got one 3-D array; wrap it in a list"),
    (lambda img, lab: select_dhpr([img], [lab], n_select=0), "n_select must be a positive"),
    (lambda img, lab: select_dhpr([img, img[:, :3]], [lab, lab]), "candidate 1: .*shape"),
])
def test_bad_arguments_are_refused(call, match):
    img, lab = stack(3.0, 20, 10.0, seed=4)
    with pytest.raises(ValueError, match=match):
        call(img, lab)
