"""The operator console in a real browser: Debian's headless Chromium driven by Selenium through chromedriver.

A worker logs in with a demo identity, types a household, integrates it (the manual's example: code 01 from
2014-12-01 on a gateway whose day is 2015-01-10), desintegrates 2015-01-01..2015-01-14 for one member, reads the
two remaining periods on the timeline, and checks flows, a refused one drawing its missing days in red. Each step
leaves a screenshot in ``tests/e2e/screenshots/`` for a reviewer.

Without ``/usr/bin/chromium`` and ``/usr/bin/chromedriver`` these tests skip, saying so; with
``KSZ_TEST_REQUIRE_BROWSER=1`` (CI) they fail instead. Selenium never downloads a browser or a driver: the
driver's path is given, and ``SE_OFFLINE`` forbids its manager any download.
"""

from __future__ import annotations

import base64
import os
from collections.abc import Callable, Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
REQUIRE_ENV = "KSZ_TEST_REQUIRE_BROWSER"
SCREENSHOTS = Path(__file__).resolve().parent / "screenshots"
DEMOSTAD = ("0212345668", "demo-ocmw-a")

pytestmark = pytest.mark.slow


def _unavailable() -> str | None:
    missing = [str(p) for p in (CHROMIUM, CHROMEDRIVER) if not p.exists()]
    if missing:
        return (
            f"the browser tests need Debian's Chromium and its driver, and {' and '.join(missing)} is missing: "
            "apt-get install chromium chromium-driver"
        )
    try:
        import selenium  # noqa: F401
    except ImportError:
        return "the browser tests need selenium: pip install -e '.[dev]'"
    return None


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    reason = _unavailable()
    if reason is not None:
        if os.environ.get(REQUIRE_ENV) == "1":
            pytest.fail(f"{REQUIRE_ENV}=1, but {reason}")
        pytest.skip(reason)
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    os.environ["SE_OFFLINE"] = "true"  # Selenium Manager may download nothing
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for argument in (
        "--headless=new",
        "--no-sandbox",  # the tests run as root in CI
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--window-size=1280,900",
        "--lang=en-US",
        "--no-first-run",
        "--disable-extensions",
        "--disable-sync",
        "--disable-background-networking",
        "--disable-component-update",
    ):
        options.add_argument(argument)
    options.add_experimental_option("prefs", {"intl.accept_languages": "en-US"})
    driver = webdriver.Chrome(service=Service(executable_path=str(CHROMEDRIVER)), options=options)
    driver.set_page_load_timeout(30)
    SCREENSHOTS.mkdir(exist_ok=True)
    yield driver
    driver.quit()


def _gone(element: Any) -> bool:
    """Whether ``element`` left the document (its page was replaced). Chromium's driver says so with a stale
    element error, or, when the node went while it was being looked up, with an "unknown error" saying the node
    does not belong to the document: both mean gone."""
    from selenium.common.exceptions import StaleElementReferenceException, WebDriverException

    try:
        element.is_enabled()
    except StaleElementReferenceException:
        return True
    except WebDriverException as exc:
        if "does not belong to the document" in str(exc):
            return True
        raise
    return False


