"""Generated page content: example cards, data tables, results, API pages, includes.

The hand-written pages in ``site/docs`` hold markers (HTML comments) that
:func:`expand_markers` replaces at build time, so that the site follows the repository
(examples, registries, README figures) without hand copies:

``<!-- emseg:example-cards -->``
    one card per example (title, intro, paper, **View notebook**, **Download example N
    source**) and the all-examples download;
``<!-- emseg:papers -->``
    the papers each example reproduces (from the notebooks' ``**Paper**:`` lines);
``<!-- emseg:datasets -->``, ``<!-- emseg:pretrained -->``
    the download registries of :mod:`emseg.data` and :mod:`emseg.pretrained`;
``<!-- emseg:get-code -->``
    how to get the code, step by step: the zips (linked) and, once the site's
    ``repo_url`` is set in ``site/mkdocs.yml``, ``git clone`` of that repository;
``<!-- emseg:results -->``
    each example's stored results (its note on data and device, its Results tables);
``<!-- emseg:claims -->``
    the papers' claims as measured by the claims benchmark (``bench/claims/results.json``,
    rendered by ``bench/claims/report.py``: the same text as the README's claims section);
``<!-- emseg:include FILE ["HEADING REGEX"] [level=N] -->``
    a section of a repository file (README.md, bench/README.md): from the heading that
    matches to the next heading of the same or a higher level (the whole file without
    its title when no heading is given), headings moved to level ``N``.
"""
import ast
import importlib.util
import json
import re
import shlex
import sys
from pathlib import Path

from docsite import notebooks
from docsite.zips import human_size, zip_name

_MARKER = re.compile(r"<!--\s*emseg:([a-z-]+)(.*?)-->", re.S)


class MarkerError(ValueError):
    pass


# --- example cards and papers ---------------------------------------------------------------

def example_cards(examples, zip_sizes, page):
    """Material "grid cards" for the home page; links relative to ``page``."""
    if not examples:
        return "*No example notebooks found.*"
    items = []
    for ex in examples:
        view = notebooks.relative(page, f"examples/{ex.key}.md")
        name = zip_name([ex])
        down = notebooks.relative(page, f"downloads/{name}")
        size = human_size(zip_sizes[name]) if name in zip_sizes else ""
        body = [f"**Example {ex.number} · {ex.short_title}**", "---"]
        if ex.key_figure is not None:
            thumb = notebooks.relative(page, thumbnail_path(ex))
            body.append(f"[![What example {ex.number} produces]({thumb}){{ .example-thumb "
                        f'loading="lazy" }}]({view})')
        body.append(ex.intro)
        if ex.papers:
            body.append(f"*Reproduces:* {ex.papers}")
        if ex.measured:
            body.append(f"<small>{run_time_line(ex.measured)}</small>")
        body.append(f"[**View notebook**]({view}){{ .md-button .md-button--primary }} "
                    f"[**Download example {ex.number} source**]({down}){{ .md-button "
                    f'download="{name}" }} <small>{size}</small>')
        items.append("-   " + "\n\n    ".join(b for b in body if b))
    everything = zip_name(examples, everything=True)
    all_link = notebooks.relative(page, f"downloads/{everything}")
    size = human_size(zip_sizes[everything]) if everything in zip_sizes else ""
    return ('<div class="grid cards example-cards" markdown>\n\n' + "\n\n".join(items)
            + "\n\n</div>\n\n"
            + f"[**Download all examples**]({all_link}){{ .md-button download=\"{everything}\" }} "
              f"<small>one zip with every notebook and the library, {size}</small>")


def thumbnail_path(ex):
    """Where the site keeps an example's key figure (the home card's picture)."""
    return f"assets/thumbs/{ex.key}.png"


