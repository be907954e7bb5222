"""The agent console in a real headless Chromium: sign-in, live queue and ticket view.

With SCREENSHOT_DIR set (`make screenshots`), the pages are also saved as PNG files
for the README (tests/e2e/console.py `screenshot`).
"""

from __future__ import annotations

import uuid

from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver

from bot.models import AgentRole
from tests.customers import text
from tests.e2e.browser import wait
from tests.e2e.console import Console, new_agent, reference_in, screenshot, sign_in
from tests.stack import Stack

PRIYA = "+16175550190"

LIVE_TIMEOUT = 15  # the console polls every few seconds


def test_queue_and_ticket_update_live_in_the_browser(
    stack: Stack, browser: WebDriver
) -> None:
    name, email, password = new_agent(stack, AgentRole.SUPERVISOR)
    sign_in(browser, stack, email, password)
    assert name in browser.page_source

    # A new ticket appears in the open queue without a reload. Priya (VIP) texts
    # from the number on her account, so the ticket knows who she is.
    number = PRIYA
    reference = reference_in(
        text(stack, "Can I speak to a human? My order 116001 arrived damaged", number)
    )
    wait(browser, LIVE_TIMEOUT).until(lambda d: reference in d.page_source)
    screenshot(browser, "console-queue")

    browser.find_element(By.LINK_TEXT, reference).click()
    wait(browser, 10).until(
        lambda d: reference in d.title or "Handed off" in d.page_source
    )
    assert "Handed off because" in browser.page_source
    assert "Priya Natarajan" in browser.page_source  # the customer record

    # Claim and reply with the page's own forms.
    agent = Console(stack.web_url)
    agent.sign_in(email, password)
    agent.act(reference, "claim")
    browser.refresh()
    box = wait(browser, 10).until(lambda d: d.find_element(By.NAME, "text"))
    reply = f"So sorry! I'm sending a new lamp today ({uuid.uuid4().hex[:6]})."
    box.send_keys(reply)
    box.submit()
    wait(browser, 10).until(lambda d: reply in d.page_source)
    wait(browser, LIVE_TIMEOUT).until(
        lambda _: any(reply in b for b in stack.twilio.bodies_to(number))
    )

    # The customer's answer appears in the open ticket without a reload.
    answer = f"Thank you, that's great ({uuid.uuid4().hex[:6]})"
    assert text(stack, answer, number) == []
    url = browser.current_url
    wait(browser, LIVE_TIMEOUT).until(lambda d: answer in d.page_source)
    assert browser.current_url == url
    screenshot(browser, "console-ticket")

    browser.get(f"{stack.web_url}/console/supervisor")
    wait(browser, 10).until(lambda d: "SLA" in d.page_source)
    assert name in browser.page_source  # per-agent load lists the agent
    screenshot(browser, "console-supervisor")

    # Hand back, so Priya's next text is the bot's again.
    agent.act(reference, "resolve")
    assert agent.ticket(reference)["ticket"]["status"] == "resolved"
    assert text(stack, "what are your opening hours?", number) != []
