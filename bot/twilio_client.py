"""The one client for Twilio's REST API (outbound SMS).

Infrastructure only: whether a text may be sent (the customer texted STOP) is
decided by bot/services/messaging.py's `send_text`, which calls this client.
"""

from __future__ import annotations

from dataclasses import dataclass

from twilio.http.http_client import TwilioHttpClient
from twilio.rest import Client

from bot.settings import Settings

REQUEST_TIMEOUT = 10  # seconds


@dataclass
class TwilioClient:
    """Sends SMS through Twilio.

    `api_base_url` points the client at another endpoint (a regional edge, or the
    fake Twilio server the tests run on loopback).
    """

    account_sid: str
    auth_token: str
    from_number: str
    api_base_url: str | None = None

    @classmethod
    def from_settings(cls, settings: Settings) -> TwilioClient:
        """The client for the account and number in `settings`."""
        return cls(
            account_sid=settings.twilio_account_sid,
            auth_token=settings.twilio_auth_token,
            from_number=settings.twilio_phone_number,
            api_base_url=settings.twilio_api_base_url,
        )

    def _client(self) -> Client:
        # A timeout, so a hanging Twilio API cannot hang whoever is sending.
        client = Client(
            self.account_sid,
            self.auth_token,
            http_client=TwilioHttpClient(timeout=REQUEST_TIMEOUT),
        )
        if self.api_base_url:
            client.api.base_url = self.api_base_url.rstrip("/")
        return client

    def send_sms(self, to: str, body: str) -> str:
        """Send `body` to `to`; returns Twilio's message SID."""
        message = self._client().messages.create(
            to=to, from_=self.from_number, body=body
        )
        return str(message.sid)
