"""The demo reports and their index as a municipal analyst sees them, in headless Chromium.

Every image loads and has an alternative text that says something, ``<html lang>`` is set,
the tab title is the report's title, no request leaves the machine and the console shows no
error. Skipped with a message where Chromium or chromedriver is missing, except in CI
(``EVALUATION_REQUIRE_BROWSER=1``, set by ``.ci/run``), where that is a failure.
"""

from __future__ import annotations

import json
import os
import shutil

import pytest

from evaluation.data import synth
from evaluation.reporting.index import write_folder_index
from evaluation.reporting.run import run_report
from tests.helpers import ROOT

NOTEBOOKS = ["01-overview", "02-outcomes-and-effects", "03-teaching-confounding",
             "04-child-perspective"]
GENERIC_ALT = {"", "diagram", "chart", "no description has been provided for this image"}


def _browser():
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    driver = shutil.which("chromedriver")
    if not (chromium and driver):
        message = ("Chromium or chromedriver is missing (apt-get install chromium "
                   "chromium-driver); the page test needs them.")
        if os.environ.get("EVALUATION_REQUIRE_BROWSER") == "1":
            pytest.fail(message)
        pytest.skip(message)
    webdriver = pytest.importorskip("selenium.webdriver")
    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic",
                 "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage"):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL", "performance": "ALL"})
    service = webdriver.ChromeService(executable_path=driver)
    return webdriver.Chrome(options=options, service=service)


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    root = tmp_path_factory.mktemp("demo")
    extract, out = root / "extract", root / "reports"
    synth.write(synth.generate(n_children=1500, n_municipalities=8, seed=2), extract)
    from evaluation.data.validate import validate_files

    validate_files(sorted(extract.glob("*.csv")), root / "data")
    for name in NOTEBOOKS:
        nb = ROOT / "notebooks" / f"{name}.ipynb"
        if not nb.is_file():
            continue
        data = extract if name.startswith("03") else root / "data"
        run_report(nb, data, out)
    write_folder_index(out)
    return out


@pytest.fixture(scope="module")
def browser():
    driver = _browser()
    yield driver
    driver.quit()


def _pages(demo):
    return [demo / "index.html", *sorted(demo.glob("0*.html"))]


def test_every_demo_page_is_usable_in_chromium(demo, browser):
    pages = _pages(demo)
    assert len(pages) >= 4
    for page in pages:
        browser.get_log("performance")  # drop what earlier pages logged
        browser.get_log("browser")
        browser.get(page.as_uri())
        state = browser.execute_script("""
            return {
              lang: document.documentElement.lang,
              title: document.title,
              images: Array.from(document.images).map(i => ({
                  alt: i.getAttribute('alt'), ok: i.complete && i.naturalWidth > 0})),
              anchors: document.querySelectorAll('a.anchor-link').length,
              pilcrows: (document.body.innerText.match(/\u00b6/g) || []).length,
            };""")
        where = page.name
        assert state["lang"] in ("sv", "en"), where
        assert state["title"] and state["title"] != page.stem, where
        assert state["anchors"] == 0 and state["pilcrows"] == 0, where
        for image in state["images"]:
            assert image["ok"], f"{where}: an image did not load"
            assert (image["alt"] or "").strip().lower() not in GENERIC_ALT, \
                f"{where}: an image without a real alt text"
        errors = [e for e in browser.get_log("browser") if e["level"] == "SEVERE"]
        assert not errors, f"{where}: console errors {errors}"
        urls = []
        for entry in browser.get_log("performance"):
            message = json.loads(entry["message"])["message"]
            if message["method"] == "Network.requestWillBeSent":
                urls.append(message["params"]["request"]["url"])
        leaving = [u for u in urls if not u.startswith(("file://", "data:", "about:"))]
        assert not leaving, f"{where}: requests leave the machine: {leaving}"


def test_results_of_every_demo_report_validate_against_the_documented_schema(demo):
    import jsonschema

    schema = json.loads((ROOT / "docs" / "results.schema.json").read_text("utf-8"))
    found = sorted(demo.glob("*.results.json"))
    assert len(found) == len(list(demo.glob("0*.html")))
    for path in found:
        results = json.loads(path.read_text("utf-8"))
        jsonschema.validate(results, schema)
        assert results["tables"] and all(f["alt"].strip() for f in results["figures"]), path.name


def test_index_links_every_demo_report(demo, browser):
    browser.get((demo / "index.html").as_uri())
    links = browser.execute_script(
        "return Array.from(document.querySelectorAll('a')).map(a => a.getAttribute('href'));")
    assert sorted(links) == sorted(p.name for p in demo.glob("0*.html"))
