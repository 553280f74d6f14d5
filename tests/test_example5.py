"""Example 5 (neuron tracing) in its quick setting, as CI runs it."""
import json

import pytest

from emseg.run import find_example, run_example


@pytest.mark.slow
def test_example5_quick(tmp_path):
    assert find_example("5").name == "example5_neuron_tracing.ipynb"
    run_example("example5", quick=True, output=tmp_path, progress=False)
    record = json.loads((tmp_path / "results.json").read_text())
    assert record["data"].startswith("synthetic") and record["iterations"] == 20
    assert record["intensities"] == [1.0, 0.25] and len(record["selected"]) == 2
    rows = record["reports"]["tracing"]
    assert {r["method"] for r in rows} == {"VoxResNet + scooping", "baseline (threshold + skeleton)",
                                          "threshold + scooping"}
    assert len(rows) == 3 * 2 and all(0 <= r["f1"] <= 1 for r in rows)
    assert (tmp_path / "net.pt").is_file() and (tmp_path / "example5_neuron_tracing.html").is_file()
    swc = (tmp_path / "test0_voxresnet_scooping.swc").read_text()
    assert "VoxResNet + voxel scooping" in swc and len(swc.splitlines()) > 3
