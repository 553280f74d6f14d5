"""Copy an executed example notebook back into its example folder, ready to commit.

    python -m emseg run example2 --output runs/example2
    python tools/commit_notebook.py runs/example2/example2_train_2d3d.ipynb

Removes papermill's injected-parameters cell (the committed notebook shows its own
defaults, which the run used apart from the output folder) and papermill's
per-cell timing metadata, gives each progress bar's plain-text copy the bar's final
state (what a reader without the live widget, and the docs site, see), and refuses a
notebook from a quick run, one with an error, or one over 5 MB.
"""
import html
import json
import sys
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[1]
LIMIT = 5_000_000


WIDGET = "application/vnd.jupyter.widget-view+json"
STATE = "application/vnd.jupyter.widget-state+json"


def final_bar_text(models, model_id, width=20):
    """The final text of a tqdm notebook bar (an HBox of HTML, FloatProgress, HTML) from the
    stored widget state, e.g. ``train: 100%|####| 1000/1000 [05:01<00:00, 3.32it/s]``."""
    box = models.get(model_id, {})
    if box.get("model_name") != "HBoxModel":
        return None
    parts = [models.get(ref.removeprefix("IPY_MODEL_"), {}) for ref in box["state"].get("children", [])]
    text = []
    for part in parts:
        state = part.get("state", {})
        if part.get("model_name") == "HTMLModel":
            text.append(html.unescape(state.get("value", "")).replace("\u2007", " "))
        elif part.get("model_name") == "FloatProgressModel":
            done = state.get("value", 0) / state.get("max", 1) if state.get("max") else 0
            n = int(round(width * min(max(done, 0), 1)))
            text.append("|" + "█" * n + " " * (width - n) + "|")
    return "".join(text) or None


def finalize_progress_bars(nb):
    """Replace the plain-text copy of every progress-bar widget (tqdm writes it once, at 0 %)
    with the bar's final state from the notebook's stored widget state."""
    models = nb.metadata.get("widgets", {}).get(STATE, {}).get("state", {})
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            view = out.get("data", {}).get(WIDGET)
            if view:
                text = final_bar_text(models, view.get("model_id"))
                if text:
                    out["data"]["text/plain"] = text


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
    finalize_progress_bars(nb)
    target = next(ROOT.glob(f"{path.stem.split('_')[0]}_*/{path.name}"))
    nbformat.write(nb, str(target))
    size = target.stat().st_size
    if size > LIMIT:
        sys.exit(f"{target} is {size / 1e6:.1f} MB, over the 5 MB limit")
    print(f"{target} ({size / 1e6:.2f} MB)")


if __name__ == "__main__":
    main(sys.argv[1])
