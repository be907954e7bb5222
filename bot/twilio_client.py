"""The one client for Twilio's REST API (outbound SMS)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm import Session
from twilio.http.http_client import TwilioHttpClient
from twilio.rest import Client

from bot.services.messaging import is_opted_out
from bot.settings import Settings

REQUEST_TIMEOUT = 10  # seconds


class OptedOut(Exception):
    """The number texted STOP; nothing may be sent to it."""


@dataclass
class TwilioClient:
    """Sends SMS through Twilio, never to opted-out numbers.

    `api_base_url` points the client at another endpoint (a regional edge, or the
    fake Twilio server the tests run on loopback).
    """

    account_sid: str
    auth_token: str
    from_number: str
    api_base_url: str | None = None

    @classmethod
    def from_settings(cls, settings: Settings) -> TwilioClient:
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

    def send_sms(self, session: Session, to: str, body: str) -> str:
        """Send `body` to `to`; returns Twilio's message SID."""
        if is_opted_out(session, to):
            raise OptedOut(to)
        message = self._client().messages.create(
            to=to, from_=self.from_number, body=body
        )
        return str(message.sid)
