"""The course site, built from the session's executed ci run and opened in a real headless Chromium.

Every page is visited over HTTP on 127.0.0.1: no console error, every image loaded, every internal
link (and its anchor) resolves; the landing page shows the numbers of the run's results files.
Screenshots of the landing page and of one notebook page go to ``artifacts/site-screenshots/``.
Needs Debian's ``chromium`` (``.ci/run`` installs it) and the ``playwright`` package (test extra).
"""
import functools
import http.server
import json
import os
import shutil
import threading
import time
from types import SimpleNamespace
from urllib.parse import urldefrag, urlparse

import pytest

from conftest import load_ci_script
from course_utils import runs
from course_utils.config import REPO_ROOT

pytestmark = pytest.mark.notebooks
CHROMIUM_FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync"]
SCREENSHOTS = REPO_ROOT / "artifacts" / "site-screenshots"
SCREENSHOT_PAGE = "01_eda"
build_site = load_ci_script("build_site")
make_readme_table = load_ci_script("make_readme_table")


def _unavailable(reason):
    if os.environ.get("CI"):
        pytest.fail(f"{reason}: in CI the browser test must run (.ci/run installs Chromium, `make venv` playwright)")
    pytest.skip(reason)


@pytest.fixture(scope="module")
def site(ci_run, tmp_path_factory):
    code, artifacts, _ = ci_run
    assert code == 0, "the ci run failed; the site is built from its executed notebooks"
    start = time.perf_counter()
    html, problems = build_site.build(artifacts, tmp_path_factory.mktemp("site"))
    return SimpleNamespace(html=html, artifacts=artifacts, seconds=time.perf_counter() - start, problems=problems)


