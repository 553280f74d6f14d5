"""Tests of emseg.data.io: reading TIFF files and slice folders, atomic TIFF writes."""
import os

import numpy as np
import pytest
import tifffile

from emseg.data import io as emio
from emseg.data.io import read_volume, write_volume


def _volume(shape=(3, 4, 5), dtype=np.uint16):
    return np.arange(np.prod(shape)).reshape(shape).astype(dtype)


def test_multipage_tiff_round_trip_keeps_values_and_dtype(tmp_path):
    vol = _volume()
    out = write_volume(tmp_path / "sub" / "dir" / "vol.tif", vol)
    assert out == tmp_path / "sub" / "dir" / "vol.tif"
    back = read_volume(out)
    assert back.dtype == np.uint16 and back.shape == (3, 4, 5)
    assert back[2, 3, 4] == 59 and np.array_equal(back, vol)
    assert os.listdir(out.parent) == ["vol.tif"]  # no temp file left


def test_default_compression_is_zlib_for_int_and_none_for_float(tmp_path):
    write_volume(tmp_path / "i.tif", _volume(dtype=np.uint8))
    write_volume(tmp_path / "f.tif", _volume(dtype=np.float32))
    write_volume(tmp_path / "n.tif", _volume(dtype=np.uint8), compression="none")
    with tifffile.TiffFile(tmp_path / "i.tif") as tif:
        assert tif.pages[0].compression == tifffile.COMPRESSION.ADOBE_DEFLATE
    with tifffile.TiffFile(tmp_path / "f.tif") as tif:
        assert tif.pages[0].compression == tifffile.COMPRESSION.NONE
    with tifffile.TiffFile(tmp_path / "n.tif") as tif:
        assert tif.pages[0].compression == tifffile.COMPRESSION.NONE


def test_2d_image_reads_as_one_slice_and_bool_writes_as_uint8(tmp_path):
    mask = np.array([[True, False], [False, True]])
    back = read_volume(write_volume(tmp_path / "m.tiff", mask))
    assert back.shape == (1, 2, 2) and back.dtype == np.uint8
    assert back[0].tolist() == [[1, 0], [0, 1]]


def test_dtype_conversion_reads_slice_by_slice(tmp_path, monkeypatch):
    import tifffile
    vol = np.linspace(0, 1, 3 * 4 * 5).reshape(3, 4, 5)  # float64
    path = write_volume(tmp_path / "w.tif", vol)

    def whole_volume(*args, **kwargs):
        raise AssertionError("read the whole float64 volume instead of slice by slice")

    monkeypatch.setattr(tifffile.TiffPageSeries, "asarray", whole_volume)
    back = read_volume(path, dtype=np.float32)
    assert back.dtype == np.float32
    np.testing.assert_allclose(back, vol.astype(np.float32))


def test_slice_folder_is_stacked_in_natural_order(tmp_path):
    from skimage.io import imsave
    folder = tmp_path / "slices"
    folder.mkdir()
    for z in (10, 2, 1):  # names s1, s2, s10: natural order 1, 2, 10 (not 1, 10, 2)
        imsave(folder / f"s{z}.png", np.full((4, 6), z, np.uint8), check_contrast=False)
    (folder / ".hidden.png").write_bytes(b"junk")
    (folder / "notes.txt").write_text("ignored")
    vol = read_volume(folder)
    assert vol.shape == (3, 4, 6) and vol.dtype == np.uint8
    assert vol[:, 0, 0].tolist() == [1, 2, 10]


def test_tiff_slice_folder(tmp_path):
    for z in range(3):
        tifffile.imwrite(tmp_path / f"z{z:02d}.tif", np.full((2, 3), z * 7, np.uint16))
    assert read_volume(tmp_path)[:, 1, 2].tolist() == [0, 7, 14]


def test_missing_path_names_it(tmp_path):
    with pytest.raises(FileNotFoundError, match="nope.tif does not exist"):
        read_volume(tmp_path / "nope.tif")


