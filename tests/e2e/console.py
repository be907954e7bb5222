"""The agent console as an agent uses it: over HTTP (sign in, read, act) and in a browser."""

from __future__ import annotations

import os
import re
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import requests
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.remote.webdriver import WebDriver

from bot.models import AgentRole
from bot.services.agents import create_agent
from tests.e2e.browser import wait
from tests.stack import Stack

CSRF_META = re.compile(r'<meta name="csrf-token" content="([^"]+)"')
REFERENCE = re.compile(r"\bT-[0-9A-Z]{6}\b")
REPLY_KEY = re.compile(r'name="reply_key" value="([^"]+)"')

T = TypeVar("T")


def eventually(
    check: Callable[[], T | None], timeout: float = 20.0, interval: float = 0.3
) -> T:
    """Poll `check` until it returns something truthy; fail after `timeout`."""
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout}s")
        time.sleep(interval)


def reference_in(texts: list[str]) -> str:
    for text in texts:
        if match := REFERENCE.search(text):
            return match.group(0)
    raise AssertionError(f"no ticket reference in {texts!r}")


def new_agent(stack: Stack, role: AgentRole = AgentRole.AGENT) -> tuple[str, str, str]:
    """Create an agent in the stack's database; (name, email, password)."""
    name = f"Agent {secrets.token_hex(3)}"
    email = f"{name.split()[1]}@agents.example.com"
    password = secrets.token_urlsafe(16)
    with stack.session() as session, session.begin():
        create_agent(session, name, email, password, role)
    return name, email, password


def screenshot(driver: WebDriver, name: str, max_height: int = 2400) -> None:
    """Save the page as SCREENSHOT_DIR/<name>.png when SCREENSHOT_DIR is set."""
    directory = os.environ.get("SCREENSHOT_DIR")
    if directory:
        Path(directory).mkdir(parents=True, exist_ok=True)
        height = driver.execute_script("return document.documentElement.scrollHeight")
        driver.set_window_size(1280, max(800, min(int(height) + 40, max_height)))
        driver.save_screenshot(str(Path(directory) / f"{name}.png"))
        driver.set_window_size(1280, 900)


def sign_in(driver: WebDriver, stack: Stack, email: str, password: str) -> None:
    """Sign in to the console with the browser's own sign-in form."""
    driver.get(f"{stack.web_url}/console/")
    wait(driver, 10).until(lambda d: d.find_elements(By.NAME, "password"))
    assert "/console/login" in driver.current_url
    screenshot(driver, "console-sign-in")
    driver.find_element(By.NAME, "email").send_keys(email)
    driver.find_element(By.NAME, "password").send_keys(password, Keys.ENTER)
    # Wait for the signed-in page: a navigation started before the form's answer
    # arrives would abort the sign-in and land on the sign-in page again.
    wait(driver, 20).until(
        lambda d: "/console/login" not in d.current_url
        and d.find_elements(By.XPATH, "//button[normalize-space()='Sign out']")
    )
    wait(driver, 10).until(lambda d: d.current_url.rstrip("/").endswith("/console"))


@dataclass
class Console:
    """One agent's browser-less session with the console."""

    base_url: str
    http: requests.Session = field(default_factory=requests.Session)
    token: str = ""

    def url(self, path: str) -> str:
        return f"{self.base_url}{path}"

    def page(self, path: str) -> requests.Response:
        response = self.http.get(self.url(path), timeout=30)
        if match := CSRF_META.search(response.text):
            self.token = match.group(1)
        return response

    def sign_in(self, email: str, password: str) -> None:
        self.page("/console/login")
        response = self.http.post(
            self.url("/console/login"),
            data={"email": email, "password": password, "csrf_token": self.token},
            allow_redirects=False,
            timeout=30,
        )
        assert response.status_code == 303, response.text
        assert self.page("/console/").status_code == 200

    def post(self, path: str, **fields: Any) -> requests.Response:
        return self.http.post(
            self.url(path),
            data={**fields, "csrf_token": self.token},
            allow_redirects=False,
            timeout=30,
        )

    def act(self, reference: str, action: str, **fields: Any) -> requests.Response:
        if action == "reply":  # as the page sends it: with its one-time key
            page = self.page(f"/console/tickets/{reference}")
            key = REPLY_KEY.search(page.text)
            assert key is not None, "the ticket page has no reply form"
            fields.setdefault("reply_key", key.group(1))
        response = self.post(f"/console/tickets/{reference}/{action}", **fields)
        assert response.status_code == 303, (
            action,
            response.status_code,
            response.text,
        )
        return response

    def queue(self, **filters: str) -> dict[str, Any]:
        response = self.http.get(
            self.url("/console/api/queue"), params=filters, timeout=30
        )
        assert response.status_code == 200, response.text
        data: dict[str, Any] = response.json()
        return data

    def ticket(self, reference: str, after: int = 0) -> dict[str, Any]:
        response = self.http.get(
            self.url(f"/console/api/tickets/{reference}"),
            params={"after": after},
            timeout=30,
        )
        assert response.status_code == 200, response.text
        data: dict[str, Any] = response.json()
        return data

    def queued(self, reference: str) -> dict[str, Any]:
        """The ticket's row in the queue view, once it is there."""

        def row() -> dict[str, Any] | None:
            for ticket in self.queue(status="all")["tickets"]:
                if ticket["reference"] == reference:
                    return dict(ticket)
            return None

        return eventually(row)

    def customer_said(self, reference: str, text: str) -> dict[str, Any]:
        """The transcript line where the customer said `text`, once it is there."""

        def line() -> dict[str, Any] | None:
            for message in self.ticket(reference)["messages"]:
                if message["sender"] == "customer" and message["text"] == text:
                    return dict(message)
            return None

        return eventually(line)
