"""Twilio's side of a webhook: signed form posts to a channel's Sanic blueprint.

The request is a real `sanic.request.Request` (form body, headers, query) handed to
the blueprint's own route handler, so the signature check, the field checks and
the de-duplication all run as they do behind Rasa's server.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

from sanic import Blueprint
from sanic.compat import Header
from sanic.request import Request
from sanic.response import HTTPResponse
from twilio.request_validator import RequestValidator

from channels.twilio_checks import SIGNATURE_HEADER


def inbound_sms(
    body: str, sender: str, account_sid: str, sid: str | None = None
) -> dict[str, str]:
    """The form fields Twilio posts for an inbound SMS."""
    sid = sid or "SM" + uuid.uuid4().hex
    return {
        "ToCountry": "US", "ToState": "CA", "SmsMessageSid": sid, "NumMedia": "0",
        "ToCity": "", "FromZip": "94107", "SmsSid": sid, "FromState": "CA",
        "SmsStatus": "received", "FromCity": "SAN FRANCISCO", "Body": body,
        "FromCountry": "US", "To": "+15005550006", "ToZip": "",
        "NumSegments": "1", "MessageSid": sid, "AccountSid": account_sid,
        "From": sender, "ApiVersion": "2010-04-01",
    }  # fmt: skip


def shifted(params: dict[str, str], field_name: str) -> dict[str, str]:
    """`params` with `field_name` swallowing the field after it in Twilio's order.

    Twilio signs ``name + value`` of the fields sorted by name with no separator,
    so the result carries the same signature as `params`.
    """
    names = sorted(params)
    swallowed = names[names.index(field_name) + 1]
    result = {k: v for k, v in params.items() if k != swallowed}
    result[field_name] = params[field_name] + swallowed + params[swallowed]
    return result


def fields_read(body: bytes) -> dict[str, str]:
    """The fields a channel reads from a form body (channels/common.py's form_params).

    What Twilio signed for a body it sent: the first value of each name, blanks
    kept, bytes that are not UTF-8 read as U+FFFD.
    """
    fields: dict[str, str] = {}
    text = body.decode("utf-8", errors="replace")
    for key, value in parse_qsl(text, keep_blank_values=True):
        fields.setdefault(key, value)
    return fields


@dataclass
class TwilioWebhooks:
    """Posts webhooks to `blueprint`, mounted at `mount` under `public_base_url`."""

    blueprint: Blueprint
    auth_token: str
    public_base_url: str
    mount: str  # "/webhooks/sms", where Rasa mounts the channel's blueprint
    app: Any = field(default_factory=lambda: SimpleNamespace(ctx=SimpleNamespace()))

    def url(self, path: str) -> str:
        """The public URL Twilio calls for `path` ("/webhook?step=ab")."""
        return f"{self.public_base_url}{self.mount}{path}"

    def sign(self, path: str, params: dict[str, str]) -> str:
        return str(
            RequestValidator(self.auth_token).compute_signature(self.url(path), params)
        )

    def accepts(self, path: str, params: dict[str, str], signature: str) -> bool:
        """Whether the twilio library itself takes `signature` for these fields."""
        validator = RequestValidator(self.auth_token)
        return bool(validator.validate(self.url(path), params, signature))

    async def post(
        self,
        path: str,
        params: dict[str, str],
        signature: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> HTTPResponse:
        """POST `params` to `path`, signed for them unless `signature` is given."""
        route = urlsplit(path).path
        [handler] = [
            r.handler
            for r in self.blueprint._future_routes
            if r.uri == route and "POST" in r.methods
        ]
        request = Request(
            f"{self.mount}{path}".encode(),
            Header(
                {
                    "Content-Type": "application/x-www-form-urlencoded",
                    SIGNATURE_HEADER: signature or self.sign(path, params),
                    **(headers or {}),
                }
            ),
            "1.1",
            "POST",
            None,  # type: ignore[arg-type]  # the handlers never write to it
            self.app,
        )
        request.body = urlencode(params).encode()
        return await handler(request)  # type: ignore[no-any-return]