class Worker:
    """A worker at the console: what a person does, in words a test reads like the manual."""

    def __init__(self, driver: Any, base: str) -> None:
        from selenium.webdriver.common.by import By

        self.driver = driver
        self.base = base
        self.by = By

    def open(self, path: str) -> None:
        self.driver.get(self.base + path)

    def find(self, css: str) -> Any:
        return self.driver.find_element(self.by.CSS_SELECTOR, css)

    def all(self, css: str) -> list[Any]:
        return list(self.driver.find_elements(self.by.CSS_SELECTOR, css))

    def type(self, css: str, text: str) -> None:
        field = self.find(css)
        field.clear()
        field.send_keys(text)

    def type_date(self, css: str, iso: str) -> None:
        """Type a day into an ``<input type=date>`` as a person does in an en-US browser: month, day, year."""
        year, month, day = iso.split("-")
        field = self.find(css)
        field.send_keys(f"{month}{day}{year}")
        assert field.get_attribute("value") == iso

    def tick(self, css: str) -> None:
        self.find(css).click()

    def click(self, css: str) -> None:
        """Click a link or a button, and wait until the page it leads to has loaded."""
        from selenium.webdriver.support.ui import WebDriverWait

        page = self.find("html")
        self.find(css).click()
        wait = WebDriverWait(self.driver, 30)
        wait.until(lambda driver: _gone(page))
        wait.until(lambda driver: driver.execute_script("return document.readyState") == "complete")

    def choose(self, css: str, value: str) -> None:
        from selenium.webdriver.support.ui import Select

        Select(self.find(css)).select_by_value(value)

    def text(self, css: str) -> str:
        return str(self.find(css).text)

    def screenshot(self, name: str) -> Path:
        """The whole page, however long, as ``screenshots/NAME.png`` (Chromium's own capture beyond the viewport)."""
        size = self.driver.execute_cdp_cmd("Page.getLayoutMetrics", {})["cssContentSize"]
        clip = {"x": 0, "y": 0, "width": size["width"], "height": size["height"], "scale": 1}
        shot = self.driver.execute_cdp_cmd(
            "Page.captureScreenshot", {"format": "png", "captureBeyondViewport": True, "clip": clip}
        )
        path = SCREENSHOTS / f"{name}.png"
        path.write_bytes(base64.b64decode(shot["data"]))
        return path

    def log_in(self, institution: str, secret: str) -> None:
        self.driver.delete_all_cookies()
        self.open("/login")
        self.type("#institution", institution)
        self.type("#secret", secret)
        self.click("#login")

    def add_member(self, ssin: str, name: str) -> None:
        self.open("/")
        self.type("#ssin", ssin)
        self.type("#name", name)
        self.click("#add")

    def change(
        self, action: str, members: tuple[str, ...], start: str, end: str | None = None, code: str = "1"
    ) -> None:
        """On the integrations screen: the period, the quality code, the ticked members, then the button."""
        self.open("/integrations")
        self.type_date("#start", start)
        if end is not None:
            self.type_date("#end", end)
        self.choose("#code", code)
        for member in members:
            self.tick(f"#member-{member}")
        self.click(f"#{action}")

    def outcome(self, ssin: str) -> tuple[str, str, str]:
        """A member's result on the integrations screen: its dot's colour, its status and its periods."""
        row = f"#result-{ssin}"
        dot = self.find(f"{row} .dot").get_attribute("class").replace("dot", "").strip()
        return dot, self.find(f"{row} .status").get_attribute("data-status"), self.text(f"{row} .periods")

    def bars(self) -> list[str]:
        """The tooltips of the timeline's bars, as the SVG itself carries them."""
        return [str(g.get_attribute("textContent")) for g in self.all("#timeline svg g.period > title")]


@pytest.fixture
def worker(browser: Any, console_gateway: Any) -> Worker:
    return Worker(browser, f"http://{console_gateway.host}:{console_gateway.port}/console")


def test_a_worker_performs_the_manuals_example_and_reads_the_two_remaining_periods_on_the_timeline(
    worker: Worker, ssin: Callable[[], str]
) -> None:
    jan, marie = ssin(), ssin()
    worker.open("/")
    assert worker.driver.current_url.endswith("/console/login")
    worker.screenshot("01-login")
    worker.log_in(*DEMOSTAD)
    assert "OCMW Demostad" in worker.text("header .who")

    worker.add_member(jan, "Jan Peeters")
    worker.add_member(marie, "Marie Dubois")
    assert [td.text for td in worker.all("#members td.ssin")] == [jan, marie]
    worker.screenshot("02-household")

    worker.click("#to-integrations")
    assert worker.driver.current_url.endswith("/console/integrations")
    worker.change("integrate", (jan, marie), "2014-12-01")
    assert worker.outcome(jan) == ("green", "INTEGRATED", "2014-12-01 – 2015-01-31")
    assert worker.outcome(marie) == ("green", "INTEGRATED", "2014-12-01 – 2015-01-31")
    worker.screenshot("03-integrated")

    worker.change("desintegrate", (jan,), "2015-01-01", "2015-01-14")
    assert worker.outcome(jan) == ("green", "DESINTEGRATED", "2014-12-01 – 2014-12-31\n2015-01-15 – 2015-01-31")
    assert worker.all(f"#result-{marie} .dot") == []  # not ticked: not touched
    worker.screenshot("04-desintegrated")

    worker.click(f"#timeline-{jan}")  # the manual's magnifier
    assert worker.bars() == [
        "OCMW Demostad (0212345668), 01 file under investigation: 2014-12-01 – 2014-12-31",
        "OCMW Demostad (0212345668), 01 file under investigation: 2015-01-15 – 2015-01-31",
    ]
    assert [td.text for td in worker.all("#integrations td.when")] == [
        "2014-12-01 – 2014-12-31",
        "2015-01-15 – 2015-01-31",
    ]
    assert "today 2015-01-10" in worker.find("#timeline svg").get_attribute("textContent")
    worker.screenshot("05-timeline")


