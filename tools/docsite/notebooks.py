"""The example notebooks as site pages: discovery, and notebook -> Markdown.

Every ``exampleN_<name>/`` folder of the repository that holds a notebook is an
example (the same rule as :func:`emseg.run.list_examples`, applied to the repository
root only). Its committed, executed notebook becomes one Markdown page: markdown
cells as they are, code cells as fenced Python, outputs as they were stored (text,
Markdown tables, HTML without scripts, PNG/JPEG/SVG figures written as files next to
the page). Nothing is executed.
"""
import base64
import json
import re
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
_FOLDER = re.compile(r"(example(\d+))_")
_SCRIPT = re.compile(r"<script\b.*?</script\s*>", re.I | re.S)
_LINK = re.compile(r"(!?)\[([^\]]*)\]\(([^)\s]+)(\s+\"[^\"]*\")?\)")
_HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")
_WIDGET = "application/vnd.jupyter.widget-view+json"


@dataclass
class Example:
    """One example folder with its notebook."""

    key: str            # "example1"
    number: int         # 1
    folder: Path        # .../example1_try_pretrained
    notebook: Path      # .../example1_try_pretrained/example1_try_pretrained.ipynb
    nb: dict = field(repr=False)  # the notebook as JSON

    @property
    def title(self):
        """The notebook's title: its first H1 (what its page shows), else the metadata's
        ``emseg.title``, else the folder's name."""
        h1 = next((h for level, h in _headings(self.nb) if level == 1 and h), None)
        return h1 or self.nb.get("metadata", {}).get("emseg", {}).get("title") or self.folder.name

    @property
    def short_title(self):
        """The title without its ``Example N:`` prefix."""
        return re.sub(r"^\s*example\s*\d+\s*[:.\u2014-]\s*", "", self.title, flags=re.I) or self.title

    @property
    def intro(self):
        """The first paragraph after the title of the notebook's first markdown cell."""
        cell = next((c for c in self.nb["cells"] if c["cell_type"] == "markdown"), None)
        if cell is None:
            return ""
        paragraphs = [p.strip() for p in re.split(r"\n\s*\n", _source(cell))]
        for p in paragraphs:
            if p and not p.startswith("#"):
                return " ".join(p.split())
        return ""

    @property
    def papers(self):
        """The ``**Paper**:`` / ``**Papers**:`` paragraph of the notebook's intro, if any."""
        for cell in self.nb["cells"][:3]:
            if cell["cell_type"] != "markdown":
                continue
            m = re.search(r"\*\*Papers?\*\*:?\s*(.*?)(?:\n\s*\n|\Z)", _source(cell), re.S)
            if m:
                text = " ".join(m[1].split())
                # the citation(s) only: stop where a sentence follows a citation's end
                # ("... (2021). The released code ..."), which the notebook page keeps
                head = re.split(r"(?<=[\d)])\.\s+(?=[A-Z])", text, maxsplit=1)
                return head[0] + "." if len(head) > 1 else text
        return ""

    @property
    def note(self):
        """The note on which data, setting and device produced the stored outputs: the
        *About this run* note the run wrote (a Markdown output), else the notebook's own
        "About the outputs" box."""
        for cell in reversed(self.nb["cells"]):
            for out in cell.get("outputs", []) if cell["cell_type"] == "code" else ():
                text = _text(out.get("data", {}).get("text/markdown", ""))
                if text.lstrip().startswith("> **About this run.**"):
                    return text.strip()
        for cell in self.nb["cells"][:6]:
            text = _source(cell)
            if cell["cell_type"] == "markdown" and "about the outputs" in text.lower():
                return text.strip()
        return ""

    @property
    def measured(self):
        """Run times and memory measured on a full run (``metadata.emseg.measured``), or {}."""
        return dict(self.nb.get("metadata", {}).get("emseg", {}).get("measured") or {})

    @property
    def key_figure(self):
        """The PNG bytes of the first figure of the cell tagged ``key-figure``, or None."""
        for cell in self.nb["cells"]:
            if "key-figure" in cell.get("metadata", {}).get("tags", []):
                for out in cell.get("outputs", []):
                    png = out.get("data", {}).get("image/png")
                    if png:
                        return base64.b64decode(_text(png))
        return None

    @property
    def needs(self):
        """The examples whose results this one reads (``metadata.emseg.needs``)."""
        return list(self.nb.get("metadata", {}).get("emseg", {}).get("needs", []))

    @property
    def quick(self):
        """The quick setting (``metadata.emseg.quick``)."""
        return dict(self.nb.get("metadata", {}).get("emseg", {}).get("quick", {}))


