"""Write the example notebooks from their jupytext percent sources in tools/notebooks/.

    python tools/make_notebooks.py            # write every exampleN_*/<notebook>.ipynb
    python tools/make_notebooks.py example2   # just one

Each source ``tools/notebooks/exampleN.py`` is a "py:percent" file (the format is in
tools/nbbuild.py's docstring): open it in an editor, or as a notebook in JupyterLab with
jupytext. The written notebooks have no outputs; the committed ones carry the outputs of a
full run (``python -m emseg run exampleN`` then ``python tools/commit_notebook.py
runs/exampleN/<notebook>.ipynb``). The run times measured then, kept in the committed
notebook's metadata, are carried over into the new one's introduction.
"""
import json
import sys
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from nbbuild import build, read_source, title_of, write  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


@dataclass
class Source:
    """One notebook source: its percent file, the header's settings and the cells."""

    name: str           # "example1"
    path: Path          # tools/notebooks/example1.py
    folder: str         # "example1_try_pretrained"
    notebook: str       # "example1_try_pretrained.ipynb"
    quick: dict         # the quick setting's parameter values
    needs: list         # the examples whose results it reads
    cells: list = field(repr=False)  # [(kind, text), ...] as nbbuild.read_source gives them

    @property
    def title(self):
        """The first markdown cell's H1."""
        return title_of(self.cells)


def read(path):
    """The :class:`Source` of the percent file at ``path``."""
    path = Path(path)
    settings, cells = read_source(path)
    return Source(name=path.stem, path=path, folder=settings["folder"],
                  notebook=settings["notebook"], quick=dict(settings["quick"]),
                  needs=list(settings.get("needs") or []), cells=cells)


def sources():
    """``{"example1": Source, ...}``: the notebook sources in tools/notebooks/."""
    return {src.stem: read(src) for src in sorted((ROOT / "tools" / "notebooks").glob("example*.py"))}


def target(src):
    """The committed notebook's path of a source."""
    return ROOT / src.folder / src.notebook


def committed_measured(path):
    """The ``measured`` metadata of the committed notebook at ``path`` (None if absent)."""
    if not Path(path).is_file():
        return None
    return json.loads(Path(path).read_text(encoding="utf-8")).get("metadata", {}).get(
        "emseg", {}).get("measured")


def build_example(src, measured=None):
    """The notebook (no outputs) of a source."""
    return build(src.cells, quick=src.quick, measured=measured, needs=src.needs)


def main(argv):
    for name, src in sources().items():
        if argv and name not in argv:
            continue
        path = target(src)
        path.parent.mkdir(exist_ok=True)
        write(build_example(src, committed_measured(path)), path)
        print(f"wrote {path}")


if __name__ == "__main__":
    main(sys.argv[1:])
