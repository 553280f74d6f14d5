import json
import math

import numpy as np
import pytest

from emseg.metrics import segmentation_report
from emseg.report import (compare_reports, format_report, load_results, markdown_table,
                          save_results)


def test_markdown_table_formats_and_checks_rows():
    text = markdown_table(["a", "b"], [["x", 0.123456], ["y", float("nan")], ["z", 3]], digits=2)
    assert text.splitlines() == ["| a | b |", "|---|---|", "| x | 0.12 |", "| y | — |", "| z | 3 |"]
    with pytest.raises(ValueError, match="2 cells, the header 1"):
        markdown_table(["a"], [[1, 2]])


def test_save_and_load_results_round_trip(tmp_path):
    true = np.array([0, 0, 1, 1, 2])
    report = segmentation_report(true, np.array([0, 1, 1, 1, 0]), n_classes=4)
    path = save_results(tmp_path / "r.json", reports={"net": report}, data="synthetic",
                        device="cpu", seconds=1.234, shape=(1, 2, 3))
    back = load_results(path)
    assert back["data"] == "synthetic" and back["seconds"] == 1.2 and back["shape"] == [1, 2, 3]
    assert back["reports"]["net"]["iou"][3] is None  # NaN (absent class) -> null
    assert math.isclose(back["reports"]["net"]["miou_all"], report["miou_all"])
    json.loads(path.read_text())  # plain JSON, no NaN tokens
    assert "NaN" not in path.read_text()
    assert load_results(tmp_path / "missing.json") is None


def test_about_run_says_what_this_run_was():
    from emseg.report import about_run, format_seconds

    full = about_run(data="synthetic platelet phantom", synthetic=True, device="cpu (2 threads)",
                     seconds=1015, work=["trained the 2D U-Net for 1,000 iterations"])
    assert "measured on synthetic data" in full and "17 min" in full
    assert "full setting" in full and "quick" not in full
    quick = about_run(data="real platelet SBF-SEM", synthetic=False, device="cuda (H200)",
                      seconds=30, work=[], reduced=["20 iterations instead of the preset's 1,000",
                                                    "test volume cropped to (8, 128, 128)"])
    assert "synthetic" not in quick and "30 s" in quick
    assert "reduced (quick) setting" in quick and "20 iterations instead" in quick
    assert "full setting" not in quick and "cropped" in quick
    assert "Precision" not in quick
    arithmetic = about_run(data="x", synthetic=False, device="cpu (2 threads)", seconds=5, work=[],
                           precision="training bfloat16, prediction float32")
    assert "Device: cpu (2 threads). Precision: training bfloat16, prediction float32. Run" in arithmetic
    with pytest.raises(TypeError, match="sequences"):
        about_run(data="x", synthetic=False, device="cpu", seconds=1, work="one string")
    assert format_seconds(7500) == "2 h 05 min"
    with pytest.raises(ValueError, match="finite"):
        format_seconds(float("nan"))


# --------------------------------------------------------------------------- report tables
# (moved from tests/test_metrics.py with format_report and compare_reports; the worked
# example of tests/metrics/test_multiclass.py: n_classes = 4, class 3 never occurs)

TRUE = np.array([0, 0, 1, 1, 2, 2])
PRED = np.array([0, 1, 1, 1, 2, 0])
NAMES = ["Background", "Cell", "Mitochondrion", "Alpha granule"]


def test_format_report():
    r = segmentation_report(TRUE, PRED, n_classes=4, class_names=NAMES, organelle_classes=[2, 3])
    text = format_report(r, title="U-Net, test volume")
    assert text.startswith("### U-Net, test volume")
    for name in NAMES:
        assert f"| {name} |" in text
    assert "| Cell | 2 | 0.6667 | 0.8000 |" in text
    assert "| Alpha granule | 0 | — | — |" in text
    assert "| MIoU (all classes) | 0.5000 |" in text
    assert "| MIoU (organelles: 2, 3) | 0.5000 |" in text
    assert "| Accuracy | 0.6667 |" in text
    assert "| ARI | 0.0741 |" in text
    no_org = format_report(segmentation_report(TRUE, PRED, n_classes=4))
    assert "| MIoU (organelles) | — |" in no_org and "###" not in no_org


def test_compare_reports():
    good = segmentation_report(TRUE, TRUE, n_classes=4, class_names=NAMES, organelle_classes=[2, 3])
    bad = segmentation_report(TRUE, PRED, n_classes=4, class_names=NAMES, organelle_classes=[2, 3])
    lines = compare_reports({"2D-3D": good, "U-Net": bad}).splitlines()
    assert lines[0] == "| Metric | 2D-3D | U-Net |"
    assert "| IoU Cell | 1.0000 | 0.6667 |" in lines
    assert "| IoU Alpha granule | — | — |" in lines
    assert "| MIoU (all classes) | 1.0000 | 0.5000 |" in lines
    assert "| MIoU (organelles: 2, 3) | 1.0000 | 0.5000 |" in lines
    other = segmentation_report(TRUE, PRED, n_classes=4)
    with pytest.raises(ValueError, match="same classes"):
        compare_reports({"a": good, "b": other})
    with pytest.raises(ValueError, match="non-empty dict"):
        compare_reports({})
