"""read_image_label_folder: the layout, pairing by name, and a clear error for each bad input."""
import numpy as np
import pytest
import tifffile
from skimage.io import imsave

from emseg.data.io import read_image_label_folder


def make(root, names=("s1", "s2"), shape=(40, 48), label_value=255, suffix=".png"):
    (root / "images").mkdir(parents=True, exist_ok=True)
    (root / "labels").mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    for k, n in enumerate(names):
        img = rng.integers(0, 255, shape, dtype=np.uint8)
        lab = np.zeros(shape, np.uint8)
        lab[:, 5 + k:10 + k] = label_value
        tifffile.imwrite(root / "images" / f"{n}.tif", img)
        if suffix == ".png":
            imsave(root / "labels" / f"{n}.png", lab, check_contrast=False)
        else:
            tifffile.imwrite(root / "labels" / f"{n}{suffix}", lab)
    return root


def test_pairs_by_name_in_natural_order_and_binarises_255(tmp_path):
    make(tmp_path, names=("s10", "s2"))
    vols = read_image_label_folder(tmp_path, voxel_size=(50, 9, 9))
    assert [v.name for v in vols] == ["s2", "s10"]
    for v in vols:
        assert v.image.shape == v.labels.shape == (1, 40, 48)
        assert v.image.dtype == np.float32 and abs(float(v.image.mean())) < 1e-4
        assert v.labels.dtype == np.uint8 and set(np.unique(v.labels)) == {0, 1}
        assert v.source == "user" and v.voxel_size == (50.0, 9.0, 9.0)
    # s2 was written second (its band starts at x = 6): labels follow their images by name
    assert vols[0].labels[0, 0, 6:11].all() and not vols[0].labels[0, 0, 5]


def test_stacks_and_01_labels(tmp_path):
    (tmp_path / "images").mkdir()
    (tmp_path / "labels").mkdir()
    tifffile.imwrite(tmp_path / "images" / "a.tif", np.arange(3 * 32 * 32, dtype=np.float32).reshape(3, 32, 32),
                     photometric="minisblack")
    tifffile.imwrite(tmp_path / "labels" / "a.tiff", np.eye(32, dtype=np.uint8)[None].repeat(3, 0),
                     photometric="minisblack")
    (vol,) = read_image_label_folder(tmp_path)
    assert vol.image.shape == (3, 32, 32) and vol.labels.sum() == 3 * 32


def test_class_ids_are_kept_when_not_binary(tmp_path):
    make(tmp_path, names=("a",), label_value=3, suffix=".tif")
    (vol,) = read_image_label_folder(tmp_path, binary=False)
    assert set(np.unique(vol.labels)) == {0, 3}


def test_missing_and_empty_folders(tmp_path):
    with pytest.raises(FileNotFoundError, match="images is missing"):
        read_image_label_folder(tmp_path)
    (tmp_path / "images").mkdir()
    (tmp_path / "labels").mkdir()
    with pytest.raises(ValueError, match="holds no"):
        read_image_label_folder(tmp_path)


def test_two_files_with_one_name_are_refused(tmp_path):
    make(tmp_path)
    imsave(tmp_path / "images" / "s1.png", np.zeros((40, 48), np.uint8), check_contrast=False)
    with pytest.raises(ValueError, match="s1.png and s1.tif|s1.tif and s1.png"):
        read_image_label_folder(tmp_path)


def test_unpaired_files_are_named(tmp_path):
    make(tmp_path)
    (tmp_path / "labels" / "s2.png").unlink()
    tifffile.imwrite(tmp_path / "labels" / "extra.tif", np.zeros((40, 48), np.uint8))
    with pytest.raises(ValueError, match=r"no label for s2.tif.*no image for label\(s\) extra.tif"):
        read_image_label_folder(tmp_path)


def test_labels_that_are_not_binary(tmp_path):
    make(tmp_path, names=("a",), label_value=7, suffix=".tif")
    with pytest.raises(ValueError, match="label a.tif is not a binary mask: it holds the values 0, 7"):
        read_image_label_folder(tmp_path)


def test_size_mismatch(tmp_path):
    make(tmp_path, names=("a",))
    tifffile.imwrite(tmp_path / "images" / "a.tif", np.zeros((40, 50), np.uint8))
    with pytest.raises(ValueError, match="label a.png has shape 40x48 but image a.tif has 40x50"):
        read_image_label_folder(tmp_path)


def test_wrong_dimensionality_and_dtype(tmp_path):
    make(tmp_path, names=("a",))
    tifffile.imwrite(tmp_path / "images" / "a.tif", np.zeros((40, 48, 3), np.uint8),
                     photometric="rgb")
    with pytest.raises(ValueError, match="single-channel|grayscale"):
        read_image_label_folder(tmp_path)
    tifffile.imwrite(tmp_path / "images" / "a.tif", np.zeros((40, 48), np.complex64))
    with pytest.raises(ValueError, match="image a.tif must be a numeric"):
        read_image_label_folder(tmp_path)


def test_image_smaller_than_one_window(tmp_path):
    make(tmp_path, names=("a",))
    assert len(read_image_label_folder(tmp_path, min_shape=(32, 32))) == 1
    with pytest.raises(ValueError, match="a.tif is 40x48 pixels, smaller than one 64x64 window"):
        read_image_label_folder(tmp_path, min_shape=(64, 64))


def test_pair_by_name_is_the_one_pairing_rule(tmp_path):
    """Stems pair across suffixes, in the images' order; an empty label folder is named."""
    from pathlib import Path

    from emseg.data.io import pair_by_name

    images = [Path("im/s10.tif"), Path("im/s2.tif")]
    labels = [Path("lab/s2.png"), Path("lab/s10.tiff")]
    assert pair_by_name(images, labels) == [(images[0], labels[1]), (images[1], labels[0])]
    with pytest.raises(ValueError, match=r"no label for s10.tif, s2.tif in lab2; give each"):
        pair_by_name(images, [], label_folder="lab2")
