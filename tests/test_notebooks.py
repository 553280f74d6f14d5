"""The committed example notebooks: their code and prose are those of their percent sources
(tools/notebooks/exampleN.py, built by tools/make_notebooks.py), and their stored
outputs are clean — from a full run (not the quick setting), with no machine paths, no
warnings or tracebacks, no stray reprs, no NaN in a table, progress bars at their final
state, and the run's own 'About this run' note and measured run time."""
import json
import re
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tools"))
import make_notebooks  # noqa: E402

SOURCES = make_notebooks.sources()
# an absolute path of a machine: a Unix folder that users' files live under, or a drive
_PATH = re.compile(r"(?<![\w.~])/(?:root|home|tmp|work|Users|usr|var|opt|mnt|private)/"
                   r"|\b[A-Za-z]:\\\\")
_REPR = re.compile(r"^(?:\w*Path\(|<\w[\w.]* (?:object )?at 0x)")
_NAN = re.compile(r"\|\s*(?:nan|NaN|inf)\s*(?=\|)")


def _texts(out):
    if out["output_type"] == "stream":
        yield out["name"], "".join(out["text"])
    elif out["output_type"] == "error":
        yield "error", "\n".join(out.get("traceback", []))
    else:
        for mime, value in out.get("data", {}).items():
            if mime.startswith("text/"):
                yield mime, "".join(value) if isinstance(value, list) else value


@pytest.fixture(params=sorted(SOURCES), ids=str)
def committed(request):
    src = SOURCES[request.param]
    path = make_notebooks.target(src)
    return src, json.loads(path.read_text(encoding="utf-8"))


def test_committed_code_is_the_sources_code(committed):
    src, nb = committed
    built = make_notebooks.build_example(src, nb["metadata"].get("emseg", {}).get("measured"))
    mine = [(c["cell_type"], "".join(c["source"]), c["metadata"].get("tags", [])) for c in nb["cells"]]
    theirs = [(c.cell_type, c.source, c.metadata.get("tags", [])) for c in built.cells]
    assert mine == theirs, "the committed notebook is not tools/notebooks' notebook: re-run and commit it"
    # the settings too: `python -m emseg run --quick` reads the committed notebook's quick setting
    settings = {k: v for k, v in nb["metadata"]["emseg"].items() if k != "measured"}
    assert settings == {k: v for k, v in built.metadata["emseg"].items() if k != "measured"}, \
        "the committed notebook's metadata.emseg is not its source's: python tools/commit_notebook.py --sync"


def test_committed_outputs_are_clean(committed):
    _, nb = committed
    problems = []
    for k, cell in enumerate(nb["cells"]):
        for out in cell.get("outputs", []):
            for mime, text in _texts(out):
                where = f"cell {k} ({mime})"
                if mime == "error" or "Traceback" in text:
                    problems.append(f"{where}: a traceback")
                if re.search(r"\w*Warning\b", text):
                    problems.append(f"{where}: a warning: {text[:120]!r}")
                if _PATH.search(text):
                    problems.append(f"{where}: a machine path: {_PATH.search(text)[0]!r} in {text[:120]!r}")
                if mime == "text/markdown" and _NAN.search(text):
                    problems.append(f"{where}: NaN/inf in a table")
                if out["output_type"] == "execute_result" and mime == "text/plain" and _REPR.match(text):
                    problems.append(f"{where}: a stray repr {text[:60]!r}")
                if "application/vnd.jupyter.widget-view+json" in out.get("data", {}) \
                        and re.search(r"\b0%\|", text):
                    problems.append(f"{where}: a progress bar at 0 % (commit with tools/commit_notebook.py)")
    assert problems == []


def test_committed_outputs_come_from_a_full_run_and_say_so(committed):
    _, nb = committed
    code = [c for c in nb["cells"] if c["cell_type"] == "code"]
    assert all(isinstance(c.get("execution_count"), int) for c in code), \
        "a code cell was not executed: commit an executed notebook"
    assert not any("injected-parameters" in c["metadata"].get("tags", []) for c in nb["cells"])
    notes = [text for c in code for out in c["outputs"] for mime, text in _texts(out)
             if mime == "text/markdown" and text.startswith("> **About this run.**")]
    assert len(notes) == 1 and "full setting" in notes[0] and "quick" not in notes[0]
    measured = nb["metadata"]["emseg"].get("measured")
    assert measured and measured["seconds"] > 0 and measured["device"], "no measured run time"
    key = [c for c in code if "key-figure" in c["metadata"].get("tags", [])]
    assert len(key) == 1 and any("image/png" in o.get("data", {}) for o in key[0]["outputs"])


def test_the_checks_catch_what_they_look_for():
    """The patterns above find the leftovers the issue listed (so the tests can fail)."""
    assert _PATH.search("results go to /home/ana/emseg/runs/example1")
    assert _PATH.search("/tmp/ipykernel_25881/736013229.py:15: UserWarning")
    assert not _PATH.search("results go to ../runs/example1; cache ~/.cache/emseg")
    assert _REPR.match("PosixPath('../runs/example5/net.pt')")
    assert _NAN.search("| baseline | 0.000 | nan | 0.0 |")
    assert not _NAN.search("| baseline | 0.000 | — | 0.0 |")
