"""The templates' docs pages describe every config key and every network option."""
import dataclasses
import inspect
from pathlib import Path

import pytest

from emseg.templates import TEMPLATES, DataSection, PredictSection, TrainSection, load_config
from emseg.models import MODELS

DOCS = Path(__file__).resolve().parents[2] / "site" / "docs" / "templates"
pytestmark = pytest.mark.skipif(not DOCS.is_dir(), reason=f"no docs folder at {DOCS}")


def _rows(page):
    """The first-column keys of the Markdown tables of a page: ``| `key` | ...``."""
    return {line.split("|")[1].strip().strip("`") for line in page.splitlines()
            if line.startswith("| `")}


def test_index_lists_every_key_of_the_schema():
    rows = _rows((DOCS / "index.md").read_text(encoding="utf-8"))
    for section in (DataSection, TrainSection, PredictSection):
        missing = {f.name for f in dataclasses.fields(section)} - rows
        assert not missing, f"{section.__name__} keys missing from index.md: {missing}"


@pytest.mark.parametrize("name", TEMPLATES)
def test_template_page_lists_the_network_options_and_template_values(name):
    page = (DOCS / f"{name}.md").read_text(encoding="utf-8")
    rows = _rows(page)
    config = load_config(name)
    options = set(inspect.signature(MODELS[config.model.name].__init__).parameters)
    missing = options - {"self", "n_classes"} - rows
    assert not missing, f"{name}.md does not describe the options {missing}"
    # every [train] and [predict] value the template sets is in its table, with its value
    for table, prefix in (("train", ""), ("predict", "predict.")):
        for key in load_config(name).lines:
            if key[0] == table and key[1] is not None:
                assert f"{prefix}{key[1]}" in rows, f"{name}.md misses [{table}] {key[1]}"
    assert "python -m emseg train   --config" in page and "predict --config" in page


def test_every_page_is_linked_from_the_index():
    index = (DOCS / "index.md").read_text(encoding="utf-8")
    for page in DOCS.glob("*.md"):
        if page.name != "index.md":
            assert f"({page.name}" in index, f"index.md does not link {page.name}"
