"""``python -m emseg``: the command line (see :mod:`emseg.cli`)."""
from emseg.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
