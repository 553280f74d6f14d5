import json
import math

import numpy as np
import pytest

from emseg.metrics import segmentation_report
from emseg.report import load_results, markdown_table, save_results


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
