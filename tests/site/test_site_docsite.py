"""Unit tests of the docs-site generators (tools/docsite): notebook -> Markdown,
discovery, links, includes, zips. No mkdocs needed."""
import base64
import io
import json
import struct
import zipfile
import zlib
from pathlib import Path

import pytest

from docsite import notebooks, pages, zips

REPO = Path(__file__).resolve().parents[2]


def _png(width=3, height=2):
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    raw = b"".join(b"\x00" + b"\x80" * width for _ in range(height))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


def _notebook(folder, name, cells, *, title=None, quick=None):
    folder.mkdir(parents=True, exist_ok=True)
    nb = {"nbformat": 4, "nbformat_minor": 5, "cells": cells,
          "metadata": {"emseg": {"title": title, "quick": quick or {}}} if title else {}}
    (folder / name).write_text(json.dumps(nb))
    return folder / name


def _md(text):
    return {"cell_type": "markdown", "metadata": {}, "source": text}


def _code(text, outputs=(), tags=()):
    return {"cell_type": "code", "metadata": {"tags": list(tags)}, "source": text,
            "outputs": list(outputs), "execution_count": 1}


def test_discover_orders_by_number_and_ignores_folders_without_notebooks(tmp_path):
    _notebook(tmp_path / "example10_big", "b.ipynb", [_md("# Ten")])
    _notebook(tmp_path / "example2_small", "a.ipynb", [_md("No title")], title="Example 2: small one")
    (tmp_path / "example3_empty").mkdir()
    (tmp_path / "examples_notes").mkdir()
    found = notebooks.discover(tmp_path)
    assert [e.key for e in found] == ["example2", "example10"]
    assert found[0].title == "Example 2: small one" and found[0].short_title == "small one"
    assert found[1].title == "Ten"  # the first H1 first


def test_notebook_markdown_renders_every_kind_of_output(tmp_path):
    png = _png()
    cells = [
        _md("# Example 7: a toy\n\nIntro paragraph.\n\n**Paper**: Someone et al. (2020). The code did not run.\n\n"
            "See [example 2](../example2_small/a.ipynb), [the bench](../bench/README.md) "
            "and [the web](https://example.org)."),
        _code("x = 1", tags=["parameters"]),
        _code("print(x)", [
            {"output_type": "stream", "name": "stdout", "text": "loading 10%\rloading 100%\n"},
            {"output_type": "stream", "name": "stdout", "text": "\x1b[31mred\x1b[0m done\n"},
            {"output_type": "display_data", "metadata": {},
             "data": {"image/png": base64.b64encode(png).decode(), "text/plain": "<Figure>"}},
            {"output_type": "display_data", "metadata": {},
             "data": {"text/markdown": "| a | b |\n|---|---|\n| 1 | 2 |", "text/plain": "x"}},
            {"output_type": "display_data", "metadata": {},
             "data": {"text/html": "<b>bold</b><script src='https://cdn.example/x.js'></script>"}},
            {"output_type": "display_data", "metadata": {},
             "data": {"application/vnd.jupyter.widget-view+json": {"model_id": "1"},
                      "text/plain": "train: 100%|####| 20/20 [00:05<00:00]"}},
            {"output_type": "display_data", "metadata": {},
             "data": {"application/vnd.jupyter.widget-view+json": {"model_id": "2"}}},
            {"output_type": "error", "ename": "ValueError", "evalue": "bad",
             "traceback": ["\x1b[31mValueError\x1b[0m: bad"]},
        ]),
        _code("print('long')", [{"output_type": "stream", "name": "stdout",
                                 "text": "".join(f"line {i}\n" for i in range(100))}]),
    ]
    folder = tmp_path / "example7_toy"
    _notebook(folder, "toy.ipynb", cells, title="Example 7: a toy")
    _notebook(tmp_path / "example2_small", "a.ipynb", [_md("# Two")])
    found = notebooks.discover(tmp_path)
    ex = found[-1]
    assert ex.papers == "Someone et al. (2020)." and ex.intro == "Intro paragraph."

    def resolve(target):
        return "example2.md" if "example2_" in target else None

    md, files = notebooks.notebook_markdown(ex, files_dir="example7_files", resolve_link=resolve)
    assert md.startswith("# Example 7: a toy")
    assert "[example 2](example2.md)" in md                       # example link -> its page
    assert "the bench (`../bench/README.md`)" in md               # not on the site: text only
    assert "[the web](https://example.org)" in md
    assert '```python title="parameters"\nx = 1\n```' in md
    assert "loading 100%" in md and "loading 10%" not in md       # \r progress resolved
    assert "red done" in md and "\x1b" not in md                  # ANSI codes removed
    assert list(files) == ["example7_files/cell02-2.png"] and files["example7_files/cell02-2.png"] == png
    assert "![Figure of cell 2](example7_files/cell02-2.png)" in md
    assert "| a | b |" in md
    assert "<b>bold</b>" in md and "script" not in md.lower()      # no scripts on a static site
    assert "train: 100%|####| 20/20" in md                        # a bar's final text is shown
    assert "ValueError: bad" in md
    assert '??? note "Output (100 lines)"' in md                  # long output folded


