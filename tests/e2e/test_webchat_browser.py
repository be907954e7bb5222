"""The website chat in a real headless Chromium, against the running stack."""

from __future__ import annotations

import json
import time
import uuid

import pytest
import requests
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.remote.webdriver import WebDriver
from sqlalchemy import select

from bot.models import ChatMessage, Customer, Sender
from bot.proactive.schema import ConsentChannel, ConsentSource, ContactConsent
from bot.signing import SIGNATURE_HEADER, sign_body, stamped
from tests.e2e.browser import Widget, conversation_of, wait
from tests.stack import Stack

TRACKING = "1Z999AA10123456784"


def test_anonymous_customer_checks_an_order_and_history_survives_reload(
    stack: Stack, browser: WebDriver
) -> None:
    browser.get(stack.web_url)
    assert "Brass desk lamp" in browser.page_source
    widget = Widget(browser)
    widget.open()
    widget.say("where is my order 104257")
    widget.wait_for("bot", "what's the email address on your account?")
    widget.say("jane.doe@example.com")
    answer = widget.wait_for("bot", TRACKING)
    assert "UPS" in answer.text
    link = widget.wait_for("bot", "You can follow it here").find_element(
        By.TAG_NAME, "a"
    )
    assert (
        link.get_attribute("href") == f"https://www.ups.com/track?tracknum={TRACKING}"
    )

    browser.refresh()
    widget.open()
    widget.wait_for("bot", TRACKING, timeout=15)
    assert widget.texts("customer") == [
        "where is my order 104257",
        "jane.doe@example.com",
    ]
    with stack.session() as session:
        rows = session.scalars(
            select(ChatMessage).where(
                ChatMessage.conversation_id == conversation_of(browser, stack)
            )
        ).all()
    assert [row.sender for row in rows][:3] == [
        Sender.CUSTOMER,
        Sender.BOT,
        Sender.CUSTOMER,
    ]
    assert any(TRACKING in row.text for row in rows)


def sign_in_to_the_shop(browser: WebDriver, stack: Stack) -> None:
    """Jane signs in on the demo shop's page, where the widget lives."""
    browser.get(stack.web_url)
    browser.find_element(By.NAME, "email").send_keys("jane.doe@example.com")
    browser.find_element(By.NAME, "password").send_keys("demo", Keys.ENTER)
    wait(browser, 15).until(lambda d: "Signed in as" in d.page_source)


def test_signed_in_customer_is_not_asked_for_an_email(
    stack: Stack, browser: WebDriver
) -> None:
    sign_in_to_the_shop(browser, stack)
    assert "Jane Doe" in browser.find_element(By.CLASS_NAME, "shop-signed-in").text
    widget = Widget(browser)
    widget.open()
    widget.say("where is my order 104257")
    answer = widget.wait_for("bot", TRACKING)
    assert "UPS" in answer.text
    assert not any("email" in text for text in widget.texts("bot"))


def test_signed_in_customer_chooses_order_updates_in_the_widget(
    stack: Stack, browser: WebDriver
) -> None:
    sign_in_to_the_shop(browser, stack)
    Widget(browser).open()
    wait(browser, 10).until(
        lambda d: d.find_element(By.ID, "sb-updates").is_displayed()
    )
    box = browser.find_element(By.CSS_SELECTOR, "#sb-updates input[name=web]")
    wanted = not box.is_selected()

    box.click()

    def latest() -> ContactConsent | None:
        with stack.session() as session:
            return session.scalars(
                select(ContactConsent)
                .join(Customer, Customer.id == ContactConsent.customer_id)
                .where(
                    Customer.email == "jane.doe@example.com",
                    ContactConsent.channel == ConsentChannel.WEB,
                )
                .order_by(ContactConsent.id.desc())
            ).first()

    wait(browser, 10).until(
        lambda _: (row := latest()) is not None and row.granted == wanted
    )
    row = latest()
    assert row is not None and row.source == ConsentSource.WEB_CHAT
    # A reload shows the choice as stored.
    browser.refresh()
    Widget(browser).open()
    wait(browser, 10).until(
        lambda d: d.find_element(By.ID, "sb-updates").is_displayed()
    )
    box = browser.find_element(By.CSS_SELECTOR, "#sb-updates input[name=web]")
    assert box.is_selected() == wanted


def test_anonymous_customer_sees_no_update_choices(
    stack: Stack, browser: WebDriver
) -> None:
    browser.delete_all_cookies()
    record_fetches(browser)
    browser.get(stack.web_url)
    Widget(browser).open()
    wait(browser, 10).until(
        lambda d: [e["status"] for e in fetched(d, "/chat/api/updates")] == [401]
    )
    assert not browser.find_element(By.ID, "sb-updates").is_displayed()


# Runs before the page's own scripts: records the widget's requests and the status
# each was answered with.
RECORD_FETCHES = """
window.fetched = [];
var realFetch = window.fetch;
window.fetch = function (url) {
  var answer = realFetch.apply(this, arguments);
  var entry = { url: String(url), status: null };
  window.fetched.push(entry);
  answer.then(function (r) { entry.status = r.status; },
              function () { entry.status = "error"; });
  return answer;
};
"""


def record_fetches(driver: WebDriver) -> None:
    driver.execute_cdp_cmd(
        "Page.addScriptToEvaluateOnNewDocument", {"source": RECORD_FETCHES}
    )


