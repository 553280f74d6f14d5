"""The notebooks' jupytext percent sources (tools/notebooks/exampleN.py): pyflakes finds
nothing in their code, and tools/nbbuild.py reads the format as its docstring says (the
header's settings, the title from the H1, the shared snippets and claim cells, and a refusal
for anything it would otherwise drop)."""
import ast
import json
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tools"))
import make_notebooks  # noqa: E402
import nbbuild  # noqa: E402

SOURCES = sorted((REPO / "tools" / "notebooks").glob("example*.py"))

# pyflakes messages allowed in a source, as (message class, first argument). Each is a real
# flaw, but fixing it changes a committed notebook's code, whose outputs come from a full run
# of exactly that code (tests/test_notebooks.py): fix it with the example's next full run,
# and remove it here.
ALLOWED = {
    # the blockwise cell imports write_volume again (already imported by the setup cell) so
    # that it shows everything it uses; harmless
    "example1": {("RedefinedWhileUnused", "write_volume")},
    # the setup cell was shared with example 3, whose comparison uses load_results
    "example2": {("UnusedImport", "emseg.report.load_results")},
}


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: p.stem)
def test_pyflakes_finds_nothing_in_the_notebook_code(path):
    """The whole file, as the notebook runs it (top to bottom): markdown cells are comments,
    and code is never included from elsewhere (tools/nbbuild.py), so this is all its code."""
    from pyflakes.checker import Checker

    text = path.read_text(encoding="utf-8")
    messages = Checker(ast.parse(text, filename=str(path)), filename=str(path)).messages
    allowed = ALLOWED.get(path.stem, set())
    found = {(type(m).__name__, m.message_args[0] if m.message_args else None) for m in messages}
    problems = sorted(str(m) for m in messages
                      if (type(m).__name__, m.message_args[0] if m.message_args else None) not in allowed)
    assert problems == []
    assert allowed <= found, f"allowed but no longer found (remove from ALLOWED): {allowed - found}"


def test_every_source_has_its_settings_and_title():
    found = make_notebooks.sources()
    assert sorted(found) == [p.stem for p in SOURCES]
    for name, src in found.items():
        assert src.folder.startswith(f"{name}_") and src.notebook.endswith(".ipynb")
        assert make_notebooks.target(src).is_file() and src.quick
        assert src.title.startswith(f"Example {name.removeprefix('example')}: ")
        assert all(other in found for other in src.needs)


_HEADER = """# ---
# jupyter:
#   jupytext:
#     text_representation:
#       extension: .py
#       format_name: percent
#   emseg:
#     folder: example9_toy
#     notebook: toy.ipynb
#     quick: {size: 2}
#     needs: [example1]
# ---
"""


def _source(tmp_path, body, header=_HEADER):
    path = tmp_path / "example9.py"
    path.write_text(header + body, encoding="utf-8")
    return path


def test_a_percent_source_becomes_its_notebook(tmp_path, monkeypatch):
    results = tmp_path / "results.json"
    results.write_text(json.dumps({"claims": {"toy": {
        "setting": "3 seeds", "budget": "20 iterations", "device": "a CPU",
        "verdicts": [{"verdict": "supported", "statement": "IoU rises", "reason": "p < 0.05"},
                     {"verdict": "undecided", "statement": "Dice rises", "reason": "2 seeds"}]}}}))
    monkeypatch.setattr(nbbuild, "CLAIMS", results)
    path = _source(tmp_path, """
# %% [markdown]
# # Example 9: a toy
#
# Its intro.

# %% [markdown] emseg_include="about"

# %% tags=["parameters"]
size = 10


# %%
def double(x):
    return 2 * x


# %% tags=["key-figure"]
print(double(size))

# %% [markdown] emseg_claim="toy" emseg_what="the toy's claim" emseg_only="IoU"
""")
    src = make_notebooks.read(path)
    assert (src.name, src.folder, src.notebook, src.quick, src.needs) == (
        "example9", "example9_toy", "toy.ipynb", {"size": 2}, ["example1"])
    assert src.title == "Example 9: a toy"
    nb = make_notebooks.build_example(src, {"seconds": 60, "device": "a CPU"})
    assert nb.metadata["emseg"]["title"] == "Example 9: a toy"
    assert nb.metadata["emseg"]["quick"] == {"size": 2} and nb.metadata["emseg"]["needs"] == ["example1"]
    kinds = [(c.cell_type, c.metadata.get("tags", [])) for c in nb.cells]
    assert kinds == [("markdown", []), ("markdown", []), ("code", ["parameters"]), ("code", []),
                     ("code", ["key-figure"]), ("markdown", [])]
    assert nb.cells[0].source.startswith("# Example 9: a toy\n\nIts intro.\n\n**Run time**, measured: ")
    assert nb.cells[1].source == (REPO / "tools" / "notebooks" / "shared" / "about.md").read_text().strip("\n")
    assert nb.cells[3].source == "def double(x):\n    return 2 * x"
    claim = nb.cells[5].source
    assert claim.startswith("## The claim across seeds") and "refute the toy's claim" in claim
    assert "**supported**: IoU rises (p < 0.05)." in claim and "Dice" not in claim  # only IoU


@pytest.mark.parametrize("body, match", [
    ('# %% [markdown] emseg_include="nope"\n', "no shared snippet 'nope'.*there are: about"),
    ('# %% [markdown] emseg_include="about"\n# some text\n', "has no text of its own"),
    ('# %% [markdown] emseg_claim="toy"\n', r"unknown cell metadata \['emseg_claim'\]"),
    ('# %% emseg_include="about"\nx = 1\n', "unknown cell metadata"),
    ('# %% tags=["parameters", "key-figure"]\nx = 1\n', "code cells may have one of"),
    ('# %% tags=["figure"]\nx = 1\n', "code cells may have one of"),
    ('# %% [markdown] tags=["parameters"]\n# text\n', "a markdown cell with tags"),
])
def test_what_the_builder_would_drop_is_refused(tmp_path, body, match):
    path = _source(tmp_path, "\n# %% [markdown]\n# # Example 9: a toy\n\n" + body)
    with pytest.raises(ValueError, match=match):
        nbbuild.read_source(path)


def test_the_header_needs_the_settings_and_the_notebook_an_h1(tmp_path):
    path = _source(tmp_path, "\n# %% [markdown]\n# # Example 9\n",
                   header=_HEADER.replace("#     notebook: toy.ipynb\n", "").replace("needs", "need"))
    with pytest.raises(ValueError, match=r"missing \['notebook'\], unknown \['need'\]"):
        nbbuild.read_source(path)
    _, cells = nbbuild.read_source(_source(tmp_path, "\n# %% [markdown]\n# ## Not a title\n"))
    with pytest.raises(ValueError, match="does not open with an H1"):
        nbbuild.build(cells, quick={})
