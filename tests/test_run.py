"""Tests of emseg.run (headless notebook execution) on a toy notebook; the examples in their
quick setting (what CI runs) are tests/test_examples.py."""
import json
import os

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from emseg.cli import main
from emseg.run import find_example, list_examples, parse_value, run_example


def _toy(folder, *, fail=False):
    nb = new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                 "language": "python"}
    nb.metadata["emseg"] = {"quick": {"size": 2}}
    nb.cells = [new_markdown_cell("# Toy"),
                new_code_cell("size = 10\nlabel = 'x'\noutput_dir = 'out'",
                              metadata={"tags": ["parameters"]}),
                new_code_cell("import os, json\n"
                              + ("raise RuntimeError('boom')\n" if fail else "")
                              + "json.dump({'size': size, 'label': label, 'cwd': os.getcwd()},"
                                " open(os.path.join(output_dir, 'toy.json'), 'w'))"),
                new_code_cell("from IPython.display import Markdown, display\n"
                              "display(Markdown(f'| size |\\n|---|\\n| {size} |'))")]
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "toy.ipynb"
    nbformat.write(nb, str(path))
    return path


def test_parse_value():
    assert parse_value("3") == 3 and parse_value("0.5") == 0.5
    assert parse_value("None") is None and parse_value("true") is True
    assert parse_value("[8, 96, 96]") == [8, 96, 96]
    assert parse_value("phantom") == "phantom" and parse_value("'a b'") == "a b"


def test_examples_are_found_from_the_repository():
    examples = list_examples()
    for n in (1, 2, 3):
        assert f"example{n}" in examples
        assert find_example(str(n)) == examples[f"example{n}"]
    with pytest.raises(FileNotFoundError, match="examples found: example1"):
        find_example("example99")


def test_run_toy_notebook_with_quick_and_parameters(tmp_path):
    nb = _toy(tmp_path / "example9_toy")
    out = run_example(nb, quick=True, output=tmp_path / "run", parameters={"label": "y"},
                      progress=False)
    assert out == (tmp_path / "run" / "toy.ipynb").resolve()
    assert (tmp_path / "run" / "toy.html").stat().st_size > 1000
    record = json.loads((tmp_path / "run" / "toy.json").read_text())
    assert record["size"] == 2 and record["label"] == "y"  # quick setting, then -p
    assert os.path.samefile(record["cwd"], nb.parent)  # runs in the notebook's folder
    run = json.loads((tmp_path / "run" / "run.json").read_text())
    assert run["quick"] is True and run["parameters"]["size"] == 2
    # output_dir is given relative to the notebook's folder: printed paths stay portable
    assert not os.path.isabs(run["parameters"]["output_dir"])
    assert os.path.samefile(nb.parent / run["parameters"]["output_dir"], tmp_path / "run")
    from emseg.run import final_results
    assert final_results(out) == "| size |\n|---|\n| 2 |"  # what emseg run prints at the end
    with pytest.raises(ValueError, match="no parameter.*nope.*parameters are: label"):
        run_example(nb, output=tmp_path / "run2", parameters={"nope": 1}, progress=False)


def test_failing_notebook_keeps_the_executed_copy(tmp_path, capsys):
    nb = _toy(tmp_path / "example9_toy", fail=True)
    assert main(["run", str(nb), "--output", str(tmp_path / "run"), "--quiet"]) == 1
    assert "RuntimeError: boom" in capsys.readouterr().err
    executed = nbformat.read(str(tmp_path / "run" / "toy.ipynb"), as_version=4)
    errors = [o for c in executed.cells if c.cell_type == "code" for o in c.get("outputs", [])
              if o.output_type == "error"]
    assert errors and errors[0].evalue == "boom"
    assert not list((tmp_path / "run").glob(".*running*"))
