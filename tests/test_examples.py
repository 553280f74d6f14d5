"""Every example notebook in its quick setting, as CI runs it: one test parametrised over the
repository's ``exampleN_*`` folders. Each runs once with ``run_example(name, quick=True)``
(what ``python -m emseg run exampleN --quick`` does) on the offline synthetic data; an
example that reads another's results (``metadata.emseg.needs``) gets that run's folder.
The checks every example shares come first, then the example's own (``CHECKS``)."""
import json
import re
import sys
from pathlib import Path

import nbformat
import pytest

from emseg.run import find_example, list_examples, run_example

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tools"))
import make_notebooks  # noqa: E402

SOURCES = make_notebooks.sources()
EXAMPLES = sorted({m[1] for f in REPO.glob("example[0-9]*_*") if (m := re.match(r"(example\d+)_", f.name))},
                  key=lambda k: int(k[7:]))

# parameters besides the quick setting: the offline synthetic data (example 5 always uses it)
PARAMETERS = {"example1": {"source": "phantom"}, "example2": {"source": "phantom"},
              "example3": {"source": "phantom"}, "example4": {"source": "phantom"}}


def _check_example1(out, record):
    assert record["nets"] == [f"phantom-2d3d_{i}" for i in range(4)]
    assert set(record["reports"]) == {*record["nets"], "ensemble"}
    assert record["data"] == "synthetic platelet phantom"


def _check_example2(out, record):
    assert record["data"] == "synthetic platelet phantom" and record["iterations"] == 20
    (report,) = record["reports"].values()
    assert 0 <= report["miou_all"] <= 1 and len(report["iou"]) == 7
    assert (out / "net.pt").is_file()


def _check_example3(out, record):
    assert record["iterations"] == 20
    text = (out / "example3_train_unet.ipynb").read_text()
    assert "higher organelle MIoU" in text  # the comparison with example 2's run ran


def _check_example4(out, record):
    assert record["data"] == "synthetic ECS phantom" and record["iterations"] == 5
    assert list(record["reports"]) == ["U-Net (focal loss)", "+ shape-aware loss",
                                       "+ contrastive loss", "+ cascade = ECS-Net"]
    for scores in record["reports"].values():
        assert 0 <= scores["iou"] <= scores["dice"] <= 1
    assert set(record["quantification"]["ground_truth"]) == set(record["quantification"]["prediction"])
    for name in ("result/ecs_probability.tif", "result/ecs_labels.tif", "ecs_prediction.csv",
                 "ecs_ground_truth.csv", "ecsnet/checkpoints/best.pt"):
        assert (out / name).is_file(), name


def _check_example5(out, record):
    assert record["data"].startswith("synthetic") and record["iterations"] == 20
    assert record["intensities"] == [1.0, 0.25] and len(record["selected"]) == 2
    rows = record["reports"]["tracing"]
    assert {r["method"] for r in rows} == {"VoxResNet + scooping", "baseline (threshold + skeleton)",
                                          "threshold + scooping"}
    assert len(rows) == 3 * 2 and all(0 <= r["f1"] <= 1 for r in rows)
    assert (out / "net.pt").is_file()
    swc = (out / "test0_voxresnet_scooping.swc").read_text()
    assert "VoxResNet + voxel scooping" in swc and len(swc.splitlines()) > 3


# each example's own checks, of (its output folder, its results.json)
CHECKS = {"example1": _check_example1, "example2": _check_example2, "example3": _check_example3,
          "example4": _check_example4, "example5": _check_example5}


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory):
    """``quick_run(name)``: the output folder of the example's quick run, run once per module
    (example 3's test reuses example 2's run, as its ``needs`` asks)."""
    runs = {}

    def run(name):
        if name not in runs:
            nb = nbformat.read(str(find_example(name)), as_version=4)
            parameters = dict(PARAMETERS.get(name, {}))
            for other in nb.metadata.get("emseg", {}).get("needs", []):
                parameters[f"{other}_results"] = str(run(other) / "results.json")
            out = tmp_path_factory.mktemp(name)
            run_example(name, quick=True, output=out, parameters=parameters, progress=False)
            runs[name] = out
        return runs[name]
    return run


@pytest.mark.parametrize("name", EXAMPLES)
def test_example_is_found(name):
    """``python -m emseg run exampleN`` (and ``N``) finds the notebook its source names."""
    assert name in list_examples()
    notebook = find_example(name.removeprefix("example"))
    assert notebook == list_examples()[name] == make_notebooks.target(SOURCES[name])
    assert notebook.name == SOURCES[name].notebook and notebook.parent.name == SOURCES[name].folder


@pytest.mark.slow
@pytest.mark.parametrize("name", EXAMPLES)
def test_example_quick(name, quick_run):
    out = quick_run(name)
    notebook = find_example(name)
    run = json.loads((out / "run.json").read_text())
    assert run["quick"] is True
    record = json.loads((out / "results.json").read_text())
    executed = nbformat.read(str(out / notebook.name), as_version=4)
    errors = [o for c in executed.cells if c.cell_type == "code" for o in c.get("outputs", [])
              if o.output_type == "error"]
    assert not errors
    assert (out / notebook.with_suffix(".html").name).is_file()
    CHECKS[name](out, record)


def test_example4_rejects_a_folder_source_without_a_folder(tmp_path):
    import papermill
    with pytest.raises(papermill.PapermillExecutionError, match="needs data_folder"):
        run_example("example4", quick=True, output=tmp_path, parameters={"source": "folder"},
                    progress=False)