def run_time_line(measured):
    """The home card's line on run time and memory, from a notebook's measured record."""
    from emseg.report import format_seconds

    parts = [f"**Run time**: {format_seconds(measured['seconds'])} on {measured['device']}"]
    if measured.get("quick_seconds") is not None:
        parts.append(f"quick setting {format_seconds(measured['quick_seconds'])}")
    gpu = measured.get("gpu_seconds")
    parts.append(f"GPU (original preset) {format_seconds(gpu)}" if gpu is not None
                 else "GPU: not measured")
    line = " · ".join(parts)
    if measured.get("peak_memory_mb") is not None:
        line += f" · **memory** {measured['peak_memory_mb'] / 1024:.1f} GB"
    return line


def get_code(examples, zip_sizes, page, repo_url=None):
    """The steps to get the code and run example 1: the zip route, and ``git clone`` of
    ``repo_url`` when the site has one (never an invented address)."""
    everything = zip_name(examples, everything=True)
    top = everything.removesuffix(".zip")
    link = notebooks.relative(page, f"downloads/{everything}")
    size = f" ({human_size(zip_sizes[everything])})" if everything in zip_sizes else ""
    first = examples[0].key if examples else "example1"
    steps = [f"1. **Download** [{everything}]({link}){size}, every notebook with the `emseg` "
             f"library (or one example's zip from its card on the [home page]"
             f"({notebooks.relative(page, 'index.md')})), and **unzip** it, then go into the "
             f"folder:\n\n    ```bash\n    unzip {everything} && cd {top}\n    ```"]
    if repo_url:
        name = repo_url.rstrip("/").rsplit("/", 1)[-1].removesuffix(".git")
        steps.append(f"   Or **clone** the repository (it also holds the tests, the benchmarks "
                     f"and this site):\n\n    ```bash\n    git clone {repo_url} && cd {name}\n    ```")
    steps.append("2. **Install** (a virtual environment is a good idea):\n\n    ```bash\n"
                 "    python -m pip install -r requirements.txt\n    ```")
    steps.append(f"3. **Run** an example headlessly, or open its notebook in JupyterLab "
                 f"(`jupyter lab`):\n\n    ```bash\n    python -m emseg run {first}\n    ```")
    return "\n\n".join(steps)


def papers(examples):
    lines = [f"- **Example {ex.number}** ({ex.short_title}): {ex.papers}"
             for ex in examples if ex.papers]
    return "\n".join(lines) or "*No example names its paper yet.*"


# --- data --------------------------------------------------------------------------------------

def _cell(value):
    return "—" if value in (None, "", ()) else str(value).replace("|", "\\|").replace("\n", " ")


def _link(url):
    return f"<{url}>" if url else "—"


def datasets_markdown():
    """Tables of every dataset in the library's registry."""
    from emseg.data.registry import DATASETS
    out = []
    for name, entry in DATASETS.items():
        out.append(f"### `{name}`")
        facts = [("Citation", entry.get("citation")),
                 ("Licence", entry.get("license") or "not stated by the publisher"),
                 ("Home page", _link(entry.get("homepage")))]
        if entry.get("url"):
            facts.append(("Download", _link(entry["url"])))
        for mirror in entry.get("mirrors") or ():
            facts.append(("Mirror", _link(mirror)))
        if entry.get("zip_name"):
            size = f"{entry['size']:,} bytes" if entry.get("size") else "not published"
            facts.append(("Archive", f"`{entry['zip_name']}`, {size}"))
        for algo in ("md5", "sha256"):
            if entry.get(algo):
                facts.append((f"{algo.upper()} of the archive", f"`{entry[algo]}`"))
        if entry.get("voxel_size"):
            z, y, x = entry["voxel_size"]
            facts.append(("Voxel size (z, y, x)", f"{z} × {y} × {x} nm "
                          f"({entry.get('voxel_size_source', 'source not recorded')})"))
        out.append("\n".join(f"- **{k}**: {_cell(v)}" for k, v in facts))
        rows = []
        for names, spec in _file_groups(entry.get("files") or {}):
            size = spec.get("size") or spec.get("total_size")
            shape = spec.get("shape")
            digest = spec.get("md5") or spec.get("sha256")
            count = f"{spec['count']} files" if spec.get("count") else ""
            label = f"`{names[0]}`" if len(names) == 1 else \
                f"`{names[0]}` … `{names[-1]}` ({len(names)} files, each)"
            rows.append(f"| {label} | {_cell(' × '.join(map(str, shape)) if shape else count)} | "
                        f"{_cell(f'{size:,}' if size else None)} | {_cell(f'`{digest}`' if digest else None)} |")
        if rows:
            out.append("| file | shape (z, y, x) | bytes | MD5 |\n|---|---|---:|---|\n" + "\n".join(rows))
    return "\n\n".join(out)


