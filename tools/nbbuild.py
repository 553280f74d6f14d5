"""Build an example notebook from its jupytext percent source (used by tools/make_notebooks.py).

A source, ``tools/notebooks/exampleN.py``, is a `jupytext <https://jupytext.readthedocs.io>`_
"py:percent" file: the notebook's cells in order, one ``# %%`` marker each.

- ``# %% [markdown]``: a markdown cell, its lines commented with ``# ``. The first markdown
  cell's H1 (``# # Example N: ...``) is the notebook's title.
- ``# %%``: a code cell. ``# %% tags=["parameters"]`` is the parameters cell (papermill's,
  and ``python -m emseg run``'s), ``# %% tags=["key-figure"]`` the cell whose first figure
  is the example's thumbnail on the docs site's home page.
- two kinds of markdown cell, written with an empty body, are filled in by the builder:
  ``# %% [markdown] emseg_include="about"`` is the shared snippet
  ``tools/notebooks/shared/about.md`` (the snippets are the ``.md`` files there), and
  ``# %% [markdown] emseg_claim="platelet" emseg_what="the paper's claim that ..."``
  (optionally ``emseg_only="IoU"``) is the closing cell on a paper's claim, with the claims
  benchmark's verdicts read from ``bench/claims/results.json`` when the notebook is built.
  Code is never included: every code cell is written out in its source, where pyflakes
  (tests/test_notebook_sources.py) and editors see it.

The header's ``jupyter: emseg:`` metadata holds the notebook's settings: ``folder`` and
``notebook`` (where the committed notebook lives), ``quick`` (the parameter values of the
quick setting CI runs, ``python -m emseg run exampleN --quick``) and, optionally, ``needs``
(the examples whose results the notebook reads). ``python tools/make_notebooks.py`` writes
the .ipynb files (without outputs).

``measured`` (written by tools/commit_notebook.py from a full run into the committed
notebook's metadata, and read back from there) adds the measured run time and memory to
the introduction.
"""
import json
from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from emseg.report import format_seconds

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT / "tools" / "notebooks" / "shared"
CLAIMS = ROOT / "bench" / "claims" / "results.json"
SETTINGS = {"folder", "notebook", "quick", "needs"}  # the header's emseg: keys
TAGS = {"parameters": "params", "key-figure": "figure"}
# cell metadata that only records the source's layout (blank lines between cells)
LAYOUT = {"lines_to_next_cell", "lines_to_end_of_cell_marker"}


def shared_snippets():
    """``{"about": text, ...}``: the markdown snippets that ``emseg_include`` names."""
    return {p.stem: p.read_text(encoding="utf-8") for p in sorted(SHARED.glob("*.md"))}


def claim_markdown(name, *, what, only=None, results=None):
    """The closing cell on a paper's claim: its verdicts as the claims benchmark measured
    them (``results``, by default ``bench/claims/results.json``: several seeds, runs at their
    plateau), so that the notebook's single run is read next to them. ``what`` names the
    claim in prose; ``only`` keeps the verdicts whose statement contains it (e.g. ``"IoU"``)."""
    results = Path(CLAIMS if results is None else results)
    claim = json.loads(results.read_text(encoding="utf-8"))["claims"].get(name) \
        if results.is_file() else None
    head = (f"## The claim across seeds\n\nThis notebook is one run with one seed: on its own "
            f"it cannot support or refute {what}. The repository's claims benchmark "
            f"(`bench/claims`; the docs site's *Results* page has its full tables) compares the "
            f"arms on the same seeds and test volumes and gives a verdict only where at least "
            f"three seeds were run, the mean validation curve of the arm the conclusion is "
            f"drawn against reached its plateau (the other arm still rising points further "
            f"the same way; where both arms share their nets, every net) and no run left a "
            f"class unlearned; otherwise it says "
            f"*undecided* and why. A verdict holds at the budget it names.\n\n")
    if claim is None:
        return head + ("**Not measured yet** by those rules: no verdict, and this "
                       "notebook's comparison decides nothing.\n")
    lines = [f"- **{v['verdict']}**: {v['statement']} ({v['reason']})." for v in claim["verdicts"]
             if only is None or only in v["statement"]]
    if not lines:
        lines = ["- no verdict yet: the runs so far are listed on the *Results* page."]
    return (head + f"Measured so far: {claim['setting']}; {claim['budget']}; "
            f"{claim['device']}.\n\n" + "\n".join(lines) + "\n")


