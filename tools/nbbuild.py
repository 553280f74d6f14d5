"""Build an example notebook from a plain-Python cell list (used by tools/make_notebooks.py).

Cells are ("md", text), ("code", text), ("params", text) (the cell tagged
``parameters``) or ("figure", text) (a code cell tagged ``key-figure``: its first
figure is the example's thumbnail on the docs site's home page). The notebooks'
sources live in tools/notebooks/*.py so that they can be reviewed as plain text;
``python tools/make_notebooks.py`` writes the .ipynb files (without outputs).

``measured`` (written by tools/commit_notebook.py from a full run into the committed
notebook's metadata, and read back from there) adds the measured run time and memory to
the introduction. ``needs`` names the examples whose results the notebook reads.
"""
import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from emseg.report import format_seconds


def measured_text(measured):
    """One Markdown paragraph: run times and peak memory measured on our machine."""
    quick = measured.get("quick_seconds")
    gpu = measured.get("gpu_seconds")
    memory = measured.get("peak_memory_mb")
    parts = [f"**Run time**, measured: {format_seconds(measured['seconds'])} on "
             f"{measured['device']} with the default parameters",
             f"{format_seconds(quick)} in the quick setting (`--quick`)" if quick is not None
             else "quick setting not measured",
             f"{format_seconds(gpu)} on a GPU with the original preset" if gpu is not None
             else "on a GPU with the original preset: not measured (no GPU was available)"]
    text = "; ".join(parts) + "."
    if memory is not None:
        text += f" **Peak memory**: {memory / 1024:.1f} GB."
    return text


def build(cells, *, quick, title, measured=None, needs=()):
    nb = new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                 "language": "python"}
    nb.metadata["language_info"] = {"name": "python"}
    nb.metadata["emseg"] = {"quick": quick, "title": title}
    if needs:  # examples whose results this one reads (its zip holds them too)
        nb.metadata["emseg"]["needs"] = list(needs)
    if measured:
        nb.metadata["emseg"]["measured"] = dict(measured)
    intro_done = False
    for kind, text in cells:
        text = text.strip("\n")
        if kind == "md":
            if measured and not intro_done:
                text = f"{text}\n\n{measured_text(measured)}"
                intro_done = True
            nb.cells.append(new_markdown_cell(text))
        elif kind == "params":
            nb.cells.append(new_code_cell(text, metadata={"tags": ["parameters"]}))
        elif kind == "figure":
            nb.cells.append(new_code_cell(text, metadata={"tags": ["key-figure"]}))
        elif kind == "code":
            nb.cells.append(new_code_cell(text))
        else:
            raise ValueError(f"unknown cell kind {kind!r}")
    for i, cell in enumerate(nb.cells):
        cell["id"] = f"cell-{i:02d}"
    return nb


def write(nb, path):
    nbformat.validate(nb)
    nbformat.write(nb, str(path))
