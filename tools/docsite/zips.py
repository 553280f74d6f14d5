"""Downloadable source zips: one per example, and one of all examples.

A zip holds one folder (``emseg-example1/`` or ``emseg-examples/``) with the example
folder(s) (the committed notebook with its outputs, and any other file there), a copy
of the ``emseg`` library (``lib/emseg``: code, bundled weights, configuration
templates), the repository's ``pyproject.toml`` and ``requirements.txt`` (so that
``python -m pip install -r requirements.txt`` installs the library and what the
notebooks need) and a short README. Entries are sorted and carry a fixed timestamp and
mode, so the same files give the same zip.
"""
import io
import zipfile
from pathlib import Path

_SKIP_DIRS = {"__pycache__", ".ipynb_checkpoints", ".pytest_cache"}
_SKIP_SUFFIXES = (".pyc", ".pyo")
_DATE = (1980, 1, 1, 0, 0, 0)
INSTALL_FILES = ("pyproject.toml", "requirements.txt")


def _walk(folder):
    for path in sorted(Path(folder).rglob("*")):
        rel = path.relative_to(folder)
        if any(part in _SKIP_DIRS or part.startswith(".") or part.endswith(".egg-info")
               for part in rel.parts):
            continue
        if path.is_file() and not path.name.endswith(_SKIP_SUFFIXES):
            yield path


def with_needs(examples, *, root):
    """``examples`` and the examples they read results from (``Example.needs``), in order."""
    from docsite.notebooks import discover

    wanted = {ex.key for ex in examples} | {k for ex in examples for k in ex.needs}
    if wanted == {ex.key for ex in examples}:
        return list(examples)
    found = {ex.key: ex for ex in discover(root)}
    missing = sorted(wanted - set(found))
    if missing:
        raise ValueError(f"{', '.join(missing)} needed by {[ex.key for ex in examples]} not found")
    return sorted((found[k] for k in wanted), key=lambda ex: ex.number)


def zip_members(root, examples):
    """``{name inside the top folder: source path}`` for a zip of ``examples`` (and of the
    examples they need)."""
    root = Path(root)
    examples = with_needs(examples, root=root)
    members = {}
    for name in INSTALL_FILES:
        members[name] = root / name
    for path in _walk(root / "lib" / "emseg"):
        members[path.relative_to(root).as_posix()] = path
    for ex in examples:
        for path in _walk(ex.folder):
            members[path.relative_to(root).as_posix()] = path
    return members


def top_folder(examples, *, everything=False):
    return "emseg-examples" if everything else f"emseg-{examples[0].key}"


def zip_name(examples, *, everything=False):
    return f"{top_folder(examples, everything=everything)}.zip"


def readme(examples, *, everything=False, root=None):
    """The zip's README.md: what is in it, the install command, the run command."""
    needed = [] if everything or root is None else [
        ex for ex in with_needs(examples, root=root) if ex.key not in {e.key for e in examples}]
    if everything:
        head = "# emseg examples\n\nEvery example notebook of the emseg hub"
        listing = "\n".join(f"- `{ex.notebook.parent.name}/{ex.notebook.name}`: {ex.title}"
                            for ex in examples)
    else:
        ex = examples[0]
        head = f"# emseg {ex.key}: {ex.short_title}\n\nThe notebook of example {ex.number} of the emseg hub"
        listing = f"- `{ex.notebook.parent.name}/{ex.notebook.name}`: {ex.title}"
        for other in needed:
            listing += (f"\n- `{other.notebook.parent.name}/{other.notebook.name}`: {other.title} "
                        f"— example {ex.number} reads its results, so it comes along: run it first")
    first = examples[0]
    runs = "\n".join(f"python -m emseg run {ex.key}" for ex in [*needed, *examples])
    return f"""{head} (stored with the outputs of our own run), with a copy of the `emseg` library
(`lib/emseg`, with its bundled weights and configuration templates) and what installs it.

{listing}

## Install

Python >= 3.9. In this folder (a virtual environment is a good idea):

```bash
python -m pip install -r requirements.txt
```

This installs `emseg` (editable, from `lib/`) with PyTorch and what the notebooks need
(papermill, nbconvert, JupyterLab). On a machine without an NVIDIA GPU, install PyTorch's
CPU build first (a much smaller download):
`python -m pip install torch --index-url https://download.pytorch.org/whl/cpu`.
With a GPU nothing changes: `emseg` uses CUDA by itself.

## Run

```bash
{runs}
```

runs the notebook headlessly and writes the executed notebook, its HTML rendering and
`results.json` to `runs/<example>/`. Add `--quick` for the small setting (a minute or two
on a CPU; its numbers mean nothing), and `-p NAME VALUE` to set a parameter, e.g.
`python -m emseg run {first.key} -p source phantom` to stay offline. Or open the
notebook in JupyterLab (`jupyter lab`) and run it top to bottom.

## Data

With internet access the notebooks download the real data (and, for example 1, the
published nets) into the cache folder `$EMSEG_DATA_DIR` (default: your user cache folder,
e.g. `~/.cache/emseg`), verified by checksum. Without it, `source="auto"` falls back to the
library's synthetic phantom and says so; every results table states which data and which
device produced it.
"""


def build_zip(root, examples, *, everything=False):
    """The zip as bytes."""
    top = top_folder(examples, everything=everything)
    members = zip_members(root, examples)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=9) as zf:
        entries = {"README.md": readme(examples, everything=everything, root=root).encode("utf-8")}
        entries.update({name: path.read_bytes() for name, path in members.items()})
        for name in sorted(entries):
            info = zipfile.ZipInfo(f"{top}/{name}", date_time=_DATE)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            info.create_system = 3
            zf.writestr(info, entries[name])
    return buffer.getvalue()


def expected_names(root, examples, *, everything=False):
    """The names a zip of ``examples`` must hold (used by the tests)."""
    top = top_folder(examples, everything=everything)
    names = {f"{top}/{n}" for n in zip_members(root, examples)}
    return names | {f"{top}/README.md"}


def human_size(n):
    for unit in ("bytes", "kB", "MB", "GB"):
        if n < 1000 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "bytes" else f"{n:.1f} {unit}"
        n /= 1000

