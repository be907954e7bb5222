"""Signed channel identity: what a channel vouches for about the customer.

Channels that have verified something (the `From` number of a signed Twilio request,
a signed-in shop customer) put a signed record into the message metadata. Actions only
trust metadata whose signature checks out, so a client-controlled channel (REST,
socket.io) cannot claim to be someone else.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from dataclasses import asdict, dataclass
from typing import Any

METADATA_KEY = "switchboard_identity"


@dataclass(frozen=True)
class ChannelIdentity:
    channel: str
    phone: str | None = None
    customer_id: int | None = None


def _signature(payload: dict[str, Any], secret: str) -> str:
    message = json.dumps(payload, sort_keys=True, separators=(",", ":")).encode()
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def sign_identity(identity: ChannelIdentity, secret: str) -> dict[str, Any]:
    """Metadata entry vouching for `identity`."""
    payload = asdict(identity)
    return {METADATA_KEY: {**payload, "signature": _signature(payload, secret)}}


def verify_identity(
    metadata: dict[str, Any] | None, secret: str
) -> ChannelIdentity | None:
    """The identity in `metadata` if its signature is valid, else None."""
    if not metadata or not isinstance(metadata.get(METADATA_KEY), dict):
        return None
    record = dict(metadata[METADATA_KEY])
    signature = record.pop("signature", None)
    if not isinstance(signature, str):
        return None
    if not hmac.compare_digest(signature, _signature(record, secret)):
        return None
    try:
        return ChannelIdentity(**record)
    except TypeError:
        return None
