"""The docs site builds in strict mode from the repository: a page per example with its
figures and sections, the home cards, the zips, no resource from the internet."""
import base64
import json
import os
import re
import shutil
import zipfile
from html.parser import HTMLParser
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


class _Tags(HTMLParser):
    def __init__(self):
        super().__init__()
        self.tags, self.text, self._h1, self.h1 = [], [], False, ""

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))
        self._h1 = self._h1 or tag == "h1"

    def handle_endtag(self, tag):
        if tag == "h1":
            self._h1 = False

    def handle_data(self, data):
        self.text.append(data)
        if self._h1:
            self.h1 += data


def _parse(path):
    parser = _Tags()
    parser.feed(path.read_text(encoding="utf-8"))
    return parser


def _external(url):
    return bool(url) and bool(re.match(r"^(https?:)?//", url.strip(), re.I))


def _png_outputs(ex):
    return sum(1 for cell in ex.nb["cells"] for out in cell.get("outputs", [])
               if "image/png" in out.get("data", {}))


def _h2(ex):
    from docsite.notebooks import _headings
    return [text for level, text in _headings(ex.nb) if level == 2]


def test_every_page_loads_nothing_from_the_internet(built_site):
    pages = sorted(built_site.rglob("*.html"))
    assert len(pages) > 10
    for page in pages:
        html = page.read_text(encoding="utf-8")
        assert "mathjax" not in html.lower() and "require.js" not in html.lower(), page
        for tag, attrs in _parse(page).tags:
            if tag in ("script", "img", "iframe", "source", "video", "audio", "embed"):
                assert not _external(attrs.get("src")), (page, tag, attrs)
            if tag == "link" and attrs.get("rel") in ("stylesheet", "preload", "preconnect", "icon"):
                assert not _external(attrs.get("href")), (page, attrs)
    for css in built_site.rglob("*.css"):
        assert not re.search(r"@import\s+url\(\s*['\"]?(https?:)?//", css.read_text()), css


def test_each_example_page_is_its_rendered_notebook(built_site, examples):
    for ex in examples:
        page = built_site / "examples" / ex.key / "index.html"
        assert page.is_file(), f"no page for {ex.key}"
        parsed = _parse(page)
        assert ex.title.replace("×", "x") in parsed.h1.replace("×", "x").replace("¶", "")
        images = [a["src"] for t, a in parsed.tags if t == "img" and "cell" in a.get("src", "")]
        assert len(images) == _png_outputs(ex)
        for src in images:
            data = (page.parent / src).resolve().read_bytes()
            assert data.startswith(b"\x89PNG")
        # the notebook's sections are in the page's navigation
        nav_links = {a.get("href") for t, a in parsed.tags if t == "a" and "md-nav__link" in a.get("class", "")}
        for heading in _h2(ex):
            anchor = re.sub(r"[^\w\- ]", "", heading.lower()).strip().replace(" ", "-")
            assert any(h and h.startswith("#") and anchor.split("-")[0] in h for h in nav_links), heading
        code = "".join(parsed.text)
        first_code = next(c for c in ex.nb["cells"] if c["cell_type"] == "code")
        first_line = "".join(first_code["source"]).splitlines()[0].strip()
        assert first_line in code  # the code is on the page


