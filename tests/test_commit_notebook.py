"""tools/commit_notebook.py: progress-bar widgets get their final state as plain text; prose
follows tools/notebooks while the executed code cells stay."""
import sys
from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_notebook, new_output

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tools"))
from commit_notebook import WIDGET, STATE, finalize_progress_bars, sync_with_sources  # noqa: E402


def _model(name, **state):
    return {"model_name": name, "model_module": "@jupyter-widgets/controls", "state": state}


def test_progress_bar_text_is_its_final_state():
    models = {
        "box": _model("HBoxModel", children=["IPY_MODEL_left", "IPY_MODEL_bar", "IPY_MODEL_right"]),
        "left": _model("HTMLModel", value="train:\u2007100%"),
        "bar": _model("FloatProgressModel", value=20.0, max=20.0),
        "right": _model("HTMLModel", value="\u200720/20\u2007[00:05&lt;00:00,\u20073.9it/s]"),
        "half": _model("HBoxModel", children=["IPY_MODEL_hl", "IPY_MODEL_hb"]),
        "hl": _model("HTMLModel", value="predict:\u200750%"),
        "hb": _model("FloatProgressModel", value=1.0, max=2.0),
    }
    out = new_output("display_data", data={WIDGET: {"model_id": "box"},
                                           "text/plain": "train:   0%|          | 0/20"})
    half = new_output("display_data", data={WIDGET: {"model_id": "half"}, "text/plain": "x"})
    other = new_output("display_data", data={WIDGET: {"model_id": "missing"}, "text/plain": "keep"})
    nb = new_notebook(cells=[new_code_cell("fit()", outputs=[out, half, other])])
    nb.metadata["widgets"] = {STATE: {"state": models}}
    finalize_progress_bars(nb)
    texts = [o["data"]["text/plain"] for o in nb.cells[0].outputs]
    assert texts[0] == "train: 100%|" + "█" * 20 + "| 20/20 [00:05<00:00, 3.9it/s]"
    assert texts[1] == "predict: 50%|" + "█" * 10 + " " * 10 + "|"
    assert texts[2] == "keep"  # no stored state: left as it was
    nbformat.validate(nb)


def test_sync_takes_the_sources_prose_and_keeps_the_executed_code_cells():
    from nbformat.v4 import new_markdown_cell

    built = new_notebook(cells=[new_markdown_cell("# Title"), new_code_cell("x = 1"),
                                new_markdown_cell("new prose"), new_code_cell("print(x)"),
                                new_markdown_cell("## The claim across seeds")])
    built.metadata["emseg"] = {"quick": {}}
    ran = new_code_cell("print(x)", outputs=[new_output("stream", name="stdout", text="1\n")])
    nb = new_notebook(cells=[new_markdown_cell("# Old title"), new_code_cell("x = 1"), ran])
    assert sync_with_sources(nb, built) is None
    assert [c.source for c in nb.cells] == [c.source for c in built.cells]
    assert nb.cells[3].outputs[0].text == "1\n"  # the executed cell, with its output

    changed = new_notebook(cells=[new_code_cell("x = 2"), new_code_cell("print(x)")])
    assert "code differs" in sync_with_sources(changed, built)
    fewer = new_notebook(cells=[new_code_cell("x = 1")])
    assert "code cells differ" in sync_with_sources(fewer, built)
