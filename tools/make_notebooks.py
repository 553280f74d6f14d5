"""Write the example notebooks from their plain-Python sources in tools/notebooks/.

    python tools/make_notebooks.py            # write every exampleN_*/<notebook>.ipynb
    python tools/make_notebooks.py example2   # just one

The written notebooks have no outputs; the committed ones carry the outputs of a full
run (``python -m emseg run exampleN`` then ``python tools/commit_notebook.py
runs/exampleN/<notebook>.ipynb``). The run times measured then, kept in the committed
notebook's metadata, are carried over into the new one's introduction.
"""
import importlib.util
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
sys.path.insert(0, str(Path(__file__).parent / "notebooks"))
from nbbuild import build, write  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


def sources():
    """``{"example1": module, ...}``: the notebook sources in tools/notebooks/."""
    found = {}
    for src in sorted((ROOT / "tools" / "notebooks").glob("example*.py")):
        spec = importlib.util.spec_from_file_location(src.stem, src)
        mod = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(mod)
        found[src.stem] = mod
    return found


def target(mod):
    """The committed notebook's path of a source module."""
    return ROOT / mod.FOLDER / mod.NOTEBOOK


def committed_measured(path):
    """The ``measured`` metadata of the committed notebook at ``path`` (None if absent)."""
    if not Path(path).is_file():
        return None
    return json.loads(Path(path).read_text(encoding="utf-8")).get("metadata", {}).get(
        "emseg", {}).get("measured")


def build_example(mod, measured=None):
    """The notebook (no outputs) of a source module."""
    return build(mod.CELLS, quick=mod.QUICK, title=mod.TITLE, measured=measured,
                 needs=getattr(mod, "NEEDS", ()))


def main(argv):
    for name, mod in sources().items():
        if argv and name not in argv:
            continue
        path = target(mod)
        path.parent.mkdir(exist_ok=True)
        write(build_example(mod, committed_measured(path)), path)
        print(f"wrote {path}")


if __name__ == "__main__":
    main(sys.argv[1:])
