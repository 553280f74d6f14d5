"""The built site in a real browser: headless Chromium (Debian's ``chromium``) driven by
Playwright, the site served on 127.0.0.1.

The home page loads; every example card links to a page that shows the rendered
notebook with its figures decoded; every zip link downloads a valid zip with the
expected files; search finds a known word; no console errors; and no request leaves
127.0.0.1 (each one is recorded, and any other host is refused and fails the test).
Screenshots of the home page and of one example page go to ``build/test-artifacts/``.

Skips when Playwright or Chromium is missing, unless ``EMSEG_REQUIRE_BROWSER=1``
(CI sets it), which turns the skip into a failure.
"""
import functools
import http.server
import os
import shutil
import threading
import zipfile
from pathlib import Path
from urllib.parse import urlsplit

import pytest

REPO = Path(__file__).resolve().parents[2]
ARTIFACTS = REPO / "build" / "test-artifacts"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def _chromium():
    for candidate in (os.environ.get("EMSEG_CHROMIUM"), shutil.which("chromium"), "/usr/bin/chromium"):
        if candidate and Path(candidate).is_file():
            return candidate
    return None


def _missing(reason):
    if os.environ.get("EMSEG_REQUIRE_BROWSER") == "1":
        pytest.fail(f"{reason}, and EMSEG_REQUIRE_BROWSER=1 requires the browser test")
    pytest.skip(reason)


@pytest.fixture(scope="module")
def browser():
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _missing("playwright is not installed (python -m pip install -e \".[test]\")")
    executable = _chromium()
    if executable is None:
        _missing("no chromium browser (Debian: apt-get install chromium; or set EMSEG_CHROMIUM)")
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS, headless=True)
        yield b
        b.close()


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def served(built_site):
    handler = functools.partial(_Quiet, directory=str(built_site))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/"
    server.shutdown()
    server.server_close()


def test_site_in_a_browser(browser, served, built_site, examples, tmp_path):
    from docsite.zips import expected_names

    requests, external, problems = [], [], []
    context = browser.new_context(accept_downloads=True, viewport={"width": 1280, "height": 900},
                                  service_workers="block")

    def guard(route):
        url = route.request.url
        requests.append(url)
        host = urlsplit(url).hostname
        if url.startswith(("data:", "blob:")) or host == "127.0.0.1":
            route.continue_()
        else:
            external.append(url)
            route.abort()  # never let it leave the machine

    context.route("**/*", guard)
    page = context.new_page()
    page.on("console", lambda msg: problems.append(f"console {msg.type}: {msg.text}")
            if msg.type == "error" else None)
    page.on("pageerror", lambda err: problems.append(f"page error: {err}"))
    page.on("requestfailed", lambda req: problems.append(f"failed request: {req.url} ({req.failure})")
            if urlsplit(req.url).hostname == "127.0.0.1"
            and "ERR_ABORTED" not in str(req.failure) else None)  # not one a navigation cancelled

    # the home page
    response = page.goto(served, wait_until="load")
    assert response.ok
    assert "emseg" in page.title().lower()
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "site-home.png"), full_page=True)
    cards = page.locator(".example-cards > ul > li")
    assert cards.count() == len(examples)
    targets = []
    for i, ex in enumerate(examples):
        card = cards.nth(i)
        assert f"Example {ex.number}" in card.inner_text()
        view = card.get_by_role("link", name="View notebook")
        down = card.get_by_role("link", name=f"Download example {ex.number} source")
        assert view.count() == 1 and down.count() == 1
        targets.append((ex, view.get_attribute("href")))
        # the zip link downloads a valid zip with the expected files
        with page.expect_download() as info:
            down.click()
        saved = tmp_path / f"{ex.key}.zip"
        info.value.save_as(saved)
        with zipfile.ZipFile(saved) as zf:
            assert zf.testzip() is None
            assert set(zf.namelist()) == expected_names(REPO, [ex])
    with page.expect_download() as info:
        page.get_by_role("link", name="Download all examples").click()
    saved = tmp_path / "all.zip"
    info.value.save_as(saved)
    with zipfile.ZipFile(saved) as zf:
        assert zf.testzip() is None
        assert set(zf.namelist()) == expected_names(REPO, examples, everything=True)

    # each card's notebook page: title, code, figures decoded
    for ex, href in targets:
        page.goto(served + href.lstrip("./"), wait_until="load")
        assert ex.title.split(":")[0] in page.locator("h1").first.inner_text()
        page.wait_for_function("() => Array.from(document.querySelectorAll('article img'))"
                               ".every(img => img.complete)")
        sizes = page.eval_on_selector_all("article img", "imgs => imgs.map(i => i.naturalWidth)")
        n_figures = sum(1 for c in ex.nb["cells"] for o in c.get("outputs", [])
                        if {"image/png", "image/jpeg", "image/svg+xml"} & set(o.get("data", {})))
        assert len(sizes) >= n_figures and all(w > 0 for w in sizes), (ex.key, sizes)
        assert page.locator("article pre code").count() > 0
        if ex is examples[0]:
            page.screenshot(path=str(ARTIFACTS / f"site-{ex.key}.png"))

    # at a desktop (1400 px) and a phone (420 px) width: screenshots of every page kept, and
    # no table wider than the page without a horizontal scroll bar of its own
    clipped = []
    for width in (1400, 420):
        page.set_viewport_size({"width": width, "height": 900})
        page.goto(served, wait_until="load")
        page.screenshot(path=str(ARTIFACTS / f"site-home-{width}px.png"), full_page=True)
        for ex, href in targets:
            page.goto(served + href.lstrip("./"), wait_until="load")
            page.screenshot(path=str(ARTIFACTS / f"site-{ex.key}-{width}px.png"))
            # a table may scroll inside a container (Material's wrapper) that stays within
            # the content column; at desktop width no notebook table needs to scroll at all
            clipped += [f"{ex.key} at {width} px: {t}" for t in page.eval_on_selector_all(
                "article table", """(tables, desktop) => tables.filter(t => {
                    const column = t.closest('.md-content').getBoundingClientRect();
                    let box = t, scroller = null;
                    while (box && !box.classList.contains('md-content')) {
                        const o = getComputedStyle(box).overflowX;
                        if ((o === 'auto' || o === 'scroll') && box.scrollWidth > box.clientWidth + 1
                                && box.getBoundingClientRect().right <= column.right + 1) scroller = box;
                        box = box.parentElement;
                    }
                    const wide = t.scrollWidth > t.closest('article').clientWidth + 1;
                    return wide && (desktop || scroller === null);
                }).map(t => t.innerText.slice(0, 60))""", width >= 1400)]
    assert clipped == [], clipped
    page.set_viewport_size({"width": 1280, "height": 900})

    # search finds a known word
    page.goto(served, wait_until="load")
    box = page.locator("input.md-search__input")
    box.click()
    box.press_sequentially("ensemble", delay=20)
    page.wait_for_selector(".md-search-result__item", timeout=15000)
    assert page.locator(".md-search-result__item").count() > 0
    assert "ensemble" in page.locator(".md-search-result").inner_text().lower()

    context.close()
    assert not external, f"requests to other hosts than 127.0.0.1: {external}"
    assert not problems, problems
    assert any(u.endswith(".css") for u in requests) and any(u.endswith(".js") for u in requests)
