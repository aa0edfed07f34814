"""The console in real headless Chromium (Debian's chromium + chromium-driver, driven by
Selenium): a new alert arrives live without a reload, its page shows the cue highlighted in the
article text, its group is silenced from the page; an article full of HTML and script renders
as inert text. Screenshots go to the test's tmp dir (docs/console.md describes them)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support.ui import WebDriverWait

from shared.schemas import SignalKind
from shared.settings import Settings
from tests.alerting.factories import T0, enriched, signal
from tests.conftest import wait_for
from tests.console.helpers import H, call, console_env, publish_articles_and_alerts, read_topic

pytestmark = pytest.mark.kafka
CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"


@pytest.fixture(scope="module")
def browser() -> Iterator[WebDriver]:
    for path in (CHROMIUM, CHROMEDRIVER):
        if not Path(path).exists():
            pytest.fail(f"{path} missing: `make tools` installs chromium and chromium-driver")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in (
        "--headless=new",
        "--no-sandbox",  # root in CI containers
        "--disable-dev-shm-usage",
        "--disable-gpu",
        "--window-size=1280,1000",
    ):
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(options=options, service=Service(executable_path=CHROMEDRIVER))
    driver.set_page_load_timeout(30)
    try:
        yield driver
    finally:
        driver.quit()


def until(driver: WebDriver, condition: Any, timeout: float = 10, message: str = "") -> Any:
    return WebDriverWait(driver, timeout, poll_frequency=0.1).until(condition, message)


def list_items(driver: WebDriver) -> list[Any]:
    return list(driver.find_elements(By.CSS_SELECTOR, "#alerts li.alert"))


def test_live_list_alert_page_with_highlighted_cue_and_silence_from_the_page(
    settings: Settings, start_service: Any, browser: WebDriver, tmp_path: Path
) -> None:
    console = start_service("console", settings, **console_env(BRINK_CONSOLE_EXPLAIN="off"))
    base = console.url("")
    first = publish_articles_and_alerts(settings, [enriched("buildup-1")])
    wait_for(lambda: len(call(base, "/api/alerts")[1]["alerts"]) == len(first), message="first")

    browser.get(base + "/")
    until(browser, lambda d: len(list_items(d)) == 1, message="the first alert listed")
    until(
        browser,
        lambda d: "connected" in d.find_element(By.ID, "live-status").text,
        message="the live stream connected",
    )
    browser.execute_script("window.__noReload = 'still this page';")

    expulsion = enriched(
        "expulsion-1",
        [
            signal(
                SignalKind.DIPLOMATIC_EXPULSION,
                "Poland",
                "Russia",
                sentence="Poland expelled three Russian diplomats on Friday.",
                cue="expelled three Russian diplomats",
            )
        ],
        at=T0 + H,
    )
    (alert,) = publish_articles_and_alerts(settings, [expulsion])
    until(browser, lambda d: len(list_items(d)) == 2, message="the new alert arriving live")
    assert browser.execute_script("return window.__noReload") == "still this page"
    newest = list_items(browser)[0]
    assert newest.get_attribute("data-id") == alert.id
    assert "Poland → Russia" in newest.text
    browser.save_screenshot(str(tmp_path / "1-alert-list-live.png"))

    newest.find_element(By.CSS_SELECTOR, "a.title").click()
    until(browser, lambda d: "/alerts/" in d.current_url, message="the alert page")
    cues = browser.find_elements(By.CSS_SELECTOR, ".article-text mark.cue")
    assert [c.text for c in cues] == ["expelled three Russian diplomats"]
    assert "diplomatic_expulsion" in (cues[0].get_attribute("title") or "")
    sentence = browser.find_elements(By.CSS_SELECTOR, ".article-text mark.evidence")
    assert "".join(m.text for m in sentence).startswith("Poland expelled")
    assert browser.find_element(By.ID, "group-key").text == alert.group.key
    assert "CAMEO 15" in browser.find_element(By.CSS_SELECTOR, ".facts").text
    browser.save_screenshot(str(tmp_path / "2-alert-page.png"))

    browser.find_element(By.ID, "silence-group").click()
    until(
        browser,
        lambda d: d.find_element(By.ID, "action-result").text.startswith("Silenced"),
        message="the silence confirmed on the page",
    )
    records = [json.loads(v) for _, v in read_topic(settings, settings.topics.silences) if v]
    assert [r["match"]["group"] for r in records] == [alert.group.key]
    browser.save_screenshot(str(tmp_path / "3-alert-silenced.png"))

    browser.get(base + "/silences")
    assert alert.group.key in browser.find_element(By.CSS_SELECTOR, "table.silences").text

    browser.set_window_size(390, 844)  # a phone
    browser.get(base + f"/alerts/{alert.id}")
    width = browser.execute_script("return document.documentElement.scrollWidth")
    assert width <= 390, f"the alert page scrolls sideways on a phone ({width}px)"
    browser.save_screenshot(str(tmp_path / "4-alert-page-phone.png"))
    browser.set_window_size(1280, 1000)
    print(f"screenshots in {tmp_path}")


HOSTILE_TITLE = '<script>window.__pwned = "title"</script>Border <b>crisis</b>'
HOSTILE_SENTENCE = (
    "Russia has massed troops near its border <img src=x onerror=\"window.__pwned = 'img'\"> "
    "with Ukraine <script>window.__pwned = 'body'</script>."
)


def test_an_article_with_html_and_script_renders_as_inert_text(
    settings: Settings, start_service: Any, browser: WebDriver, tmp_path: Path
) -> None:
    console = start_service("console", settings, **console_env(BRINK_CONSOLE_EXPLAIN="off"))
    base = console.url("")
    article = enriched("hostile-1", [signal(sentence=HOSTILE_SENTENCE)])
    article = article.model_copy(
        update={
            "article": article.article.model_copy(
                update={"title": HOSTILE_TITLE, "url": "javascript:window.__pwned='url'"}
            )
        }
    )
    (alert,) = publish_articles_and_alerts(settings, [article])
    wait_for(lambda: call(base, f"/api/alerts/{alert.id}")[0] == 200, message="hostile alert")
    browser.get_log("browser")  # drop what earlier pages logged

    for path in ("/", f"/alerts/{alert.id}", "/stories/hostile-1"):
        browser.get(base + path)
        until(browser, lambda d: d.execute_script("return document.readyState") == "complete")
        assert browser.execute_script("return window.__pwned === undefined"), path
        # injected markup made no elements: the page holds it as text
        assert not browser.find_elements(By.CSS_SELECTOR, "main script, main img, main b")
    text = browser.find_element(By.CSS_SELECTOR, "main").text
    assert "<script>window.__pwned" in text and 'onerror="window.__pwned' in text
    browser.get(base + f"/alerts/{alert.id}")
    assert browser.execute_script("return window.__pwned === undefined")
    assert HOSTILE_TITLE in browser.find_element(By.CSS_SELECTOR, ".article h3").text
    # a javascript: URL is not made a link (http and https only)
    assert not browser.find_elements(By.CSS_SELECTOR, ".article h3 a")
    browser.save_screenshot(str(tmp_path / "5-hostile-article-inert.png"))
    # nothing tried to run and was stopped by the Content-Security-Policy either
    blocked = [e for e in browser.get_log("browser") if "Content Security Policy" in e["message"]]
    assert blocked == []
