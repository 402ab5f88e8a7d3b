"""The console in a real browser: Debian's Chromium, headless, driven by Selenium.

The journey of issue 15: an agent signs in (by keyboard alone), sees only their own
violations and appeals one; a supervisor filters the ledger, opens the evidence timeline,
decides the appeal, waives another violation with a reason, sees the scorecard change,
exports it as CSV, closes the month — and a waive sent from a page opened before the closing
is refused with a clear message; a lead adds an agent's user, who signs in with the one-time
password shown and chooses their own. Every step leaves a screenshot in a folder under
pytest's temporary directory, printed at the start, at 1280×800, and the ledger and a
violation at a phone's width too.

Skipped without ``chromium`` and ``chromedriver`` (Debian: ``apt install chromium
chromium-driver fonts-wqy-microhei``); CI sets ``SHOPWATCH_REQUIRE_INTEGRATION=1``, which
turns the skip into a failure.
"""

from __future__ import annotations

import asyncio
import csv
import io
import shutil
from collections.abc import Callable, Iterator
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import FakeClock
from tests.daemon.shop import local

from .support import PASSWORD, Console, console

pytestmark = pytest.mark.integration

CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-dev-shm-usage",
    "--lang=zh-CN",
)
DESKTOP = (1280, 800)
PHONE = (390, 844)
WAIT = 10.0


def _binaries() -> tuple[str, str]:
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    driver = shutil.which("chromedriver")
    if chromium is None or driver is None:
        pytest.skip(
            "chromium and chromedriver are not installed "
            "(Debian: apt install chromium chromium-driver fonts-wqy-microhei)"
        )
    return chromium, driver


@pytest.fixture
def screenshots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("console-screenshots", numbered=True)
    print(f"\nconsole screenshots: {folder}")
    return folder


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[Any]:
    chromium, driver_path = _binaries()
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for flag in CHROMIUM_FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={tmp_path / 'chromium-profile'}")
    options.add_argument(f"--window-size={DESKTOP[0]},{DESKTOP[1]}")
    downloads = tmp_path / "downloads"
    downloads.mkdir()
    options.add_experimental_option(
        "prefs",
        {
            "download.default_directory": str(downloads),
            "download.prompt_for_download": False,
            "intl.accept_languages": "zh-CN,zh",
        },
    )
    driver = webdriver.Chrome(service=Service(executable_path=driver_path), options=options)
    driver.downloads = downloads  # type: ignore[attr-defined]
    try:
        yield driver
    finally:
        driver.quit()


class Journey:
    """The browser's steps, run in a thread while the test's event loop serves the daemon."""

    def __init__(self, driver: Any, base: str, folder: Path) -> None:
        from selenium.webdriver.common.by import By

        self.driver = driver
        self.base = base
        self.folder = folder
        self.by = By
        self.shots: list[tuple[str, str]] = []

    def shot(self, name: str, what: str) -> None:
        path = self.folder / f"{len(self.shots) + 1:02d}-{name}.png"
        self.driver.save_screenshot(str(path))
        self.shots.append((path.name, what))

    def go(self, path: str) -> None:
        self.driver.get(self.base + path)

    def find(self, css: str) -> Any:
        return self.driver.find_element(self.by.CSS_SELECTOR, css)

    def all(self, css: str) -> list[Any]:
        return list(self.driver.find_elements(self.by.CSS_SELECTOR, css))

    def text(self) -> str:
        return str(self.find("body").text)

    def wait_for(self, check: Callable[[], bool], what: str) -> None:
        """Selenium's own wait; an element replaced by a navigation under our feet (stale)
        means "not yet", not a failure."""
        from selenium.common.exceptions import StaleElementReferenceException, TimeoutException
        from selenium.webdriver.support.ui import WebDriverWait

        wait = WebDriverWait(
            self.driver,
            WAIT,
            poll_frequency=0.05,
            ignored_exceptions=(StaleElementReferenceException,),
        )
        try:
            wait.until(lambda _driver: check())
        except TimeoutException:
            raise AssertionError(
                f"timed out waiting for {what}; page: {self.text()[:500]}"
            ) from None

    def sign_in_by_keyboard(self, name: str, secret: str = PASSWORD) -> None:
        from selenium.webdriver.common.keys import Keys

        self.go("/login")
        self.wait_for(  # autofocus puts the cursor in the name field
            lambda: self.driver.switch_to.active_element.get_attribute("id") == "name",
            "the name field to have the focus",
        )
        field = self.driver.switch_to.active_element
        field.send_keys(name, Keys.TAB)
        password = self.driver.switch_to.active_element
        assert password.get_attribute("id") == "password"
        password.send_keys(secret, Keys.ENTER)
        self.wait_for(lambda: "/login" not in self.driver.current_url, "signing in")

    def sign_out(self) -> None:
        self.find("form[action='/logout'] button").click()
        self.wait_for(lambda: "/login" in self.driver.current_url, "signing out")

    def submit(self, form_css: str, reason: str) -> None:
        form = self.find(form_css)
        form.find_element(self.by.CSS_SELECTOR, "textarea, input[name=reason]").send_keys(reason)
        form.find_element(self.by.CSS_SELECTOR, "button[type=submit]").click()

    def ledger_ids(self) -> set[int]:
        return {
            int(a.text)
            for a in self.all("table.list tbody td:first-child a")
            if a.text.strip().isdigit()
        }

    def score_of(self, agent: str) -> int:
        for row in self.all("table.scorecard tbody tr"):
            if f"/agents/{agent}" in row.get_attribute("innerHTML"):
                return int(row.find_element(self.by.CSS_SELECTOR, "td.score").text)
        raise AssertionError(f"{agent} is not on the scorecard")