@pytest.fixture(scope="module")
def base_url(site):
    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Quiet, directory=str(site.html)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    executable = next(filter(None, map(shutil.which, ("chromium", "chromium-browser"))), None)
    if executable is None:
        _unavailable("Chromium is not installed (Debian: apt-get install chromium)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _unavailable("playwright is not installed (pip install -e '.[test]')")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, headless=True, args=CHROMIUM_FLAGS)
        yield browser
        browser.close()


_PAGE_FACTS = """async () => {
  const images = [...document.images];
  images.forEach(img => { img.loading = 'eager'; });
  await Promise.all(images.map(img => img.complete ? null : new Promise(done => {
    img.addEventListener('load', done); img.addEventListener('error', done); setTimeout(done, 10000); })));
  return {
    images: images.map(img => ({src: img.currentSrc || img.src, width: img.naturalWidth})),
    links: [...document.querySelectorAll('a[href]')].map(a => a.href),
    ids: [...document.querySelectorAll('[id]')].map(e => e.id).concat(
         [...document.querySelectorAll('a[name]')].map(a => a.name)),
    tables: [...document.querySelectorAll('table')].map(t => [...t.rows].map(
            r => [...r.cells].map(c => c.innerText.trim()))),
    title: document.title,
    text: document.body.innerText,
  };
}"""


@pytest.fixture(scope="module")
def crawl(site, base_url, browser):
    """Every page reachable from the landing page: its console errors, images, links and anchors."""
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    errors = []
    page.on("console", lambda message: errors.append(f"console: {message.text}") if message.type == "error" else None)
    page.on("pageerror", lambda error: errors.append(f"page error: {error}"))
    page.on("requestfailed", lambda request: errors.append(f"request failed: {request.url} ({request.failure})"))
    page.on("response", lambda response: errors.append(f"HTTP {response.status}: {response.url}")
            if response.status >= 400 else None)
    pages, queue = {}, [base_url + "index.html"]
    while queue:
        url = queue.pop(0)
        if url in pages:
            continue
        errors.clear()
        page.goto(url, wait_until="load")
        facts = page.evaluate(_PAGE_FACTS)
        page.wait_for_timeout(100)
        facts["errors"] = list(errors)
        pages[url] = facts
        name = urlparse(url).path.rsplit("/", 1)[-1]
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        if name == "index.html":
            page.screenshot(path=str(SCREENSHOTS / "landing.png"), full_page=True)
        elif name == f"{SCREENSHOT_PAGE}.html":
            page.screenshot(path=str(SCREENSHOTS / f"{SCREENSHOT_PAGE}.png"), full_page=True,
                            clip={"x": 0, "y": 0, "width": 1280, "height": 2400})
        for link in facts["links"]:
            target = urldefrag(link).url
            if target.startswith(base_url) and target.endswith(".html") and target not in pages:
                queue.append(target)
    statuses = {}
    for facts in pages.values():
        for link in facts["links"]:
            target = urldefrag(link).url
            if target.startswith(base_url) and target not in pages and target not in statuses:
                statuses[target] = page.request.get(target).status
    page.close()
    return SimpleNamespace(pages=pages, statuses=statuses, base=base_url)


def test_site_builds_offline_in_well_under_a_minute(site):
    assert site.seconds < 60, f"site build took {site.seconds:.0f} s"
    assert (site.html / "index.html").is_file() and (site.html / "search.html").is_file()
    assert site.problems == [], "\n".join(site.problems)


def test_every_notebook_has_a_page(crawl, site):
    names = [nb.stem for nb in load_ci_script("run_notebooks").discover()]
    visited = {urlparse(url).path.rsplit("/", 1)[-1] for url in crawl.pages}
    assert {f"{name}.html" for name in names} <= visited
    for name in names:
        facts = crawl.pages[crawl.base + f"{name}.html"]
        assert any(link.startswith("https://colab.research.google.com/github/") and link.endswith(f"{name}.ipynb")
                   for link in facts["links"]), f"{name}: no Colab badge"
        assert "### BEGIN SOLUTION" not in facts["text"] and "### BEGIN HIDDEN TESTS" not in facts["text"]
    order = [crawl.base + f"{name}.html" for name in names]
    for before, after in zip(order, order[1:]):
        assert after in crawl.pages[before]["links"], f"no link from {before} to the next notebook {after}"


def test_every_page_loads_without_console_errors(crawl):
    problems = {url: facts["errors"] for url, facts in crawl.pages.items() if facts["errors"]}
    assert problems == {}


def test_every_image_on_every_page_is_loaded(crawl):
    broken = [(url, image["src"]) for url, facts in crawl.pages.items() for image in facts["images"]
              if image["width"] == 0]
    assert broken == []
    assert sum(len(facts["images"]) for facts in crawl.pages.values()) > len(crawl.pages)  # figures are there


def test_every_internal_link_resolves(crawl):
    broken = []
    for url, facts in crawl.pages.items():
        for link in facts["links"]:
            target, anchor = urldefrag(link)
            if not target.startswith(crawl.base):
                continue
            if target in crawl.pages:
                if anchor and anchor not in crawl.pages[target]["ids"]:
                    broken.append(f"{url} -> {link}: no #{anchor}")
            elif crawl.statuses.get(target) != 200:
                broken.append(f"{url} -> {link}: HTTP {crawl.statuses.get(target)}")
    assert broken == []


def test_landing_page_shows_the_results_of_the_last_run(crawl, site):
    landing = crawl.pages[crawl.base + "index.html"]
    table = next(t for t in landing["tables"] if t and "metrics" in t[0])
    header, shown, notebook = table[0], {}, None
    for row in table[1:]:
        cells = dict(zip(header, row))
        notebook = cells["notebook"] or notebook
        shown[notebook, cells["method"]] = cells["metrics"]
    files = sorted((site.artifacts / "results").glob("[0-9][0-9]_*.json"))
    assert files
    for path in files:
        result = runs.load_results(path)
        for method, values in result["metrics"].items():
            assert (result["notebook"], method) in shown, f"no row for {result['notebook']} {method}"
            for key, value in values.items():
                if not isinstance(value, (dict, list)):
                    expected = f"{key} {make_readme_table._fmt(value)}"
                    assert expected in shown[result["notebook"], method], (path.name, method, expected)
    assert len(shown) == sum(len(runs.load_results(p)["metrics"]) for p in files)
    assert "Course map" in landing["text"] and "Profiles" in landing["text"]


def test_search_finds_a_notebook(crawl, browser):
    page = browser.new_page()
    page.goto(crawl.base + "search.html?q=optical+flow", wait_until="load")
    page.wait_for_selector("#search-results li, ul.search li", timeout=15000)
    hits = page.eval_on_selector_all("#search-results li a, ul.search li a", "els => els.map(e => e.href)")
    page.close()
    assert any("03_optical_flow.html" in hit for hit in hits), hits


def test_screenshots_are_written_for_a_person_to_look_at(crawl):
    for name in ("landing", SCREENSHOT_PAGE):
        path = SCREENSHOTS / f"{name}.png"
        assert path.is_file() and path.stat().st_size > 10_000, path
    (SCREENSHOTS / "pages.json").write_text(json.dumps(sorted(urlparse(u).path for u in crawl.pages), indent=1) + "\n")
