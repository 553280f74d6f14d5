"""Build an example notebook from a plain-Python cell list (used by tools/make_notebooks.py).

Cells are ("md", text), ("code", text) or ("params", text) (the cell tagged
``parameters``). The notebooks' sources live in tools/notebooks/*.py so that they can
be reviewed as plain text; ``python tools/make_notebooks.py`` writes the .ipynb files
(without outputs) and keeps outputs already there only when ``--keep-outputs`` is given.
"""
import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook


def build(cells, *, quick, title):
    nb = new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                 "language": "python"}
    nb.metadata["language_info"] = {"name": "python"}
    nb.metadata["emseg"] = {"quick": quick, "title": title}
    for kind, text in cells:
        text = text.strip("\n")
        if kind == "md":
            nb.cells.append(new_markdown_cell(text))
        elif kind == "params":
            nb.cells.append(new_code_cell(text, metadata={"tags": ["parameters"]}))
        else:
            nb.cells.append(new_code_cell(text))
    for i, cell in enumerate(nb.cells):
        cell["id"] = f"cell-{i:02d}"
    return nb


def write(nb, path):
    nbformat.validate(nb)
    nbformat.write(nb, str(path))
