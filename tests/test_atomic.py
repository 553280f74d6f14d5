"""emseg.atomic: the output rule (no replacing unless asked, never over an input) and the
clean-up of temporaries an interrupted atomic write left behind."""
import pytest

from emseg.atomic import atomic_path, check_output, remove_stale_temporaries


def test_check_output_refuses_an_existing_file_unless_asked(tmp_path):
    out = tmp_path / "labels.tif"
    assert check_output(out) == out  # a new file is fine
    out.write_bytes(b"mine")
    with pytest.raises(ValueError, match=r"labels\.tif exists; pass --overwrite"):
        check_output(out, what="--output", how="--overwrite")
    assert check_output(out, overwrite=True) == out
    assert out.read_bytes() == b"mine"  # a check never writes


def test_check_output_never_allows_an_input(tmp_path):
    src = tmp_path / "image.tif"
    src.write_bytes(b"raw")
    for alias in (src, tmp_path / "." / "image.tif", str(src)):
        with pytest.raises(ValueError, match="also an input"):
            check_output(alias, inputs=[src], overwrite=True)
    link = tmp_path / "link.tif"
    link.symlink_to(src)
    with pytest.raises(ValueError, match="also an input"):
        check_output(link, inputs=[src], overwrite=True)
    # an input that does not exist yet (same name) is refused too; None inputs are skipped
    with pytest.raises(ValueError, match="also an input"):
        check_output(tmp_path / "new.tif", inputs=[None, tmp_path / "new.tif"])


def test_check_output_refuses_a_folder(tmp_path):
    with pytest.raises(ValueError, match="is a folder"):
        check_output(tmp_path, overwrite=True)


def test_remove_stale_temporaries_removes_only_our_names(tmp_path):
    with pytest.raises(RuntimeError):
        with atomic_path(tmp_path / "last.pt") as tmp:
            tmp.write_bytes(b"half")
            raise RuntimeError("interrupted")
    assert list(tmp_path.iterdir()) == []  # an exception cleans up itself
    stale = [tmp_path / ".last.0a1b2c3d.tmp.pt", tmp_path / ".history.deadbeef.tmp.json"]
    kept = [tmp_path / "last.pt", tmp_path / ".last.pt", tmp_path / ".x.nothex12.tmp.pt",
            tmp_path / "notes.tmp"]
    for p in stale + kept:
        p.write_bytes(b"x")
    removed = remove_stale_temporaries(tmp_path)
    assert sorted(removed) == sorted(stale)
    assert all(p.exists() for p in kept) and not any(p.exists() for p in stale)
    assert remove_stale_temporaries(tmp_path / "missing") == []


def test_write_json_writes_valid_json_with_nan_as_null(tmp_path):
    import json

    import numpy as np

    from emseg.atomic import write_json

    path = write_json(tmp_path / "r.json", {"iou": np.array([0.5, np.nan]), "loss": float("inf"),
                                           "n": np.int64(3), "where": tmp_path, "shape": (2, 3)})
    text = path.read_text()
    assert "NaN" not in text and "Infinity" not in text
    assert json.loads(text) == {"iou": [0.5, None], "loss": None, "n": 3, "where": str(tmp_path),
                                "shape": [2, 3]}
    with pytest.raises(TypeError, match="cannot write a object"):
        write_json(tmp_path / "bad.json", {"x": object()})
    assert not (tmp_path / "bad.json").exists()