def fetched(driver: WebDriver, path: str) -> list[dict[str, object]]:
    entries: list[dict[str, object]] = driver.execute_script("return window.fetched")
    return [e for e in entries if path in str(e["url"])]


def test_agent_message_is_pushed_to_the_open_widget(
    stack: Stack, browser: WebDriver
) -> None:
    record_fetches(browser)
    browser.get(stack.web_url)
    widget = Widget(browser)
    widget.open()
    wait(browser, 10).until(lambda d: fetched(d, "/chat/api/stream"))
    conversation = conversation_of(browser, stack)
    text = f"Hi, Maria here from support ({uuid.uuid4().hex[:6]}). How can I help?"
    with stack.session() as session, session.begin():
        session.add(
            ChatMessage(
                conversation_id=conversation,
                sender=Sender.AGENT,
                text=text,
                payload=json.dumps({"agent_name": "Maria"}),
            )
        )
    pushed = widget.wait_for("agent", text, timeout=20)
    assert "Agent Maria" in pushed.text
    # It came over the event stream: the widget never polled.
    assert fetched(browser, "/chat/api/stream")[0]["status"] == 200
    assert [e["url"] for e in fetched(browser, "/chat/api/messages")] == [
        "/chat/api/messages?after=0"
    ]


def test_widget_polls_and_backs_off_when_no_stream_is_free(
    stack: Stack, browser: WebDriver
) -> None:
    record_fetches(browser)
    browser.get(stack.web_url)
    cookie = browser.get_cookie("session")
    assert cookie is not None
    # Two other tabs of this session hold its two streams.
    held = [
        requests.get(
            f"{stack.web_url}/chat/api/stream",
            headers={"Cookie": f"session={cookie['value']}"},
            stream=True,
            timeout=30,
        )
        for _ in range(2)
    ]
    try:
        assert [r.status_code for r in held] == [200, 200]
        widget = Widget(browser)
        widget.open()
        wait(browser, 10).until(
            lambda d: any(e["status"] for e in fetched(d, "/chat/api/stream"))
        )
        assert [e["status"] for e in fetched(browser, "/chat/api/stream")] == [429]
        # The widget polls instead, so an agent's message still arrives...
        text = f"Maria here ({uuid.uuid4().hex[:6]}), reading your messages."
        with stack.session() as session, session.begin():
            session.add(
                ChatMessage(
                    conversation_id=conversation_of(browser, stack),
                    sender=Sender.AGENT,
                    text=text,
                    payload=json.dumps({"agent_name": "Maria"}),
                )
            )
        widget.wait_for("agent", text, timeout=15)
        # ...and asks for a stream again only after Retry-After (30 s).
        time.sleep(2)
        assert len(fetched(browser, "/chat/api/stream")) == 1
        assert len(fetched(browser, "/chat/api/messages?after=")) >= 2  # polled
    finally:
        for response in held:
            response.close()


def webhook(stack: Stack) -> str:
    return f"{stack.rasa_url}/webhooks/webchat/webhook"


@pytest.mark.parametrize("signature", [None, "0" * 64, "not-hex"])
def test_rasa_webhook_refuses_unsigned_requests(
    stack: Stack, signature: str | None
) -> None:
    headers = {"Content-Type": "application/json"}
    if signature is not None:
        headers[SIGNATURE_HEADER] = signature
    body = json.dumps(
        {"sender": f"web-{uuid.uuid4().hex}", "message": "where is my order 104257",
         "customer_id": 1}
    )  # fmt: skip
    response = requests.post(webhook(stack), data=body, headers=headers, timeout=30)
    assert response.status_code == 403


def test_rasa_webhook_answers_signed_requests_for_the_vouched_customer(
    stack: Stack,
) -> None:
    with stack.session() as session:
        jane = session.scalars(
            select(Customer).where(Customer.email == "jane.doe@example.com")
        ).one()
    body, headers = signed_body(stack, jane.id)
    response = requests.post(webhook(stack), data=body, headers=headers, timeout=60)
    assert response.status_code == 200
    texts = [reply.get("text", "") for reply in response.json()]
    assert texts[0].startswith("Your order 104257 has shipped.")
    assert TRACKING in texts[0]
    # The same signed request again is a replay.
    again = requests.post(webhook(stack), data=body, headers=headers, timeout=60)
    assert again.status_code == 403
    assert again.json() == {"error": "request replayed"}


def signed_body(
    stack: Stack, customer_id: int, now: float | None = None
) -> tuple[bytes, dict[str, str]]:
    body = json.dumps(
        stamped(
            {"sender": f"web-{uuid.uuid4().hex}",
             "message": "where is my order 104257", "customer_id": customer_id},
            now,
        )
    ).encode()  # fmt: skip
    headers = {
        "Content-Type": "application/json",
        SIGNATURE_HEADER: sign_body(body, stack.secret),
    }
    return body, headers


@pytest.mark.parametrize("age", [90, -90])
def test_rasa_webhook_refuses_stale_signed_requests(stack: Stack, age: int) -> None:
    body, headers = signed_body(stack, 1, now=time.time() - age)
    response = requests.post(webhook(stack), data=body, headers=headers, timeout=30)
    assert response.status_code == 403
    assert response.json() == {"error": "request expired"}
