"""Copy an executed example notebook back into its example folder, ready to commit.

    python -m emseg run example2 --output runs/example2
    python tools/commit_notebook.py runs/example2/example2_train_2d3d.ipynb

Removes papermill's injected-parameters cell (the committed notebook shows its own
defaults, which the run used apart from the output folder) and papermill's
per-cell timing metadata, and refuses a notebook from a quick run, one with an
error, or one over 5 MB.
"""
import json
import sys
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[1]
LIMIT = 5_000_000


def main(path):
    path = Path(path)
    run = json.loads((path.parent / "run.json").read_text())
    if run.get("quick"):
        sys.exit(f"{path} comes from a --quick run: commit only full runs")
    nb = nbformat.read(str(path), as_version=4)
    nb.cells = [c for c in nb.cells if "injected-parameters" not in c.metadata.get("tags", [])]
    for cell in nb.cells:
        cell.metadata.pop("papermill", None)
        cell.metadata.pop("execution", None)
        if cell.cell_type == "code" and any(o.output_type == "error" for o in cell.outputs):
            sys.exit(f"{path} has an error in a cell: fix it first")
    nb.metadata.pop("papermill", None)
    target = next(ROOT.glob(f"{path.stem.split('_')[0]}_*/{path.name}"))
    nbformat.write(nb, str(target))
    size = target.stat().st_size
    if size > LIMIT:
        sys.exit(f"{target} is {size / 1e6:.1f} MB, over the 5 MB limit")
    print(f"{target} ({size / 1e6:.2f} MB)")


if __name__ == "__main__":
    main(sys.argv[1])
