import numpy as np

from emseg.augment import AugmentConfig, augment_window, elastic_field


def _window(seed=0):
    rng = np.random.default_rng(seed)
    image = rng.normal(size=(3, 32, 40)).astype(np.float32)
    return image, (image > 0).astype(np.uint8), np.abs(image)


def test_same_generator_state_same_result():
    image, labels, weights = _window()
    a = augment_window(image, labels, weights, np.random.default_rng(7))
    b = augment_window(image, labels, weights, np.random.default_rng(7))
    c = augment_window(image, labels, weights, np.random.default_rng(8))
    for x, y in zip(a, b):
        assert np.array_equal(x, y)
    assert not np.array_equal(a[0], c[0])


def test_flips_are_applied_to_all_arrays_together():
    # the original discarded np.flip's result; here labels must follow the image
    image, labels, weights = _window()
    cfg = AugmentConfig(elastic=False, brightness=0.0, contrast=0.0)
    flipped_any = False
    for seed in range(8):
        img, lab, w = augment_window(image, labels, weights, np.random.default_rng(seed), config=cfg)
        assert np.array_equal(lab, (img > 0).astype(np.uint8))
        assert np.allclose(w, np.abs(img))
        flipped_any |= not np.array_equal(img, image)
    assert flipped_any


def test_elastic_warp_moves_pixels_and_keeps_label_set():
    # labels 0, 3, 7: linear interpolation would create values in between, nearest cannot
    rng = np.random.default_rng(1)
    labels = rng.choice(np.array([0, 3, 7], np.uint8), size=(3, 32, 40))
    image = labels.astype(np.float32)
    cfg = AugmentConfig(flips=False, brightness=0.0, contrast=0.0)
    img, lab, w = augment_window(image, labels, image.copy(), np.random.default_rng(0), config=cfg)
    assert img.shape == image.shape and lab.dtype == labels.dtype
    assert not np.array_equal(lab, labels)
    assert set(np.unique(lab)) <= {0, 3, 7}


def test_elastic_warp_keeps_labels_aligned_with_the_image():
    # smooth regions: the linearly warped image and the nearest-warped labels must agree
    # away from region borders
    yy, xx = np.meshgrid(np.arange(64), np.arange(64), indexing="ij")
    labels = np.broadcast_to(((yy // 16 + xx // 16) % 2).astype(np.uint8), (2, 64, 64)).copy()
    image = labels.astype(np.float32)
    cfg = AugmentConfig(flips=False, brightness=0.0, contrast=0.0, elastic_alpha=40.0)
    img, lab, _ = augment_window(image, labels, None, np.random.default_rng(5), config=cfg)
    assert not np.array_equal(lab, labels)  # it did warp
    agree = np.mean((img > 0.5) == (lab == 1))
    assert agree > 0.97
    # the same field warps all z slices: displacement is 2D
    dy, dx = elastic_field((32, 40), np.random.default_rng(0))
    assert dy.shape == dx.shape == (32, 40) and np.abs(dy).max() > 0.5


def test_brightness_and_contrast_stay_within_bounds():
    image, labels, weights = _window()
    cfg = AugmentConfig(elastic=False, flips=False, brightness=0.12, contrast=0.2)
    img, lab, _ = augment_window(image, labels, weights, np.random.default_rng(3), config=cfg)
    rng_span = image.max() - image.min()
    assert abs(img.mean() - image.mean()) <= 0.12 * rng_span + 1e-5
    assert 0.8 - 1e-5 <= img.std() / image.std() <= 1.2 + 1e-5
    assert np.array_equal(lab, labels)


def test_quarter_turns_keep_labels_under_their_pixels_and_cover_all_four():
    rng = np.random.default_rng(3)
    image = rng.normal(size=(2, 24, 24)).astype(np.float32)
    labels, weights = (image > 0).astype(np.uint8), np.abs(image)
    cfg = AugmentConfig(elastic=False, flips=False, rotate=True, brightness=0.0, contrast=0.0)
    seen = set()
    for seed in range(24):
        img, lab, w = augment_window(image, labels, weights, np.random.default_rng(seed), config=cfg)
        assert np.array_equal(lab, (img > 0).astype(np.uint8)) and np.allclose(w, np.abs(img))
        turns = [k for k in range(4) if np.array_equal(img, np.rot90(image, k, (1, 2)))]
        assert len(turns) == 1
        seen.add(turns[0])
    assert seen == {0, 1, 2, 3}
    # non-square windows are left unturned (a turn would change their shape)
    flat = rng.normal(size=(1, 8, 12)).astype(np.float32)
    out = augment_window(flat, (flat > 0).astype(np.uint8), None, np.random.default_rng(0),
                         config=cfg)
    assert np.array_equal(out[0], flat)
