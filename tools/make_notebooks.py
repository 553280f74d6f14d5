"""Write the example notebooks from their plain-Python sources in tools/notebooks/.

    python tools/make_notebooks.py            # write every exampleN_*/<notebook>.ipynb
    python tools/make_notebooks.py example2   # just one

The written notebooks have no outputs; the committed ones carry the outputs of a full
run (``python -m emseg run exampleN --output DIR`` and copy DIR/<notebook>.ipynb back).
"""
import importlib.util
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
sys.path.insert(0, str(Path(__file__).parent / "notebooks"))
from nbbuild import build, write  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


def main(argv):
    sources = sorted((ROOT / "tools" / "notebooks").glob("example*.py"))
    for src in sources:
        if argv and src.stem not in argv:
            continue
        spec = importlib.util.spec_from_file_location(src.stem, src)
        mod = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(mod)
        folder = ROOT / mod.FOLDER
        folder.mkdir(exist_ok=True)
        write(build(mod.CELLS, quick=mod.QUICK, title=mod.TITLE), folder / mod.NOTEBOOK)
        print(f"wrote {folder / mod.NOTEBOOK}")


if __name__ == "__main__":
    main(sys.argv[1:])