def test_tiff_extension_with_html_bytes_is_not_a_tiff(tmp_path):
    bad = tmp_path / "fake.tif"
    bad.write_bytes(b"<!DOCTYPE html><html>Dropbox</html>")
    with pytest.raises(ValueError, match="is not a TIFF file"):
        read_volume(bad)


def test_unsupported_extension_lists_supported(tmp_path):
    bad = tmp_path / "vol.h5"
    bad.write_bytes(b"\x89HDF")
    with pytest.raises(ValueError, match=r"unsupported file type '\.h5'.*\.tif, \.tiff"):
        read_volume(bad)


def test_empty_folder_and_mismatched_slices(tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(ValueError, match="holds no"):
        read_volume(empty)
    tifffile.imwrite(tmp_path / "a1.tif", np.zeros((2, 3), np.uint8))
    tifffile.imwrite(tmp_path / "a2.tif", np.zeros((3, 3), np.uint8))
    with pytest.raises(ValueError, match=r"a2.tif has shape \(3, 3\) but a1.tif has \(2, 3\)"):
        read_volume(tmp_path)


def test_rgb_tiff_is_refused(tmp_path):
    tifffile.imwrite(tmp_path / "rgb.tif", np.zeros((4, 5, 3), np.uint8), photometric="rgb")
    with pytest.raises(ValueError, match="grayscale"):
        read_volume(tmp_path / "rgb.tif")


@pytest.mark.parametrize("array, err, match", [
    (np.zeros((0, 4, 4)), ValueError, "empty"),
    (np.array([["a", "b"]]), ValueError, "numeric"),
    (np.zeros((2, 2, 2, 2, 2)), ValueError, "2 or 3 or 4-D"),
    ("volume.tif", TypeError, "numpy array"),
])
def test_write_refuses_bad_arrays_and_writes_nothing(tmp_path, array, err, match):
    with pytest.raises(err, match=match):
        write_volume(tmp_path / "out.tif", array)
    assert list(tmp_path.iterdir()) == []


def test_write_refuses_bad_extension_and_compression(tmp_path):
    with pytest.raises(ValueError, match="ending in .tif or .tiff"):
        write_volume(tmp_path / "out.png", _volume())
    with pytest.raises(ValueError, match="compression must be one of"):
        write_volume(tmp_path / "out.tif", _volume(), compression="jpeg2000")
    assert list(tmp_path.iterdir()) == []


def test_failed_write_keeps_old_file_and_leaves_no_temp(tmp_path, monkeypatch):
    path = write_volume(tmp_path / "keep.tif", _volume())

    def broken_imwrite(file, *args, **kwargs):
        with open(file, "wb") as fh:
            fh.write(b"II*\x00partial")
        raise OSError("disk full")

    monkeypatch.setattr(emio.tifffile, "imwrite", broken_imwrite)
    with pytest.raises(OSError, match="disk full"):
        write_volume(path, np.zeros((2, 2, 2), np.uint8), overwrite=True)
    assert os.listdir(tmp_path) == ["keep.tif"]
    monkeypatch.undo()
    assert np.array_equal(read_volume(path), _volume())


def test_truncated_tiff_is_one_error_naming_the_file(tmp_path):
    rng = np.random.default_rng(0)
    for dtype in (np.uint8, np.float32):
        path = tmp_path / f"stack-{np.dtype(dtype).name}.tif"
        write_volume(path, rng.random((20, 64, 64)).astype(dtype))
        data = path.read_bytes()
        cut = tmp_path / f"cut-{np.dtype(dtype).name}.tif"
        cut.write_bytes(data[:len(data) // 3])
        with pytest.raises(ValueError, match=f"{cut.name}: cannot read this TIFF file, it is "
                                             f"truncated or damaged"):
            read_volume(cut)
        assert read_volume(path).shape == (20, 64, 64)  # the intact file reads as before


def test_a_stack_in_a_slice_folder_is_called_a_stack(tmp_path):
    write_volume(tmp_path / "slices" / "a.tif", np.zeros((3, 8, 8), np.uint8))
    with pytest.raises(ValueError, match="stack of sections"):
        read_volume(tmp_path / "slices")
