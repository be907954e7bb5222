"""HMAC signatures on request bodies between Switchboard's own processes.

The web app signs what it forwards to the Rasa web chat channel, so only it (holder of
SECRET_KEY) can speak for a signed-in customer there.
"""

from __future__ import annotations

import hashlib
import hmac

SIGNATURE_HEADER = "X-Switchboard-Signature"


def sign_body(body: bytes, secret: str) -> str:
    """Hex HMAC-SHA256 of the raw request body."""
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def valid_body_signature(body: bytes, signature: str | None, secret: str) -> bool:
    """True when `signature` is the body's HMAC under `secret` (constant-time)."""
    if not signature or not secret:
        return False
    expected = sign_body(body, secret)
    return hmac.compare_digest(signature.strip().lower().encode(), expected.encode())
