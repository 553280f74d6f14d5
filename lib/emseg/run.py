"""Run the example notebooks headlessly: ``python -m emseg run exampleN``.

Each example is one notebook in a folder ``exampleN_<name>/`` next to the library
(the repository root, or an unzipped example). :func:`run_example` executes it
with papermill into an output folder, which then holds the executed notebook, its
HTML rendering and whatever the notebook writes there.

Every notebook has a cell tagged ``parameters`` (papermill's convention) and names
its own quick setting in its metadata (``metadata["emseg"]["quick"]``: parameter
values for a small, fast run, the one CI uses). ``quick=True`` applies it; explicit
``parameters`` override both.
"""
import ast
import os
import re
import sys
import time
from pathlib import Path

from emseg.atomic import atomic_path, write_json

__all__ = ["find_example", "list_examples", "run_example", "parse_value", "final_results"]


def _roots():
    """Folders that may hold ``exampleN_*`` folders: the working folder and its parents,
    and the folder above the installed package's source tree (``lib/..``)."""
    here = Path.cwd().resolve()
    roots = [here, *here.parents]
    package = Path(__file__).resolve().parent  # .../lib/emseg
    roots += [package.parent.parent, package.parent]
    seen, out = set(), []
    for r in roots:
        if r not in seen:
            seen.add(r)
            out.append(r)
    return out


def list_examples():
    """``{"example1": notebook path, ...}`` for the examples found (see :func:`find_example`)."""
    found = {}
    for root in _roots():
        for folder in sorted(root.glob("example[0-9]*_*")):
            m = re.match(r"(example\d+)_", folder.name)
            notebooks = sorted(folder.glob("*.ipynb"))
            if m and notebooks and m[1] not in found:
                found[m[1]] = notebooks[0]
        if found:
            break  # the nearest folder holding examples wins
    return found


def find_example(name):
    """The notebook of example ``name`` (``"example1"``, ``"1"`` or a path to a notebook).

    Raises
    ------
    FileNotFoundError
        When no such example is found; the message lists those that are.
    """
    path = Path(str(name))
    if path.suffix == ".ipynb":
        if not path.is_file():
            raise FileNotFoundError(f"no notebook at {path}")
        return path.resolve()
    key = str(name).lower()
    key = f"example{key}" if key.isdigit() else key
    examples = list_examples()
    if key not in examples:
        shown = ", ".join(examples) or "none"
        raise FileNotFoundError(
            f"no example {name!r} found (examples found: {shown}). Run this from the "
            f"repository (or an unzipped example) folder, or give the path of a notebook.")
    return examples[key]


def parse_value(text):
    """A command-line parameter value: a Python literal (``3``, ``0.5``, ``None``,
    ``True``, ``[5, 64, 64]``, ``'x'``), or else the text itself."""
    if text.lower() in ("none", "null"):
        return None
    if text.lower() in ("true", "false"):
        return text.lower() == "true"
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return text


def _notebook_parameters(nb):
    """Names assigned in the cell tagged ``parameters``."""
    for cell in nb.cells:
        if "parameters" in cell.get("metadata", {}).get("tags", []):
            tree = ast.parse(cell.source)
            return {t.id for node in tree.body if isinstance(node, ast.Assign)
                    for t in node.targets if isinstance(t, ast.Name)}
    raise ValueError("the notebook has no cell tagged 'parameters'")