def discover(root):
    """The examples under ``root``, ordered by number."""
    found = {}
    for folder in Path(root).glob("example[0-9]*_*"):
        m = _FOLDER.match(folder.name)
        notebooks = sorted(folder.glob("*.ipynb")) if folder.is_dir() else []
        if not m or not notebooks:
            continue
        key = m[1]
        if key in found:
            raise ValueError(f"two folders for {key}: {found[key].folder.name} and {folder.name}")
        nb = json.loads(notebooks[0].read_text(encoding="utf-8"))
        found[key] = Example(key, int(m[2]), folder, notebooks[0], nb)
    return sorted(found.values(), key=lambda e: e.number)


def _source(cell):
    src = cell.get("source", "")
    return "".join(src) if isinstance(src, list) else src


def _text(value):
    return "".join(value) if isinstance(value, list) else (value or "")


def _headings(nb):
    """(level, text) of the markdown headings outside code fences."""
    out = []
    for cell in nb["cells"]:
        if cell["cell_type"] != "markdown":
            continue
        fence = False
        for line in _source(cell).splitlines():
            if line.lstrip().startswith(("```", "~~~")):
                fence = not fence
            m = None if fence else _HEADING.match(line)
            if m:
                out.append((len(m[1]), m[2]))
    return out


def clean_stream(text):
    """Terminal text as it ended up on screen: no ANSI codes, ``\\r`` overwrites resolved."""
    text = _ANSI.sub("", text)
    lines = []
    for line in text.split("\n"):
        if "\r" in line:
            parts = [p for p in line.split("\r") if p]
            line = parts[-1] if parts else ""
        lines.append(line)
    return "\n".join(lines)


def _fence(text, lang=""):
    ticks = "```"
    while ticks in text:
        ticks += "`"
    return f"{ticks}{lang}\n{text.rstrip()}\n{ticks}"


def rewrite_links(markdown, resolve):
    """Rewrite relative links: ``resolve(target)`` gives the new target, or None to keep
    only the link text (with the target in code) because the site has no such page."""
    def sub(m):
        bang, text, target, title = m[1], m[2], m[3], m[4] or ""
        if re.match(r"^([a-z][a-z0-9+.-]*:|#|/)", target, re.I):
            return m[0]
        new = resolve(target)
        if new is None:
            return f"{text} (`{target}`)" if not bang else f"`{target}`"
        return f"{bang}[{text}]({new}{title})"
    return _LINK.sub(sub, markdown)


def notebook_markdown(example, *, files_dir, resolve_link=lambda target: None,
                      long_output_lines=60):
    """The notebook of ``example`` as Markdown, and the files its figures need.

    Parameters
    ----------
    example : Example
    files_dir : str
        Folder name, relative to the page, for the figure files.
    resolve_link : callable
        See :func:`rewrite_links`.
    long_output_lines : int
        Text outputs longer than this are shown folded.

    Returns
    -------
    markdown : str
    files : dict of str to bytes
        ``{path relative to the page's folder: content}``.
    """
    parts, files = [], {}
    for index, cell in enumerate(example.nb["cells"]):
        kind = cell["cell_type"]
        source = _source(cell)
        if kind == "markdown":
            parts.append(rewrite_links(source, resolve_link))
        elif kind == "raw":
            continue
        elif kind == "code":
            if source.strip():
                tags = cell.get("metadata", {}).get("tags", [])
                label = ' title="parameters"' if "parameters" in tags else ""
                fenced = _fence(source, "python")
                if label:
                    fenced = fenced.replace("```python", f"```python{label}", 1)
                parts.append(fenced)
            outputs = _outputs(cell.get("outputs", []), index, files_dir, files, long_output_lines,
                               resolve_link)
            if outputs:
                parts.append('<div class="nb-output" markdown>\n\n' + "\n\n".join(outputs)
                             + "\n\n</div>")
    return "\n\n".join(p for p in parts if p.strip()) + "\n", files


