"""Talking to a running Rasa server as its clients do: REST, signed Twilio webhooks."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import requests
from twilio.request_validator import RequestValidator


@dataclass
class Assistant:
    """A Rasa server (or the load balancer in front of several) and its secrets."""

    rasa_url: str
    token: str
    twilio_token: str

    def twilio_post(
        self, path: str, params: dict[str, str], signature: str | None = "valid"
    ) -> requests.Response:
        """POST a Twilio webhook, signed like Twilio signs it (or not)."""
        url = f"{self.rasa_url}{path}"
        headers = {}
        if signature == "valid":
            headers["X-Twilio-Signature"] = RequestValidator(
                self.twilio_token
            ).compute_signature(url, params)
        elif signature is not None:
            headers["X-Twilio-Signature"] = signature
        return requests.post(url, data=params, headers=headers, timeout=30)

    def say(
        self, sender: str, text: str, metadata: dict[str, Any] | None = None
    ) -> list[dict[str, Any]]:
        """Send one customer message through the REST channel; return the bot's replies."""
        body: dict[str, Any] = {"sender": sender, "message": text}
        if metadata:
            body["metadata"] = metadata
        response = requests.post(
            f"{self.rasa_url}/webhooks/rest/webhook", json=body, timeout=60
        )
        response.raise_for_status()
        return list(response.json())

    def texts(self, sender: str, text: str) -> list[str]:
        return [m.get("text", "") for m in self.say(sender, text)]

    def events(self, conversation_id: str) -> list[dict[str, Any]]:
        """A conversation's events, from Rasa's tracker (HTTP API, with the token)."""
        tracker = requests.get(
            f"{self.rasa_url}/conversations/{conversation_id}/tracker",
            params={"token": self.token},
            timeout=10,
        )
        tracker.raise_for_status()
        return list(tracker.json()["events"])

    def user_texts(self, conversation_id: str) -> list[str]:
        """What the customer said in a conversation, from Rasa's tracker."""
        events = self.events(conversation_id)
        return [str(e.get("text")) for e in events if e["event"] == "user"]