def _file_groups(files):
    """``[(names, spec), ...]``: consecutive files with the same spec and no checksum of
    their own (e.g. 20 sections of one size) become one row."""
    groups = []
    for name, spec in files.items():
        if groups and spec == groups[-1][1] and not (spec.get("md5") or spec.get("sha256")):
            groups[-1][0].append(name)
        else:
            groups.append(([name], spec))
    return groups


def pretrained_markdown():
    """The published nets (downloaded and converted) and the bundled phantom nets."""
    from emseg import pretrained
    rows = []
    for name, entry in pretrained.PRETRAINED.items():
        url = entry.get("url")
        rows.append(f"| `{name}` | {_cell(entry.get('description'))} | "
                    f"{_cell(entry.get('trained_on'))} | {_link(url) if url else 'ships with emseg'} |")
    for name in getattr(pretrained, "PHANTOM_ENSEMBLE", ()):
        if name not in pretrained.PRETRAINED:
            rows.append(f"| `{name}` | small 2D-3D net trained on the synthetic phantom | "
                        f"phantom | ships with emseg |")
    return "| name | what | trained on | download |\n|---|---|---|---|\n" + "\n".join(rows)


# --- results -----------------------------------------------------------------------------------

def results_markdown(examples, page, level=2):
    """Each example's note on its stored outputs and the tables of its Results section."""
    h = "#" * level
    out = []
    for ex in examples:
        link = notebooks.relative(page, f"examples/{ex.key}.md")
        out.append(f"{h} Example {ex.number}: {ex.short_title}")
        out.append(f"From the stored outputs of [the example {ex.number} notebook]({link}).")
        if ex.note:
            out.append(ex.note)
        tables = notebooks.markdown_outputs(notebooks.section(ex, r"^results?$"))
        if not tables:
            tables = notebooks.markdown_outputs(ex.nb["cells"])[-2:]
        tables = [t for t in tables if t.strip() != ex.note]  # the note is shown once, first
        out.extend(tables or ["*This notebook has no stored results yet.*"])
    return "\n\n".join(out)


# --- includes ----------------------------------------------------------------------------------

_HEADING = re.compile(r"^(#{1,6})\s+(.*)$")


def claims_markdown(root, level=3):
    """The claims benchmark's results (``bench/claims/results.json``) as Markdown."""
    folder = Path(root) / "bench" / "claims"
    results = folder / "results.json"
    if not results.is_file():
        raise MarkerError("claims: no bench/claims/results.json in the repository; run "
                          "python bench/claims/run.py --report")
    sys_path = list(sys.path)
    try:  # report.py imports its sibling common.py
        sys.path.insert(0, str(folder))
        spec = importlib.util.spec_from_file_location("_claims_report", folder / "report.py")
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
    finally:
        sys.path[:] = sys_path
        sys.modules.pop("common", None)  # report.py's sibling, under a generic name
    return module.markdown(json.loads(results.read_text(encoding="utf-8")), level=level)