def test_home_has_one_card_per_example_and_the_zips_exist(built_site, examples):
    home = _parse(built_site / "index.html")
    links = [(a.get("href"), a) for t, a in home.tags if t == "a"]
    text = "".join(home.text)
    for ex in examples:
        assert f"Download example {ex.number} source" in text
        assert f"examples/{ex.key}/" in [h for h, _ in links]
        href = f"downloads/emseg-{ex.key}.zip"
        assert href in [h for h, _ in links]
        assert zipfile.is_zipfile(built_site / href)
    assert text.count("View notebook") == len(examples)
    # each card shows the example's key figure and its measured run time
    images = [a.get("src") for t, a in home.tags if t == "img"]
    for ex in examples:
        assert f"assets/thumbs/{ex.key}.png" in images, ex.key
        assert (built_site / "assets" / "thumbs" / f"{ex.key}.png").read_bytes()[:4] == b"\x89PNG"
    assert text.count("Run time") == len(examples) and "GPU" in text
    assert zipfile.is_zipfile(built_site / "downloads" / "emseg-examples.zip")
    # every page in the navigation has a title, and the Templates pages are there
    nav = re.findall(r'class="md-nav__link[^"]*"[^>]*>\s*<span class="md-ellipsis">\s*(.*?)\s*</span>',
                     (built_site / "setup" / "index.html").read_text(encoding="utf-8"), re.S)
    assert len(nav) > 10 and "None" not in nav and "" not in nav
    for guide in sorted((REPO / "site" / "docs").glob("*.md")):
        built = built_site / ("" if guide.stem == "index" else guide.stem) / "index.html"
        assert built.is_file(), guide
        if guide.name in ("index.md", "setup.md", "data.md", "results.md", "cite.md"):
            continue
        first = next(l for l in guide.read_text(encoding="utf-8").splitlines() if l.startswith("# "))
        assert first[2:].strip().replace("`", "") in " ".join(nav).replace("<code>", "").replace("</code>", ""), first
    for template in sorted((REPO / "site" / "docs" / "templates").glob("*.md")):
        stem = "" if template.stem == "index" else template.stem + "/"
        assert (built_site / "templates" / stem / "index.html").is_file(), template
    # the generated pages are there too
    for page in ("setup", "data", "results", "cite", "api", "api/emseg.infer"):
        assert (built_site / page / "index.html").is_file(), page
    results = (built_site / "results" / "index.html").read_text(encoding="utf-8")
    assert results.count("About this run.") == len(examples)  # each run's own note
    assert all(f"Example {ex.number}" in results for ex in examples)
    data = (built_site / "data" / "index.html").read_text(encoding="utf-8")
    assert "253310093ee2c00304fbabdb0c7e3a4a" in data and "EMSEG_DATA_DIR" in data
    api = (built_site / "api" / "emseg.infer" / "index.html").read_text(encoding="utf-8")
    assert "predict_ensemble" in api and "Parameters" in api


def _toy_notebook(path):
    png = base64.b64encode(_tiny_png()).decode()
    nb = {"nbformat": 4, "nbformat_minor": 5,
          "metadata": {"emseg": {"title": "Example 9: a toy that just landed", "quick": {}}},
          "cells": [{"cell_type": "markdown", "metadata": {},
                     "source": "# Example 9: a toy that just landed\n\nA new example.\n\n"
                               "**Paper**: Nobody (2030).\n\nSee [the notes](../notes/todo.md)."},
                    {"cell_type": "markdown", "metadata": {}, "source": "## Its only section"},
                    {"cell_type": "code", "metadata": {}, "execution_count": 1, "source": "plot()",
                     "outputs": [{"output_type": "display_data", "metadata": {},
                                  "data": {"image/png": png, "text/plain": "<Figure>"}}]}]}
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps(nb))


def _tiny_png():
    import struct
    import zlib

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 1, 1, 8, 0, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(b"\x00\x80")) + chunk(b"IEND", b""))


@pytest.mark.skipif(not hasattr(os, "symlink"), reason="needs symbolic links")
def test_a_new_example_folder_appears_with_no_edit(tmp_path):
    """A checkout with one more exampleN_* folder: its page, card, nav entry and zip appear."""
    pytest.importorskip("mkdocs", reason="the docs extra is not installed")
    pytest.importorskip("material", reason="the docs extra is not installed")
    import build_site
    from docsite.notebooks import discover

    root = tmp_path / "repo"
    root.mkdir()
    shutil.copytree(REPO / "site", root / "site", ignore=shutil.ignore_patterns("site"))
    for name in ("lib", "tools", "README.md", "pyproject.toml", "requirements.txt"):
        (root / name).symlink_to(REPO / name)
    (root / "bench").mkdir()
    for name in ("README.md", "claims"):  # the results page includes both
        (root / "bench" / name).symlink_to(REPO / "bench" / name)
    first = discover(REPO)[0]
    (root / first.folder.name).symlink_to(first.folder)
    _toy_notebook(root / "example9_toy" / "toy.ipynb")
    site = build_site.build(tmp_path / "out", strict=True, quiet=True,
                            config_file=root / "site" / "mkdocs.yml")
    page = site / "examples" / "example9" / "index.html"
    assert "a toy that just landed" in page.read_text(encoding="utf-8")
    assert "Its only section" in page.read_text(encoding="utf-8")
    home = (site / "index.html").read_text(encoding="utf-8")
    assert "Download example 9 source" in home and "Nobody (2030)" in home
    assert "A toy that just landed" in home  # in the navigation
    names = zipfile.ZipFile(site / "downloads" / "emseg-example9.zip").namelist()
    assert "emseg-example9/example9_toy/toy.ipynb" in names
    assert "emseg-examples/example9_toy/toy.ipynb" in zipfile.ZipFile(
        site / "downloads" / "emseg-examples.zip").namelist()