def _outputs(outputs, index, files_dir, files, long_lines, resolve_link):
    shown, streams = [], []

    def flush():
        if streams:
            name = streams[0][0]
            text = clean_stream("".join(t for _, t in streams)).strip("\n")
            if text.strip():
                shown.append(_text_block(text, long_lines, stderr=name == "stderr"))
            streams.clear()

    for k, out in enumerate(outputs):
        kind = out.get("output_type")
        if kind == "stream":
            if streams and streams[0][0] != out.get("name"):
                flush()
            streams.append((out.get("name"), _text(out.get("text"))))
            continue
        flush()
        if kind == "error":
            trace = clean_stream("\n".join(out.get("traceback", [])))
            shown.append(_text_block(trace or f"{out.get('ename')}: {out.get('evalue')}", long_lines,
                                     stderr=True))
            continue
        data = out.get("data", {})
        if _WIDGET in data:  # a progress bar: its plain-text copy (its final state, written
            if "text/plain" in data:  # by tools/commit_notebook.py) is what a static page shows
                shown.append(_text_block(clean_stream(_text(data["text/plain"])), long_lines))
            continue
        stem = f"{files_dir}/cell{index:02d}-{k}"
        if "image/png" in data or "image/jpeg" in data:
            mime = "image/png" if "image/png" in data else "image/jpeg"
            name = f"{stem}.{'png' if mime == 'image/png' else 'jpg'}"
            files[name] = base64.b64decode(_text(data[mime]))
            shown.append(f"![Figure of cell {index}]({name})")
        elif "image/svg+xml" in data:
            name = f"{stem}.svg"
            files[name] = _text(data["image/svg+xml"]).encode("utf-8")
            shown.append(f"![Figure of cell {index}]({name})")
        elif "text/markdown" in data:
            shown.append(rewrite_links(_text(data["text/markdown"]), resolve_link))
        elif "text/html" in data:
            html = _SCRIPT.sub("", _text(data["text/html"]))  # no scripts: the site is static
            shown.append(f'<div class="nb-html">\n{html}\n</div>')
        elif "text/plain" in data:
            shown.append(_text_block(clean_stream(_text(data["text/plain"])), long_lines))
    flush()
    return shown


def _text_block(text, long_lines, *, stderr=False):
    block = _fence(text, "text")
    if stderr:
        block = f'<div class="nb-stderr" markdown>\n\n{block}\n\n</div>'
    n = text.count("\n") + 1
    if n > long_lines:
        indented = "\n".join("    " + line if line else "" for line in block.splitlines())
        block = f'??? note "Output ({n} lines)"\n\n{indented}'
    return block


def section(example, title_pattern):
    """The cells from the markdown heading matching ``title_pattern`` (a regex, matched
    case-insensitively against the heading text) to the next heading of the same or a
    higher level; [] when there is none."""
    cells, level = [], None
    for cell in example.nb["cells"]:
        if cell["cell_type"] == "markdown":
            heading = next((_HEADING.match(l) for l in _source(cell).splitlines()
                            if _HEADING.match(l)), None)
            if heading:
                if level is not None and len(heading[1]) <= level:
                    break
                if level is None and re.search(title_pattern, heading[2], re.I):
                    level = len(heading[1])
        if level is not None:
            cells.append(cell)
    return cells


def markdown_outputs(cells):
    """The ``text/markdown`` outputs of ``cells`` (tables that the notebook displayed)."""
    return [_text(out["data"]["text/markdown"]) for cell in cells
            for out in cell.get("outputs", []) if "text/markdown" in out.get("data", {})]


def relative(from_page, to_path):
    """A relative URL-path from a page's source path to another docs path (POSIX)."""
    start = PurePosixPath(from_page).parent
    to = PurePosixPath(to_path)
    up = len(start.parts)
    common = 0
    for a, b in zip(start.parts, to.parts):
        if a != b:
            break
        common += 1
    return "/".join([".."] * (up - common) + list(to.parts[common:])) or to.name