def include(root, rel_path, heading=None, level=None):
    """A section of a Markdown file of the repository (see the module docstring)."""
    path = Path(root) / rel_path
    if not path.is_file():
        raise MarkerError(f"include: no file {rel_path} in the repository")
    lines, fence, out, start_level = path.read_text(encoding="utf-8").splitlines(), False, [], None
    for i, line in enumerate(lines):
        if line.lstrip().startswith(("```", "~~~")):
            fence = not fence
        m = None if fence else _HEADING.match(line)
        if start_level is None:
            if heading is None and m and len(m[1]) == 1:
                start_level = 1
                continue  # the whole file without its title
            if heading is not None and m and re.search(heading, m[2], re.I):
                start_level = len(m[1])
                out.append(line)
            continue
        if m and len(m[1]) <= start_level:
            break
        out.append(line)
    if start_level is None:
        if heading is None:  # no title: the whole file
            out, start_level = lines, 1
        else:
            raise MarkerError(f"include: no heading matching {heading!r} in {rel_path}")
    if level is not None:
        matches = _heading_matches(out)
        shift = level - min((len(m[1]) for m in matches if m), default=level)
        out = [("#" * min(6, max(1, len(m[1]) + shift)) + " " + m[2]) if m else line
               for line, m in zip(out, matches)]
    return "\n".join(out).strip("\n")


def _heading_matches(lines):
    """The heading match of each line (None for other lines and inside code fences)."""
    fence, matches = False, []
    for line in lines:
        if line.lstrip().startswith(("```", "~~~")):
            fence = not fence
        matches.append(None if fence else _HEADING.match(line))
    return matches


# --- API ---------------------------------------------------------------------------------------

def api_modules(root):
    """Public modules and packages of emseg, with the first line of their docstring."""
    lib = Path(root) / "lib" / "emseg"
    found = []
    for path in sorted(lib.iterdir()):
        if path.name.startswith("_") or path.name in ("cli",):
            continue
        if path.is_dir() and (path / "__init__.py").is_file():
            name, src = path.name, path / "__init__.py"
        elif path.suffix == ".py":
            name, src = path.stem, path
        else:
            continue
        try:
            doc = ast.get_docstring(ast.parse(src.read_text(encoding="utf-8"))) or ""
        except SyntaxError:
            doc = ""
        found.append((f"emseg.{name}", doc.strip().split("\n\n")[0].replace("\n", " ")))
    return found


def api_page(module):
    return f"# `{module}`\n\n::: {module}\n"


def api_index(modules, page):
    rows = [f"| [`{m}`]({notebooks.relative(page, f'api/{m}.md')}) | {_cell(doc)} |"
            for m, doc in modules]
    return ("# API reference\n\nGenerated from the docstrings of the library (`lib/emseg`) "
            "when the site is built.\n\n| module | what it holds |\n|---|---|\n" + "\n".join(rows) + "\n")


# --- markers -----------------------------------------------------------------------------------

def expand_markers(markdown, *, page, root, examples, zip_sizes, resolve_link, repo_url=None):
    def sub(m):
        name, args = m[1], shlex.split(m[2].strip())
        if name == "example-cards":
            return example_cards(examples, zip_sizes, page)
        if name == "papers":
            return papers(examples)
        if name == "get-code":
            return get_code(examples, zip_sizes, page, repo_url)
        if name == "datasets":
            return datasets_markdown()
        if name == "pretrained":
            return pretrained_markdown()
        if name == "results":
            return results_markdown(examples, page)
        if name == "claims":
            return notebooks.rewrite_links(claims_markdown(root), resolve_link)
        if name == "include":
            if not args:
                raise MarkerError(f"{page}: emseg:include needs a file")
            level = next((int(a.split("=", 1)[1]) for a in args if a.startswith("level=")), None)
            rest = [a for a in args if not a.startswith("level=")]
            text = include(root, rest[0], rest[1] if len(rest) > 1 else None, level)
            return notebooks.rewrite_links(text, resolve_link)
        raise MarkerError(f"{page}: unknown marker emseg:{name}")
    return _MARKER.sub(sub, markdown)
