"""Headless Chromium for the browser tests (Debian's chromium + chromium-driver) and axe-core.

The tests skip with a clear message when Chromium, chromedriver or axe-core is missing,
unless ``EVALUATION_REQUIRE_BROWSER=1`` (set by ``.ci/run``), which turns the skip into a
failure.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from tests.helpers import ROOT

CHROME_FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                "--disable-component-update", "--no-first-run", "--lang=sv-SE",
                "--window-size=1280,1000")
AXE_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]


def axe_path() -> Path | None:
    """axe.min.js from $AXE_CORE_JS or the folder .ci/run installs it into."""
    given = os.environ.get("AXE_CORE_JS")
    path = Path(given) if given else ROOT / ".ci" / "axe" / "node_modules" / "axe-core" / "axe.min.js"
    return path if path.is_file() else None


def _missing() -> list[str]:
    out = []
    if not (shutil.which("chromium") or shutil.which("chromium-browser")):
        out.append("chromium (apt-get install chromium)")
    if not shutil.which("chromedriver"):
        out.append("chromedriver (apt-get install chromium-driver)")
    if axe_path() is None:
        out.append("axe-core (npm install --prefix .ci/axe axe-core, or set AXE_CORE_JS)")
    try:
        import selenium  # noqa: F401
    except ImportError:
        out.append("selenium (pip install -e '.[test]')")
    return out


def require_browser() -> None:
    """Skip (or, with EVALUATION_REQUIRE_BROWSER=1, fail) when a piece is missing."""
    missing = _missing()
    if not missing:
        return
    message = "browser tests need " + ", ".join(missing)
    if os.environ.get("EVALUATION_REQUIRE_BROWSER") == "1":
        pytest.fail(message + " (EVALUATION_REQUIRE_BROWSER=1)")
    pytest.skip(message)


def start_chrome():
    """A headless Chromium driven by chromedriver."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = shutil.which("chromium") or shutil.which("chromium-browser")
    for flag in CHROME_FLAGS:
        options.add_argument(flag)
    driver = webdriver.Chrome(options=options, service=Service(shutil.which("chromedriver")))
    driver.set_page_load_timeout(60)
    driver.set_script_timeout(60)
    return driver


def axe_violations(driver) -> list[dict]:
    """WCAG 2.1 A and AA violations axe-core finds on the current page."""
    driver.execute_script(axe_path().read_text("utf-8"))
    return driver.execute_async_script(
        "const done = arguments[arguments.length - 1];"
        "axe.run(document, {runOnly: {type: 'tag', values: arguments[0]}})"
        ".then(r => done(r.violations.map(v => ({id: v.id, impact: v.impact, help: v.help,"
        " nodes: v.nodes.map(n => n.target.join(' ')).slice(0, 5)}))))"
        ".catch(e => done([{id: 'axe-error', help: String(e), nodes: []}]));",
        AXE_TAGS)