def test_sections_and_markdown_outputs():
    nb = {"cells": [_md("# T"), _md("## 1. Work"),
                    _code("", [{"output_type": "display_data", "data": {"text/markdown": "A"}}]),
                    _md("## Results"),
                    _code("", [{"output_type": "display_data", "data": {"text/markdown": "B"}},
                               {"output_type": "stream", "name": "stdout", "text": "x"}]),
                    _md("### Detail"),
                    _code("", [{"output_type": "display_data", "data": {"text/markdown": "C"}}]),
                    _md("## After")]}
    ex = notebooks.Example("example1", 1, None, None, nb)
    assert notebooks.markdown_outputs(notebooks.section(ex, "^results$")) == ["B", "C"]
    assert notebooks.section(ex, "^nothing$") == []


def test_include_takes_a_section_and_moves_its_headings(tmp_path):
    (tmp_path / "R.md").write_text("# Title\n\nintro\n\n## Bench\n\ntext\n\n```\n# not a heading\n```\n\n"
                                   "### Sub\n\nmore\n\n## Next\n\nno\n")
    got = pages.include(tmp_path, "R.md", "^bench", level=3)
    assert got.splitlines()[0] == "### Bench" and "#### Sub" in got and "Next" not in got
    assert "# not a heading" in got  # code fences are left alone
    whole = pages.include(tmp_path, "R.md")
    assert "# Title" not in whole and "## Next" in whole
    with pytest.raises(pages.MarkerError, match="no heading matching"):
        pages.include(tmp_path, "R.md", "^missing")
    with pytest.raises(pages.MarkerError, match="unknown marker"):
        pages.expand_markers("<!-- emseg:nope -->", page="x.md", root=tmp_path, examples=[],
                             zip_sizes={}, resolve_link=lambda t: None)


def test_relative_paths():
    assert notebooks.relative("index.md", "examples/example1.md") == "examples/example1.md"
    assert notebooks.relative("examples/example1.md", "downloads/a.zip") == "../downloads/a.zip"
    assert notebooks.relative("api/index.md", "api/emseg.data.md") == "emseg.data.md"


def test_zips_are_complete_deterministic_and_clean(examples):
    ex = examples[0]
    data = zips.build_zip(REPO, [ex])
    assert data == zips.build_zip(REPO, [ex])  # the same files give the same bytes
    zf = zipfile.ZipFile(io.BytesIO(data))
    assert zf.testzip() is None
    names = set(zf.namelist())
    top = f"emseg-{ex.key}"
    assert names == zips.expected_names(REPO, [ex])
    for required in ("README.md", "pyproject.toml", "requirements.txt", "lib/emseg/__init__.py",
                     f"{ex.folder.name}/{ex.notebook.name}"):
        assert f"{top}/{required}" in names
    assert any(n.startswith(f"{top}/lib/emseg/weights/") and n.endswith(".pt") for n in names)
    assert any(n.startswith(f"{top}/lib/emseg/templates/") for n in names)
    assert not [n for n in names if "__pycache__" in n or n.endswith(".pyc") or "egg-info" in n]
    assert not [n for n in names if n.startswith(f"{top}/example") and not n.startswith(f"{top}/{ex.folder.name}/")]
    readme = zf.read(f"{top}/README.md").decode()
    assert "python -m pip install -r requirements.txt" in readme
    assert f"python -m emseg run {ex.key}" in readme
    everything = zipfile.ZipFile(io.BytesIO(zips.build_zip(REPO, examples, everything=True)))
    for other in examples:
        assert f"emseg-examples/{other.folder.name}/{other.notebook.name}" in everything.namelist()


def test_claims_marker_renders_the_claims_json(tmp_path):
    """The results page's claims are bench/claims/results.json through bench/claims/report.py
    (the README's claims section is the same text); a checkout without it is an error."""
    results = json.loads((REPO / "bench" / "claims" / "results.json").read_text())
    text = pages.claims_markdown(REPO)
    for claim in results["claims"].values():
        assert claim["title"] in text
        for verdict in claim["verdicts"]:
            assert verdict["statement"] in text
    with pytest.raises(pages.MarkerError, match="results.json"):
        pages.claims_markdown(tmp_path)