def journey(j: Journey, ids: dict[str, int]) -> None:
    own, second_own, theirs = ids["own"], ids["second_own"], ids["theirs"]

    # -- the agent: keyboard sign-in, only their own violations, an appeal --
    j.go("/login")
    j.shot("sign-in", "the sign-in page, in Chinese")
    j.sign_in_by_keyboard("li")
    j.shot("agent-own-page", "li's own page: this month's score and their violations")
    j.go("/ledger")
    assert j.ledger_ids() == {own, second_own}, j.ledger_ids()
    j.shot("agent-ledger", "li's ledger lists only li's two violations")
    j.go(f"/violations/{theirs}")
    assert "没有这个页面" in j.text()
    j.go(f"/violations/{own}")
    j.submit("form.action-appeal", "买家当时已电话付款")
    j.wait_for(lambda: "已申诉" in j.text(), "the appeal")
    assert "申诉中" in j.text()
    j.shot("agent-appealed", "violation appealed: the status reads 申诉中 and the trail names li")
    j.sign_out()

    # -- the supervisor: filter, timeline, decide the appeal, waive another --
    j.sign_in_by_keyboard("chen")
    j.go("/ledger")
    from selenium.webdriver.support.ui import Select

    Select(j.find("#f-status")).select_by_value("appealed")  # the page's script submits it
    j.wait_for(lambda: "status=appealed" in j.driver.current_url, "the filter")
    assert j.ledger_ids() == {own}
    j.shot("ledger-filtered", "the ledger filtered to appealed violations: one, li's")
    j.find(f"a[href='/violations/{own}#timeline']").click()
    j.wait_for(lambda: j.all("ol.timeline li.t-deadline"), "the timeline")
    assert j.all("ol.timeline li.t-watermark") and j.all(".axis .mark-deadline")
    assert "作为证据引用" in j.text()
    j.shot("evidence-timeline", "the evidence timeline: order, messages, deadline, watermarks")
    j.submit("form.action-confirm", "电话付款无记录，维持")
    j.wait_for(lambda: "已确认。" in j.text(), "deciding the appeal")
    j.shot("appeal-decided", "the appeal decided: confirmed, with chen's reason in the trail")

    j.go("/month?month=2026-11")
    before = j.score_of("a2")
    j.shot("month-before", f"the month's scorecard before the waive: a2 scores {before}")
    j.go(f"/violations/{theirs}")
    j.submit("form.action-waive", "迟到已补假条")
    j.wait_for(lambda: "已免除。" in j.text(), "the waive")
    j.go("/month?month=2026-11")
    after = j.score_of("a2")
    assert after == before + 5, (before, after)
    j.shot("month-after-waive", f"the scorecard after the waive: a2 scores {after}")

    j.find("a[href='/month/2026-11/scorecard.csv']").click()
    downloads: Path = j.driver.downloads
    csv_path = downloads / "scorecard-2026-11.csv"
    j.wait_for(lambda: csv_path.exists() and csv_path.stat().st_size > 0, "the CSV download")
    rows = list(csv.DictReader(io.StringIO(csv_path.read_text(encoding="utf-8-sig"))))
    assert {r["agent"]: int(r["score"]) for r in rows}["a2"] == after

    # -- close the month; a waive from a page opened before it is refused --
    j.go(f"/violations/{second_own}")  # tab 1: still offers the waive
    stale = j.driver.current_window_handle
    j.driver.switch_to.new_window("tab")
    j.go("/month?month=2026-11")
    j.submit("form[action='/month/2026-11/close']", "11月工资已核算")
    j.driver.switch_to.alert.accept()  # "close 2026年11月? only a lead can reopen it"
    j.wait_for(lambda: "本月已结账，绩效表已冻结" in j.text(), "closing the month")
    j.shot("month-closed", "the month closed: frozen scorecard, closed by chen, no forms")
    j.driver.close()
    j.driver.switch_to.window(stale)
    j.submit("form.action-waive", "补录")
    j.wait_for(lambda: j.all("p.error"), "the refusal")
    message = j.find("p.error").text
    assert "本月已结账" in message and "month 2026-11 is closed" in message, message
    j.shot("waive-refused", "a waive after the closing is refused with a clear message")

    # -- the same pages at a phone's width --
    j.driver.set_window_size(*PHONE)
    j.go("/ledger")
    j.shot("phone-ledger", "the ledger at 390 px: filters stack, the table scrolls")
    j.go(f"/violations/{own}")
    j.shot("phone-violation", "a violation at 390 px: facts, timeline, trail in one column")
    j.driver.set_window_size(*DESKTOP)

    # -- the lead adds an agent's user, who signs in with the one-time password --
    j.sign_out()
    j.sign_in_by_keyboard("zhou")
    j.go("/users")
    j.find("#u-name").send_keys("zhao")
    Select(j.find("#u-role")).select_by_value("agent")
    Select(j.find("#u-agent")).select_by_value("a3")
    j.submit("form[action='/users']", "新员工入职")
    j.wait_for(lambda: j.all("#issued-password"), "the one-time password")
    secret = j.find("#issued-password").text.strip()
    j.shot("user-added", "zhou added zhao (agent a3): the one-time password, shown once")
    j.sign_out()
    j.sign_in_by_keyboard("zhao", secret)
    j.wait_for(lambda: "/password" in j.driver.current_url, "the choice of a password")
    j.find("#current").send_keys(secret)
    j.find("#new-password").send_keys("zhao 自己的密码")
    j.find("#again").send_keys("zhao 自己的密码")
    j.find("form[action='/password'] button[type=submit]").click()
    j.wait_for(lambda: "/agents/a3" in j.driver.current_url, "zhao's own page")
    assert "新密码已设置" in j.text()
    j.shot("new-user-signed-in", "zhao chose a password and landed on their own page")


async def _violation(c: Console, agent: str, rule: str, hhmm: str, points: int) -> int:
    v = await c.daemon.ledger.add_manual(
        shop="s",
        rule=rule,
        agent=agent,
        at=local(c.clock.now(), hhmm),
        points=points,
        fine=Decimal(0),
        note="recorded by the supervisor",
        by="chen",
        now=c.clock.now(),
    )
    return int(v["id"])


async def test_the_console_journey_in_chromium(
    browser: Any, screenshots: Path, clock: FakeClock, tmp_path: Path
) -> None:
    async with console(clock, tmp_path) as c:
        ids = {
            "own": 1,  # the story's CS101 o-1, a1's
            "second_own": await _violation(c, "a1", "M201", "09:15", 1),
            "theirs": await _violation(c, "a2", "M204", "08:40", 5),
        }
        c.clock.advance(timedelta(minutes=1))
        j = Journey(browser, c.base, screenshots)
        try:
            await asyncio.to_thread(journey, j, ids)
        finally:
            print(f"\nconsole screenshots in {screenshots}:")
            for name, what in j.shots:
                print(f"  {name}: {what}")
        assert len(j.shots) == 15
