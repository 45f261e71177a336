"""A real browser: log in, register an episode and a follow-up with the keyboard only, see the
overview change, log out; axe-core on every page finds no WCAG 2.1 A/AA violation."""

from __future__ import annotations

import re

import pytest

from tests.portal.browser import axe_violations, require_browser, start_chrome
from tests.portal.conftest import make_user, password_of, synthetic_number


@pytest.fixture(scope="module")
def browser(live_server):
    require_browser()
    from django.db import connection

    from evaluation.portal.demo import add_demo_cases
    from evaluation.portal.models import Episode

    if not Episode.objects.filter(municipality_code="0180").exists():
        add_demo_cases(n_children=200, seed=5)
    for name, role, region in (("webb-reg", "registrar", ""), ("webb-ana", "analyst", ""),
                               ("webb-adm", "admin", "")):
        make_user(name, role, "0180", region)
    connection.close()
    driver = start_chrome()
    yield driver
    driver.quit()


def _keys():
    from selenium.webdriver.common.keys import Keys

    return Keys


def enter_and_wait(driver) -> None:
    """Press Enter on the focused element and wait for the next page to load."""
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait

    old = driver.find_element("tag name", "html")
    driver.switch_to.active_element.send_keys(_keys().ENTER)
    WebDriverWait(driver, 30).until(ec.staleness_of(old))
    WebDriverWait(driver, 30).until(
        lambda d: d.execute_script("return document.readyState") == "complete")


def tab_to(driver, element_id: str, limit: int = 80) -> None:
    """Press Tab until the element has focus (fails if the focus order never reaches it)."""
    body = driver.find_element("tag name", "body")
    for _ in range(limit):
        active = driver.switch_to.active_element
        if active.get_attribute("id") == element_id:
            return
        (active if active.tag_name != "html" else body).send_keys(_keys().TAB)
    raise AssertionError(f"Tab never reached #{element_id}")


def type_into(driver, element_id: str, text: str) -> None:
    tab_to(driver, element_id)
    driver.switch_to.active_element.send_keys(text)


def press_enter_on_submit(driver, form_selector: str = "main form") -> None:
    button = driver.find_element("css selector", f"{form_selector} button[type=submit]")
    for _ in range(80):
        if driver.switch_to.active_element == button:
            break
        driver.switch_to.active_element.send_keys(_keys().TAB)
    enter_and_wait(driver)


def _check_axe(driver, seen: list) -> None:
    violations = axe_violations(driver)
    seen.append((driver.current_url, violations))
    assert not violations, f"{driver.current_url}: {violations}"


def _overview_numbers(driver, url: str) -> list[str]:
    driver.get(url + "/oversikt/")
    return re.findall(r"\d+ ?%|<5|\d+", driver.find_element("tag name", "main").text)


def _login(driver, url: str, name: str) -> None:
    driver.get(url + "/logga-in/")
    type_into(driver, "id_username", name)
    driver.switch_to.active_element.send_keys(_keys().TAB)
    driver.switch_to.active_element.send_keys(password_of(name))
    enter_and_wait(driver)


def _logout(driver) -> None:
    tab_to(driver, "logout-button")
    enter_and_wait(driver)
    assert "/logga-in/" in driver.current_url


def test_register_with_the_keyboard_and_see_the_overview_change(browser, live_server):
    driver, url, seen = browser, live_server.url, []
    driver.get(url + "/logga-in/")
    _check_axe(driver, seen)
    _login(driver, url, "webb-reg")
    assert driver.current_url.rstrip("/") == url
    _check_axe(driver, seen)
    before = _overview_numbers(driver, url)
    _check_axe(driver, seen)

    driver.get(url + "/barn/sok/")
    _check_axe(driver, seen)
    type_into(driver, "id_personnummer", "19990231-1234")   # no such date: refused
    enter_and_wait(driver)
    assert "inte ett giltigt" in driver.page_source and "19990231" not in driver.page_source
    _check_axe(driver, seen)
    number = synthetic_number(101)
    type_into(driver, "id_personnummer", number)
    enter_and_wait(driver)
    assert "/barn/" in driver.current_url and number not in driver.page_source
    _check_axe(driver, seen)

    driver.get(url + "/episod/ny/")
    _check_axe(driver, seen)
    type_into(driver, "id_start_date", "2025-13-01")       # a wrong date first
    press_enter_on_submit(driver)
    assert "felsammanfattning" in driver.page_source and "inte ett giltigt datum" in driver.page_source
    _check_axe(driver, seen)
    field = driver.find_element("id", "id_start_date")
    field.clear()
    type_into(driver, "id_start_date", "2025-09-01")
    type_into(driver, "id_legal_basis", "SoL")
    type_into(driver, "id_placement_type", "Familjehem")
    tab_to(driver, "id_problem_neglect")
    driver.switch_to.active_element.send_keys(_keys().SPACE)
    press_enter_on_submit(driver)
    assert "/episod/" in driver.current_url and "registrerad" in driver.page_source
    _check_axe(driver, seen)
    episode_url = driver.current_url

    driver.get(episode_url + "uppfoljning/")
    _check_axe(driver, seen)
    type_into(driver, "id_followup_date", "2025-11-15")
    type_into(driver, "id_goal_attainment", "Delvis")
    type_into(driver, "id_theme_safety", "4")
    press_enter_on_submit(driver)
    assert "Uppföljningen är registrerad" in driver.page_source
    _check_axe(driver, seen)
    for path in ("avslut/", "andra/"):
        driver.get(episode_url + path)
        _check_axe(driver, seen)

    after = _overview_numbers(driver, url)
    assert after != before
    _check_axe(driver, seen)
    _logout(driver)
    _check_axe(driver, seen)

    for name, paths in (("webb-ana", ["/", "/export/", "/oversikt/"]),
                        ("webb-adm", ["/", "/logg/", "/oversikt/?kommun=1480"])):
        _login(driver, url, name)
        for path in paths:
            driver.get(url + path)
            _check_axe(driver, seen)
        _logout(driver)
    driver.get(url + "/finns-inte/")
    _check_axe(driver, seen)
    assert len(seen) >= 20 and len({u for u, _ in seen}) >= 14
