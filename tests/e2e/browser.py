"""A headless Chromium for the end-to-end tests, and the chat widget in it.

The widget as a customer uses it, shared by the web chat and handoff journeys.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from flask import Flask
from flask.sessions import SecureCookieSessionInterface
from selenium import webdriver
from selenium.webdriver.chrome.options import Options
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support.ui import WebDriverWait

if TYPE_CHECKING:
    from tests.stack import Stack


CHROMIUM = os.environ.get("CHROMIUM_BINARY", "/usr/bin/chromium")
CHROMEDRIVER = os.environ.get("CHROMEDRIVER", "/usr/bin/chromedriver")
CHROMIUM_FLAGS = (
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--window-size=1280,900",
)
ANSWER_TIMEOUT = 60


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[WebDriver]:
    """Headless Chromium with a fresh profile.

    The driver path is given, so Selenium Manager never tries to download anything.
    """
    if not (Path(CHROMIUM).is_file() and Path(CHROMEDRIVER).is_file()):
        pytest.fail("Chromium or chromedriver missing: run `make browser` first")
    options = Options()
    options.binary_location = CHROMIUM
    for flag in CHROMIUM_FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={tmp_path / 'chromium-profile'}")
    service = Service(CHROMEDRIVER, log_output=str(tmp_path / "chromedriver.log"))
    driver = webdriver.Chrome(service=service, options=options)
    driver.set_page_load_timeout(30)
    try:
        yield driver
    finally:
        driver.quit()


class Widget:
    """The chat widget on the page, as a customer uses it."""

    def __init__(self, driver: WebDriver) -> None:
        self.driver = driver

    def panel(self) -> WebElement:
        return self.driver.find_element(By.ID, "sb-panel")

    def open(self) -> None:
        wait(self.driver, 10).until(lambda d: d.find_elements(By.ID, "sb-launcher"))
        if not self.panel().is_displayed():
            self.driver.find_element(By.ID, "sb-launcher").click()
        wait(self.driver, 10).until(lambda _: self.panel().is_displayed())

    def say(self, text: str) -> None:
        box = self.driver.find_element(By.ID, "sb-input")
        box.send_keys(text, Keys.ENTER)

    def messages(self, sender: str) -> list[WebElement]:
        return self.driver.find_elements(By.CSS_SELECTOR, f".sb-msg--{sender}")

    def texts(self, sender: str) -> list[str]:
        """What each message says, without the speaker label."""
        return [
            m.find_element(By.CLASS_NAME, "sb-text").text for m in self.messages(sender)
        ]

    def wait_for(
        self, sender: str, fragment: str, timeout: float = ANSWER_TIMEOUT
    ) -> WebElement:
        def found(_: WebDriver) -> WebElement | bool:
            for message in self.messages(sender):
                if fragment in message.text:
                    return message
            return False

        element = wait(self.driver, timeout).until(found)
        assert isinstance(element, WebElement)
        return element


def wait(driver: WebDriver, timeout: float) -> WebDriverWait[WebDriver]:
    return WebDriverWait(driver, timeout, poll_frequency=0.2)


def conversation_of(driver: WebDriver, stack: Stack) -> str:
    """The conversation id in the browser's signed session cookie."""
    app = Flask(__name__)
    app.secret_key = stack.secret
    serializer = SecureCookieSessionInterface().get_signing_serializer(app)
    assert serializer is not None
    cookie = driver.get_cookie("session")
    assert cookie is not None and cookie.get("httpOnly") is True
    conversation: str = serializer.loads(cookie["value"])["chat_conversation"]
    return conversation
