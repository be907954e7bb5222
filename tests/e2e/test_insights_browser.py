"""The Insights page in a real headless Chromium: the charts are drawn and readable.

Two weeks of generated conversations (benchmarks/insights_traffic.py) are recorded
into the stack's database first, as the consumer records them, so every chart has
something to draw; with SCREENSHOT_DIR set the page is saved for the README.
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from selenium.common.exceptions import TimeoutException
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support.ui import Select
from sqlalchemy import select

from benchmarks.insights_traffic import Contact, traffic
from bot import clock
from bot.insights.events import Context, record_events
from bot.models import AgentRole, Channel, Customer, TicketCategory
from bot.services import tickets
from bot.settings import Settings
from tests.e2e.browser import wait
from tests.e2e.console import new_agent, screenshot, sign_in
from tests.stack import Stack

DAYS = 14
CONTACTS = (
    Contact("jane.doe@example.com", "+14155550134"),
    Contact("sam.lee@example.com", "+14155550178"),
    Contact("maria.lopez@example.com", "+12125550147"),
    Contact("tom.obrien@example.com"),
    Contact("priya.n@example.com", "+16175550190"),
    Contact("alex.kim@example.com", "+13125550111"),
)


def record_history(stack: Stack) -> list[str]:
    """400 conversations over the last two weeks, recorded as the consumer does.

    Maria also reported two problems: returns their tickets' references.
    """
    zone = ZoneInfo(Settings().timezone)
    context = Context(secret=stack.secret, timezone=zone)
    start = clock.system_clock() - dt.timedelta(days=DAYS - 1)
    with stack.session() as session, session.begin():
        for events in traffic(400, start, DAYS - 1, CONTACTS, stack.secret, seed=11):
            record_events(session, events, context)
        maria = session.scalars(
            select(Customer).where(Customer.email == "maria.lopez@example.com")
        ).one()
        return [
            tickets.open_ticket(
                session,
                tickets.TicketRequest(
                    channel=Channel.WEB,
                    category=TicketCategory.PROBLEM,
                    subject=subject,
                    customer=maria,
                ),
            ).reference
            for subject in ("Lamp arrived broken", "Wrong colour delivered")
        ]


def test_the_insights_page_draws_its_charts(stack: Stack, browser: WebDriver) -> None:
    problems = record_history(stack)
    _, email, password = new_agent(stack, AgentRole.SUPERVISOR)
    sign_in(browser, stack, email, password)
    today = clock.system_clock().astimezone(ZoneInfo(Settings().timezone)).date()
    start = today - dt.timedelta(days=DAYS - 1)
    browser.get(f"{stack.web_url}/console/insights?from={start}&to={today}")
    try:
        wait(browser, 30).until(lambda d: d.find_elements(By.CSS_SELECTOR, "svg.chart"))
    except TimeoutException:
        main = browser.find_elements(By.TAG_NAME, "main")
        page = main[0].text if main else browser.page_source
        raise AssertionError(
            f"no chart on {browser.current_url} after 30 s: {page[:600]!r}"
        ) from None
    charts = browser.find_elements(By.CSS_SELECTOR, "svg.chart")
    assert len(charts) == 9
    for chart in charts:  # laid out at a readable size, not collapsed
        assert (
            chart.size["width"] >= 600 and chart.size["height"] >= 40
        ), chart.get_attribute("id")
    columns = browser.find_elements(By.CSS_SELECTOR, "#chart-conversations rect")
    assert len(columns) > DAYS  # a column per day and channel, and the legend
    assert browser.find_elements(By.CSS_SELECTOR, "#chart-rates polyline")
    # Jane, the most frequent contact, came back 3 times or more in 7 days; Maria
    # reported two problems, and her row links to their tickets.
    flagged = browser.find_elements(By.CSS_SELECTOR, "tr.red-flag")
    assert any("Jane Doe" in row.text for row in flagged)
    links = {a.text for a in browser.find_elements(By.CSS_SELECTOR, "tr.red-flag a")}
    assert set(problems) <= links
    screenshot(browser, "console-insights", max_height=12000)

    Select(browser.find_element(By.NAME, "channel")).select_by_value("sms")
    browser.find_element(By.CSS_SELECTOR, ".insight-filters button").click()
    wait(browser, 10).until(lambda d: "channel=sms" in d.current_url)
    assert "on sms" in browser.find_element(By.TAG_NAME, "main").text
