"""console.js in headless Chromium.

A ticket page the console rendered, with the live API stubbed so each poll gets the
answer the test gives it.

Skipped when Chromium or chromedriver is not installed (`make browser`).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from selenium import webdriver
from selenium.webdriver.chrome.options import Options
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support.ui import WebDriverWait
from sqlalchemy.engine import Engine

from bot.models import Channel, Sender
from bot.web.console.common import MAX_ID
from tests.unit.console.helpers import (
    JANE_PHONE,
    FakeSms,
    dispose,
    make_console_app,
    new_ticket,
    post,
    rows_removed_after,
    transcript,
)

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
SCRIPT = Path(__file__).resolve().parents[3] / "bot/web/static/console.js"
SCRIPT_TAG = '<script src="/static/console.js" defer></script>'
# Stands in for the API (each poll takes the next answer the test queued), and
# counts the form submissions that console.js lets through without sending them.
STUB = """<script>
window.answers = []; window.polls = 0; window.submits = 0;
window.fetch = function () {
  window.polls += 1;
  var data = window.answers.length ? window.answers.shift() : null;
  return Promise.resolve({
    status: 200, ok: data !== null, json: function () { return Promise.resolve(data); }
  });
};
window.addEventListener("submit", function (event) {
  if (!event.defaultPrevented) window.submits += 1;
  event.preventDefault();
});
</script>"""


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[WebDriver]:
    if not (CHROMIUM.is_file() and CHROMEDRIVER.is_file()):
        pytest.fail("Chromium or chromedriver missing: run `make browser` first")
    folder = tmp_path_factory.mktemp("chromium")
    options = Options()
    options.binary_location = str(CHROMIUM)
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run"):
        options.add_argument(flag)
    options.add_argument("--disable-dev-shm-usage")
    options.add_argument(f"--user-data-dir={folder / 'profile'}")
    service = Service(str(CHROMEDRIVER), log_output=str(folder / "chromedriver.log"))
    driver = webdriver.Chrome(service=service, options=options)
    driver.set_page_load_timeout(30)
    try:
        yield driver
    finally:
        driver.quit()


@pytest.fixture
def app(engine: Engine) -> Iterator[Flask]:
    sms = FakeSms(error=RuntimeError("Twilio answered 503"))
    with rows_removed_after(engine):
        made = make_console_app(engine, sms, CONSOLE_TICKET_POLL_MS=50)
        try:
            yield made
        finally:
            dispose(made)


def open_page(browser: WebDriver, html: str, folder: Path) -> None:
    """Show a page the console rendered, with the stub in front of console.js."""
    assert SCRIPT_TAG in html
    page = folder / "page.html"
    page.write_text(
        html.replace(
            SCRIPT_TAG, f'{STUB}<script src="{SCRIPT.as_uri()}" defer></script>'
        )
    )
    browser.get(page.as_uri())


def answer(browser: WebDriver, data: dict[str, Any]) -> None:
    """The next poll gets `data`; wait until console.js has finished with it.

    That is: it has been shown and one more poll has started.
    """
    browser.execute_script(f"window.answers.push({json.dumps(data)});")
    before = browser.execute_script("return window.polls;")
    WebDriverWait(browser, 10).until(
        lambda d: d.execute_script("return window.polls;") >= before + 2
    )


def delivery_text(browser: WebDriver, message_id: int) -> str:
    text: str = browser.find_element(
        By.CSS_SELECTOR, f'li[data-id="{message_id}"] .delivery'
    ).text
    return text


def test_a_line_is_marked_delivered_only_when_the_server_says_so(
    app: Flask, agent: FlaskClient, browser: WebDriver, tmp_path: Path
) -> None:
    reference = new_ticket(
        app, channel=Channel.SMS, contact=JANE_PHONE, lines=((Sender.CUSTOMER, "hi"),)
    )
    post(agent, f"/console/tickets/{reference}/reply", text="On it")
    _, reply = transcript(app, reference)
    open_page(
        browser,
        agent.get(f"/console/tickets/{reference}").get_data(as_text=True),
        tmp_path,
    )
    assert delivery_text(browser, reply.id).startswith("undelivered: Twilio answered")
    ticket = {"status": "claimed", "assignee": "Ada Agent", "sla": "ok", "held": True}

    # Missing from a poll's lists is not delivered (a reply committed mid-poll).
    answer(
        browser, {"ticket": ticket, "messages": [], "deliveries": [], "undelivered": []}
    )
    assert delivery_text(browser, reply.id).startswith("undelivered: Twilio answered")

    later = {
        "id": MAX_ID,
        "sender": "agent",
        "text": "Second",
        "sent_at": "2026-11-20T15:00:00+00:00",
        "agent_name": "Ada Agent",
        "delivery": "pending",
        "attempts": 0,
        "last_error": None,
    }
    delivered = {
        "id": reply.id,
        "delivery": "delivered",
        "attempts": 2,
        "last_error": None,
    }
    answer(
        browser,
        {
            "ticket": ticket,
            "messages": [later],
            "deliveries": [delivered],
            "undelivered": [],
        },
    )
    assert delivery_text(browser, reply.id) == "delivered"
    assert delivery_text(browser, MAX_ID) == "sending…"

    failed = {"id": MAX_ID, "delivery": "failed", "attempts": 1, "last_error": "STOP"}
    answer(
        browser,
        {
            "ticket": ticket,
            "messages": [],
            "deliveries": [delivered, failed],
            "undelivered": [],
        },
    )
    assert delivery_text(browser, MAX_ID) == "failed: STOP"
    assert delivery_text(browser, reply.id) == "delivered"


def test_a_form_is_sent_once(
    app: Flask, agent: FlaskClient, browser: WebDriver, tmp_path: Path
) -> None:
    reference = new_ticket(app, conversation_id="web-script-once")
    open_page(
        browser,
        agent.get(f"/console/tickets/{reference}").get_data(as_text=True),
        tmp_path,
    )
    browser.find_element(By.ID, "reply-text").send_keys("Hello there")
    button = browser.find_element(By.CSS_SELECTOR, ".reply button[type=submit]")
    button.click()
    button.click()
    assert browser.execute_script("return window.submits;") == 1
    assert button.get_attribute("aria-disabled") == "true"
    assert button.text == "Sending…"
    # Still reachable by keyboard: marked busy, not removed from the focus order.
    assert button.get_attribute("disabled") is None