def read_source(path):
    """``(settings, cells)`` of a percent source: the header's ``emseg`` settings and the
    cells as ``(kind, text)``, kind one of md, code, params, figure, with the shared
    snippets and claim cells filled in. Refuses what the builder would otherwise drop."""
    import jupytext  # only reading a source needs it (the test extra installs it)

    path = Path(path)
    nb = jupytext.read(path, fmt="py:percent")
    settings = dict(nb.metadata.get("emseg") or {})
    missing = {"folder", "notebook", "quick"} - set(settings)
    unknown = set(settings) - SETTINGS
    if missing or unknown:
        raise ValueError(f"{path}: the header's emseg: metadata needs folder, notebook and quick "
                         f"(and may have needs); missing {sorted(missing)}, unknown {sorted(unknown)}")
    snippets = None
    cells = []
    for k, cell in enumerate(nb.cells):
        where = f"{path.name}, cell {k}"
        meta = {key: value for key, value in cell.metadata.items() if key not in LAYOUT}
        tags = meta.pop("tags", [])
        if cell.cell_type == "markdown" and not tags and set(meta) == {"emseg_include"}:
            snippets = shared_snippets() if snippets is None else snippets
            name = meta["emseg_include"]
            if name not in snippets:
                raise ValueError(f"{where}: no shared snippet {name!r} in {SHARED} "
                                 f"(there are: {', '.join(snippets)})")
            if cell.source.strip():
                raise ValueError(f"{where}: an emseg_include cell has no text of its own")
            cells.append(("md", snippets[name]))
        elif cell.cell_type == "markdown" and not tags and "emseg_claim" in meta \
                and set(meta) <= {"emseg_claim", "emseg_what", "emseg_only"} and "emseg_what" in meta:
            if cell.source.strip():
                raise ValueError(f"{where}: an emseg_claim cell has no text of its own")
            cells.append(("md", claim_markdown(meta["emseg_claim"], what=meta["emseg_what"],
                                               only=meta.get("emseg_only"))))
        elif meta:
            raise ValueError(f"{where}: unknown cell metadata {sorted(meta)} (a markdown cell may "
                             "have emseg_include, or emseg_claim with emseg_what and emseg_only)")
        elif cell.cell_type == "markdown" and not tags:
            cells.append(("md", cell.source))
        elif cell.cell_type == "code" and len(tags) <= 1 and all(t in TAGS for t in tags):
            cells.append((TAGS[tags[0]] if tags else "code", cell.source))
        else:
            raise ValueError(f"{where}: a {cell.cell_type} cell with tags {tags} (code cells may "
                             f"have one of {', '.join(TAGS)})")
    return settings, cells


def title_of(cells):
    """The notebook's title: the H1 that opens its first markdown cell."""
    first = next((text for kind, text in cells if kind == "md"), "")
    line = first.strip("\n").split("\n", 1)[0]
    if not line.startswith("# "):
        raise ValueError(f"the first markdown cell does not open with an H1 (# Title): {line[:60]!r}")
    return line[2:].strip()


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


def build(cells, *, quick, measured=None, needs=()):
    """The notebook (no outputs) of ``cells`` (``(kind, text)`` as :func:`read_source`
    gives them); its ``metadata.emseg.title`` is the first markdown cell's H1."""
    nb = new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                 "language": "python"}
    nb.metadata["language_info"] = {"name": "python"}
    nb.metadata["emseg"] = {"quick": quick, "title": title_of(cells)}
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
