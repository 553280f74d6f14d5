"""Fixtures of the docs-site tests: the site built once (strict) from this checkout."""
import importlib.util
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
TOOLS = REPO / "tools"
if str(TOOLS) not in sys.path:
    sys.path.append(str(TOOLS))


def _require(module, what):
    if importlib.util.find_spec(module) is None:
        pytest.skip(f"{module} is not installed ({what}: python -m pip install -e \".[test]\")")


@pytest.fixture(scope="session")
def built_site(tmp_path_factory):
    """The site and its zips, built from this checkout in strict mode; its folder."""
    _require("mkdocs", "the docs site")
    _require("material", "the docs site")
    _require("mkdocstrings", "the docs site")
    import build_site

    out = tmp_path_factory.mktemp("site") / "site"
    return build_site.build(out, strict=True, quiet=True)


@pytest.fixture(scope="session")
def examples():
    from docsite import notebooks

    found = notebooks.discover(REPO)
    assert found, "no exampleN_* folder with a notebook in the repository"
    return found