def run_example(name, *, quick=False, output=None, parameters=None, html=True, progress=True,
                kernel=None, timeout=None):
    """Execute an example notebook with papermill; return the executed notebook's path.

    Parameters
    ----------
    name : str or Path
        ``"example1"`` (or ``"1"``), or the path of a notebook.
    quick : bool
        Apply the notebook's quick setting (small volumes, few iterations).
    output : str or Path, optional
        Output folder (default ``runs/<example>``, ``runs/<example>-quick`` with
        ``quick``). The notebook's ``output_dir`` parameter is set to it, as a path
        relative to the notebook's folder (where the notebook runs).
    parameters : dict, optional
        Parameter values, overriding the quick setting. Unknown names are refused.
    html : bool
        Also write the executed notebook as HTML next to it.
    progress : bool
        Show papermill's cell progress bar.
    kernel : str, optional
        Jupyter kernel (default: the notebook's, usually ``python3``).
    timeout : float, optional
        Per-cell time limit in seconds (default: none).

    Returns
    -------
    Path
        The executed notebook ``<output>/<notebook name>.ipynb``.

    Raises
    ------
    FileNotFoundError
        When the example is not found.
    ValueError
        For a parameter the notebook does not have.
    papermill.PapermillExecutionError
        When a cell fails; the executed notebook (with the error) is still written.
    """
    import nbformat
    import papermill

    notebook = find_example(name)
    nb = nbformat.read(notebook, as_version=4)
    known = _notebook_parameters(nb)
    values = dict(nb.metadata.get("emseg", {}).get("quick", {})) if quick else {}
    values.update(parameters or {})
    unknown = sorted(set(values) - known)
    if unknown:
        raise ValueError(f"{notebook.name} has no parameter(s) {', '.join(unknown)}; its "
                         f"parameters are: {', '.join(sorted(known))}")
    stem = re.match(r"(example\d+)", notebook.parent.name)
    label = stem[1] if stem else notebook.stem
    out = Path(output) if output is not None else Path("runs") / (label + ("-quick" if quick else ""))
    out = out.resolve()
    out.mkdir(parents=True, exist_ok=True)
    if "output_dir" in known and "output_dir" not in (parameters or {}):
        # relative to the notebook's folder (where it runs): what the notebook prints
        # then holds no machine path
        try:
            values["output_dir"] = os.path.relpath(out, notebook.parent)
        except ValueError:  # another drive (Windows)
            values["output_dir"] = str(out)
    target = out / notebook.name
    tmp = out / f".{notebook.stem}.running.ipynb"
    t0 = time.perf_counter()
    try:
        papermill.execute_notebook(str(notebook), str(tmp), parameters=values,
                                   cwd=str(notebook.parent), progress_bar=progress,
                                   kernel_name=kernel, execution_timeout=timeout)
    finally:
        # papermill writes the notebook as it goes, also when a cell fails: keep it (with
        # the error) under its name; a run that never started leaves the old one alone
        if tmp.exists() and tmp.stat().st_size:
            tmp.replace(target)
            if html:
                _write_html(target, out / f"{notebook.stem}.html")
        tmp.unlink(missing_ok=True)
    seconds = time.perf_counter() - t0
    record = {"notebook": str(notebook), "quick": quick, "parameters": values,
              "seconds": round(seconds, 1), "peak_memory_mb": _children_peak_memory_mb()}
    write_json(out / "run.json", record)
    return target


def final_results(notebook):
    """The Markdown tables and notes the last code cell of an executed notebook displayed
    (every example ends with its Results cell), as one text; empty when there are none."""
    import nbformat

    nb = nbformat.read(str(notebook), as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code" and c.get("outputs")]
    if not code:
        return ""
    shown = [out.get("data", {}).get("text/markdown") for out in code[-1].outputs]
    return "\n\n".join(s if isinstance(s, str) else "".join(s) for s in shown if s)


def _children_peak_memory_mb():
    """The largest resident memory of any finished child process (the notebook's kernel,
    or a worker process it started), in MB; None where the platform does not say (Windows)."""
    try:
        import resource
    except ImportError:
        return None
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return round(peak / (1024 * 1024 if sys.platform == "darwin" else 1024), 1)  # bytes on macOS


def _write_html(notebook_path, html_path):
    import nbconvert
    import nbformat

    nb = nbformat.read(notebook_path, as_version=4)
    body, _ = nbconvert.HTMLExporter().from_notebook_node(nb)
    with atomic_path(html_path) as tmp:
        tmp.write_text(body, encoding="utf-8")
