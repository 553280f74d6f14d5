"""Copy an executed example notebook back into its example folder, ready to commit.

    python -m emseg run example2 --output runs/example2
    python -m emseg run example2 --quick --output runs/example2-quick     # optional
    python tools/commit_notebook.py runs/example2/example2_train_2d3d.ipynb [--quick-run runs/example2-quick]
    python tools/commit_notebook.py --sync example4 example5     # prose changes only

Removes papermill's injected-parameters cell (the committed notebook shows its own
defaults, which the run used apart from the output folder) and papermill's per-cell
timing metadata; gives each progress bar's plain-text copy the bar's final state (what a
reader without the live widget, and the docs site, see); records the run's measured time,
device and peak memory (and the quick run's time, if given) in the notebook's metadata
and introduction; and refuses a notebook from a quick run, one with an error, one whose
code is not the code of tools/notebooks (re-run it after a change), or one over 5 MB.
"""
import argparse
import html
import json
import sys
from pathlib import Path

import nbformat

sys.path.insert(0, str(Path(__file__).parent))
import make_notebooks  # noqa: E402

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


def measured_from(run_dir, quick_dir=None, previous=None):
    """The ``measured`` record of a full run folder (run.json, results.json), with the
    quick run's time from ``quick_dir`` or, without one, from ``previous``."""
    run = json.loads((Path(run_dir) / "run.json").read_text())
    results = json.loads((Path(run_dir) / "results.json").read_text())
    measured = {"seconds": run["seconds"], "device": results["device"],
                "peak_memory_mb": run.get("peak_memory_mb"),
                "quick_seconds": (previous or {}).get("quick_seconds"),
                "gpu_seconds": (previous or {}).get("gpu_seconds")}
    if quick_dir is not None:
        quick = json.loads((Path(quick_dir) / "run.json").read_text())
        if not quick.get("quick"):
            sys.exit(f"{quick_dir} is not a --quick run")
        measured["quick_seconds"] = quick["seconds"]
    return measured


def sync_with_sources(nb, built):
    """Take the markdown cells (added, changed or removed) and the cell tags of ``built``
    (the notebook tools/notebooks makes now) around ``nb``'s executed code cells; refuse
    when the code differs (the outputs would not be this code's)."""
    code = [c for c in nb.cells if c.cell_type == "code"]
    wanted = [c for c in built.cells if c.cell_type == "code"]
    if len(code) != len(wanted):
        return "its code cells differ from tools/notebooks"
    for mine, theirs in zip(code, wanted):
        if mine.source != theirs.source:
            return f"its code differs from tools/notebooks (cell {theirs.get('id')})"
    executed = iter(code)
    cells = []
    for theirs in built.cells:
        cell = next(executed) if theirs.cell_type == "code" else theirs
        tags = theirs.metadata.get("tags")
        if tags:
            cell.metadata["tags"] = tags
        else:
            cell.metadata.pop("tags", None)
        cells.append(cell)
    nb.cells = cells
    nb.metadata.setdefault("emseg", {}).update(built.metadata["emseg"])
    return None


def sync_committed(name):
    """Bring a committed notebook's prose up to date with tools/notebooks (its outputs and
    measured record stay): for changes to markdown only, e.g. new claims verdicts."""
    src = make_notebooks.sources().get(name)
    if src is None:
        sys.exit(f"error: {name} is not one of {', '.join(make_notebooks.sources())}")
    target = make_notebooks.target(src)
    nb = nbformat.read(str(target), as_version=4)
    measured = nb.metadata.get("emseg", {}).get("measured")
    problem = sync_with_sources(nb, make_notebooks.build_example(src, measured))
    if problem:
        sys.exit(f"error: {target}: {problem}; re-run the notebook and commit the run instead")
    nbformat.write(nb, str(target))
    print(f"{target}: prose synced")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("notebook", nargs="?", help="the executed notebook of a full run")
    parser.add_argument("--quick-run", help="the output folder of a --quick run of the same example")
    parser.add_argument("--sync", nargs="+", metavar="EXAMPLE",
                        help="instead: bring these committed notebooks' markdown up to date with "
                             "tools/notebooks (e.g. example4 example5), keeping their outputs")
    args = parser.parse_args(argv)
    if args.sync:
        for name in args.sync:
            sync_committed(name)
        return
    if not args.notebook:
        parser.error("give the executed notebook of a full run, or --sync EXAMPLE ...")
    path = Path(args.notebook)
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
    src = next((s for s in make_notebooks.sources().values() if s.notebook == path.name), None)
    if src is None:
        sys.exit(f"{path.name} is not one of the notebooks in tools/notebooks")
    target = make_notebooks.target(src)
    measured = measured_from(path.parent, args.quick_run, make_notebooks.committed_measured(target))
    problem = sync_with_sources(nb, make_notebooks.build_example(src, measured))
    if problem:
        sys.exit(f"{path}: {problem}; run it again with the current sources")
    nbformat.write(nb, str(target))
    size = target.stat().st_size
    if size > LIMIT:
        sys.exit(f"{target} is {size / 1e6:.1f} MB, over the 5 MB limit")
    print(f"{target} ({size / 1e6:.2f} MB)")


if __name__ == "__main__":
    main()