def test_the_consultation_lists_every_institutions_integrations_per_code_and_period(
    worker: Worker, ssin: Callable[[], str], console_gateway: Any
) -> None:
    from gateway.client import RepertoriumClient

    person = ssin()
    endpoint = console_gateway.endpoint
    with RepertoriumClient(endpoint, "0212345866", "demo-family-c") as family:
        family.integrate([person], code=1, start=date(2014, 11, 1))
    with RepertoriumClient(endpoint, "0212345767", "demo-ocmw-b") as other:
        other.integrate([person], code=7, start=date(2014, 6, 1), end=date(2015, 3, 31))
    worker.log_in(*DEMOSTAD)
    worker.add_member(person, "Lena Janssens")
    worker.change("integrate", (person,), "2015-01-05", code="2")
    assert worker.outcome(person)[:2] == ("green", "INTEGRATED")

    worker.click("#nav-consultation")
    worker.choose("#person", person)
    worker.type_date("#period_start", "2014-01-01")
    worker.click("#consult")
    institutions = [row.find_element(worker.by.CSS_SELECTOR, "td").text for row in worker.all("#integrations tbody tr")]
    assert institutions == [
        "OCMW Demostad (0212345668)",
        "OCMW Voorbeeldgem (0212345767)",
        "Kinderbijslagfonds Demo (0212345866)",
    ]
    bars = worker.bars()
    assert "OCMW Demostad (0212345668), 02 living-wage file: 2015-01-05 – 2016-01-04" in bars
    assert "Kinderbijslagfonds Demo (0212345866), 01 child-benefit file: 2014-11-01 – 2015-10-31" in bars
    assert "OCMW Voorbeeldgem (0212345767), 07 debt mediation or budget guidance: 2014-06-01 – 2015-03-31" in bars
    worker.screenshot("06-consultation")

    worker.click("#lang-nl")
    assert worker.text("h1").startswith("Raadpleging van de integraties")
    assert "dossier leefloon" in worker.find("#timeline svg").get_attribute("textContent")
    worker.screenshot("07-consultation-nl")
    worker.click("#lang-en")


def test_a_refused_checkaccess_names_the_rule_and_draws_the_missing_days_in_red(
    worker: Worker, ssin: Callable[[], str]
) -> None:
    main, partner = ssin(), ssin()
    worker.log_in(*DEMOSTAD)
    worker.add_member(main, "Jan Peeters")
    worker.add_member(partner, "Marie Dubois")
    worker.change("integrate", (main, partner), "2014-12-01")
    worker.change("desintegrate", (main,), "2015-01-01", "2015-01-14")

    worker.click("#nav-check_access")
    worker.choose("#flow", "consult.generic")
    worker.tick(f"#member-{partner}")
    worker.click("#check")
    assert worker.text("#decision-word") == "allowed"
    assert worker.text(f"#decision-{partner} .rule") == "R5.1"
    worker.screenshot("08-access-allowed")

    worker.open("/access")
    worker.choose("#flow", "form.living-wage")
    worker.tick(f"#member-{main}")
    worker.choose(f"#role-{main}", "MAIN")
    worker.tick(f"#member-{partner}")
    worker.choose(f"#role-{partner}", "PARTNER")
    worker.type_date("#EffectiveDate", "2015-01-20")
    worker.click("#check")
    assert worker.text("#decision-word") == "refused"
    assert worker.find(f"#decision-{main} .dot").get_attribute("class") == "dot red"
    assert worker.text(f"#decision-{main} .rule") == "R5.3"
    assert worker.text(f"#decision-{main} .missing") == "2015-01-10"
    assert "not integrated by this institution in code 01 today (2015-01-10)" in worker.text(f"#decision-{main}")
    assert worker.find(f"#decision-{partner} .dot").get_attribute("class") == "dot green"
    worker.screenshot("09-access-refused")

    worker.click(f"#timeline-{main}")
    assert "Missing days: 2015-01-10" in worker.bars()
    assert "missing for form.living-wage (rule R5.3)" in worker.find("#timeline svg").get_attribute("textContent")
    worker.screenshot("10-timeline-missing-days")
