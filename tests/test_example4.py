"""Example 4 (ECS-Net) in its quick setting, as CI runs it."""
import json

import nbformat
import pytest

from emseg.run import find_example, list_examples, run_example


def test_example4_is_found():
    assert "example4" in list_examples()
    assert find_example("4").name == "example4_ecs_net.ipynb"


@pytest.mark.slow
def test_example4_quick_on_the_phantom(tmp_path):
    run_example("example4", quick=True, output=tmp_path, parameters={"source": "phantom"},
                progress=False)
    record = json.loads((tmp_path / "results.json").read_text())
    assert record["data"] == "synthetic ECS phantom" and record["iterations"] == 5
    assert list(record["reports"]) == ["U-Net (focal loss)", "+ shape-aware loss",
                                       "+ contrastive loss", "+ cascade = ECS-Net"]
    for scores in record["reports"].values():
        assert 0 <= scores["iou"] <= scores["dice"] <= 1
    assert set(record["quantification"]["ground_truth"]) == set(record["quantification"]["prediction"])
    for name in ("result/ecs_probability.tif", "result/ecs_labels.tif", "ecs_prediction.csv",
                 "ecs_ground_truth.csv", "ecsnet/checkpoints/best.pt", "example4_ecs_net.html"):
        assert (tmp_path / name).is_file(), name
    executed = nbformat.read(str(tmp_path / "example4_ecs_net.ipynb"), as_version=4)
    errors = [o for c in executed.cells if c.cell_type == "code" for o in c.get("outputs", [])
              if o.output_type == "error"]
    assert not errors


def test_example4_rejects_a_folder_source_without_a_folder(tmp_path):
    import papermill
    with pytest.raises(papermill.PapermillExecutionError, match="needs data_folder"):
        run_example("example4", quick=True, output=tmp_path, parameters={"source": "folder"},
                    progress=False)
