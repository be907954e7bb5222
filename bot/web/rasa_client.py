"""The web app's client for Rasa's web chat channel (channels/webchat.py)."""

from __future__ import annotations

import json
from typing import Any

import requests

from bot.signing import SIGNATURE_HEADER, sign_body, stamped

WEBHOOK_PATH = "/webhooks/webchat/webhook"


class AssistantUnavailable(Exception):
    """Rasa could not be reached, timed out or failed to answer."""


class WebChatClient:
    """Forwards customer messages to Rasa, signed with the shared SECRET_KEY."""

    def __init__(self, rasa_url: str, secret: str, timeout: float = 30.0) -> None:
        if not secret:
            raise ValueError("the web chat client needs SECRET_KEY to sign messages")
        self.url = rasa_url.rstrip("/") + WEBHOOK_PATH
        self.secret = secret
        # Connecting should be instant on a local network; answering may take longer.
        self.timeout = (min(3.05, timeout), timeout)

    def signed_request(
        self, sender: str, message: str, customer_id: int | None
    ) -> tuple[bytes, dict[str, str]]:
        """Body and headers: timestamped, with a fresh nonce, signed over the raw body."""
        body = json.dumps(
            stamped({"sender": sender, "message": message, "customer_id": customer_id})
        ).encode()
        headers = {
            "Content-Type": "application/json",
            SIGNATURE_HEADER: sign_body(body, self.secret),
        }
        return body, headers

    def send(
        self, sender: str, message: str, customer_id: int | None
    ) -> list[dict[str, Any]]:
        """The bot's replies to `message` in conversation `sender`."""
        body, headers = self.signed_request(sender, message, customer_id)
        try:
            response = requests.post(
                self.url, data=body, headers=headers, timeout=self.timeout
            )
        except requests.RequestException as exc:
            raise AssistantUnavailable(f"{self.url}: {exc}") from exc
        if response.status_code != 200:
            raise AssistantUnavailable(f"{self.url}: HTTP {response.status_code}")
        try:
            replies = response.json()
        except ValueError as exc:
            raise AssistantUnavailable(f"{self.url}: answer is not JSON") from exc
        if not isinstance(replies, list):
            raise AssistantUnavailable(f"{self.url}: answer is not a list")
        return [reply for reply in replies if isinstance(reply, dict)]
