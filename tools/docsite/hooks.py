"""mkdocs hooks of the emseg site (``site/mkdocs.yml`` names this file under ``hooks``).

* ``on_config``: finds the examples (every ``exampleN_*/`` folder with a notebook) and
  the public modules of ``lib/emseg``, and writes the navigation: Home, Setup, one page
  per example, Data, Results, Guides (any other page at the top of ``docs/``),
  Templates (every page in ``docs/templates/``), API reference, How to cite.
* ``on_files``: adds the generated files: each example page (its committed notebook as
  Markdown) with its figures, one API page per module, and the source zips in
  ``downloads/``.
* ``on_page_markdown``: expands the ``<!-- emseg:... -->`` markers of the hand-written
  pages (see :mod:`docsite.pages`).

``python tools/build_site.py`` runs the build; ``mkdocs build -f site/mkdocs.yml`` and
``mkdocs serve -f site/mkdocs.yml`` work too.
"""
import logging
import re
import sys
import time
from pathlib import Path, PurePosixPath

_TOOLS = Path(__file__).resolve().parents[1]
if str(_TOOLS) not in sys.path:
    sys.path.append(str(_TOOLS))

from mkdocs.structure.files import File  # noqa: E402

from docsite import notebooks, pages, zips  # noqa: E402

log = logging.getLogger("mkdocs.plugins.emseg")
_OWN_PAGES = {"index.md", "setup.md", "data.md", "results.md", "cite.md"}
STATE = {}


def _root(config):
    return Path(config.config_file_path).resolve().parent.parent


def _example_page(ex):
    return f"examples/{ex.key}.md"


def _resolver(page, examples):
    """Links in notebooks and included files: an example notebook or folder becomes its
    page; anything else is not on the site (None)."""
    by_folder = {ex.folder.name: ex for ex in examples}
    by_key = {ex.key: ex for ex in examples}

    def resolve(target):
        path = PurePosixPath(target.split("#", 1)[0])
        for part in reversed(path.parts):
            ex = by_folder.get(part)
            if ex is None:
                m = re.match(r"(example\d+)_", part)
                ex = by_key.get(m[1]) if m else None
            if ex is not None:
                return notebooks.relative(page, _example_page(ex))
        return None
    return resolve


def _capital(text):
    return text[:1].upper() + text[1:]


def on_config(config):
    root = _root(config)
    lib = str(root / "lib")
    if lib not in sys.path:
        sys.path.insert(0, lib)  # document (and import registries from) this checkout
    examples = notebooks.discover(root)
    modules = pages.api_modules(root)
    docs = Path(config.docs_dir)
    templates = sorted((docs / "templates").glob("*.md")) if (docs / "templates").is_dir() else []
    templates.sort(key=lambda p: (p.name != "index.md", p.name))
    nav = [{"Home": "index.md"}, {"Setup": "setup.md"}]
    if examples:
        nav.append({"Examples": [{f"{ex.number}. {_capital(ex.short_title)}": _example_page(ex)}
                                 for ex in examples]})
    nav += [{"Data and offline use": "data.md"}, {"Results": "results.md"}]
    guides = sorted(p.name for p in docs.glob("*.md") if p.name not in _OWN_PAGES)
    if guides:  # any other hand-written page at the top of docs/
        nav.append({"Guides": guides})
    if templates:
        nav.append({"Templates": [f"templates/{p.name}" for p in templates]})
    nav.append({"API reference": ["api/index.md"] + [{m: f"api/{m}.md"} for m, _ in modules]})
    nav.append({"How to cite": "cite.md"})
    config.nav = nav
    STATE.clear()
    STATE.update(root=root, examples=examples, modules=modules, zip_sizes={})
    return config


def on_files(files, config):
    root, examples = STATE["root"], STATE["examples"]
    t0 = time.perf_counter()
    sets = [([ex], False) for ex in examples] + ([(examples, True)] if examples else [])
    for group, everything in sets:
        name = zips.zip_name(group, everything=everything)
        data = zips.build_zip(root, group, everything=everything)
        STATE["zip_sizes"][name] = len(data)
        files.append(File.generated(config, f"downloads/{name}", content=data))
    for ex in examples:
        page = _example_page(ex)
        body, figures = notebooks.notebook_markdown(
            ex, files_dir=f"{ex.key}_files", resolve_link=_resolver(page, examples))
        body = _with_download_bar(body, ex)
        files.append(File.generated(config, page, content=body))
        for rel, data in figures.items():
            files.append(File.generated(config, f"examples/{rel}", content=data))
        if ex.key_figure is not None:  # the home card's picture
            files.append(File.generated(config, pages.thumbnail_path(ex), content=ex.key_figure))
    files.append(File.generated(config, "api/index.md",
                                content=pages.api_index(STATE["modules"], "api/index.md")))
    for module, _ in STATE["modules"]:
        files.append(File.generated(config, f"api/{module}.md", content=pages.api_page(module)))
    log.info("emseg: %d example pages, %d API pages, %d zips in %.1f s", len(examples),
             len(STATE["modules"]), len(sets), time.perf_counter() - t0)
    return files


def _with_download_bar(body, ex):
    name = zips.zip_name([ex])
    size = STATE["zip_sizes"].get(name)
    bar = (f"[**Download example {ex.number} source**](../downloads/{name}){{ .md-button "
           f'.md-button--primary download="{name}" }} '
           f"<small>the notebook, the `emseg` library and a README with the install and run "
           f"commands{', ' + zips.human_size(size) if size else ''}</small>\n\n"
           f"Run it yourself: `python -m emseg run {ex.key}` (or open "
           f"`{ex.folder.name}/{ex.notebook.name}` in JupyterLab). This page shows the "
           f"notebook as it is stored in the repository, outputs included; nothing was "
           f"re-run to build it.\n")
    lines = body.split("\n")
    for i, line in enumerate(lines):
        if line.startswith("# "):
            return "\n".join(lines[:i + 1] + ["", bar] + lines[i + 1:])
    return f"# {ex.title}\n\n{bar}\n{body}"


def on_page_markdown(markdown, page, config, files):
    if "emseg:" not in markdown:
        return markdown
    src = page.file.src_uri
    return pages.expand_markers(markdown, page=src, root=STATE["root"], examples=STATE["examples"],
                                zip_sizes=STATE["zip_sizes"],
                                resolve_link=_resolver(src, STATE["examples"]),
                                repo_url=config.get("repo_url"))
