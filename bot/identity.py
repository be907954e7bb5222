"""Signed channel identity: what a channel vouches for about the customer.

Channels that have verified something (the `From` number of a signed Twilio request,
a signed-in shop customer) put a signed record into the message metadata. Actions only
trust a record whose signature checks out, that was issued for this conversation and
that is recent, so a client-controlled channel (Rasa's REST channel) cannot claim to
be someone else, nor replay a record from another conversation. The record stays
readable JSON; its `signature` is bot/signing.py's, for the CHANNEL_IDENTITY purpose.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass
from typing import Any

from bot.signing import CHANNEL_IDENTITY, sign, verify

METADATA_KEY = "switchboard_identity"
MAX_AGE_SECONDS = 600


@dataclass(frozen=True)
class ChannelIdentity:
    """What a channel vouches for: its name, and the phone or customer it verified."""

    channel: str
    phone: str | None = None
    customer_id: int | None = None


def _canonical(payload: dict[str, Any]) -> bytes:
    return json.dumps(payload, sort_keys=True, separators=(",", ":")).encode()


def sign_identity(
    identity: ChannelIdentity,
    secret: str,
    sender_id: str,
    issued_at: float | None = None,
) -> dict[str, Any]:
    """Metadata entry vouching for `identity` in conversation `sender_id`."""
    payload = {
        **asdict(identity),
        "sender": sender_id,
        "iat": int(issued_at if issued_at is not None else time.time()),
    }
    signature = sign(_canonical(payload), secret, CHANNEL_IDENTITY)
    return {METADATA_KEY: {**payload, "signature": signature}}


def verify_identity(
    metadata: Any,
    secret: str,
    sender_id: str,
    now: float | None = None,
) -> ChannelIdentity | None:
    """The identity in `metadata` if it is authentic, for this sender and recent."""
    if not isinstance(metadata, dict):
        return None
    record = metadata.get(METADATA_KEY)
    if not isinstance(record, dict):
        return None
    payload = {k: v for k, v in record.items() if k != "signature"}
    signature = record.get("signature")
    if not isinstance(signature, str) or not secret:
        return None
    try:
        message = _canonical(payload)
    except (TypeError, ValueError):
        return None
    if not verify(message, signature, secret, CHANNEL_IDENTITY):
        return None
    issued_at = payload.pop("iat", None)
    if payload.pop("sender", None) != sender_id or not isinstance(issued_at, int):
        return None
    if abs((now if now is not None else time.time()) - issued_at) > MAX_AGE_SECONDS:
        return None
    try:
        return ChannelIdentity(**payload)
    except TypeError:
        return None
