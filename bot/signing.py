"""HMAC signatures on request bodies between Switchboard's own processes.

The web app signs what it forwards to the Rasa web chat channel, so only it (holder of
SECRET_KEY) can speak for a signed-in customer there. The signature covers the raw
body, which carries a timestamp and a random nonce: the channel refuses bodies older
(or further in the future) than MAX_AGE_SECONDS, and a nonce it has already seen, so
a captured request cannot be replayed.

The HMAC key is derived from SECRET_KEY for this one purpose (HMAC(SECRET_KEY,
"webchat-body")), so a body signature is never valid as any other signature made
with SECRET_KEY, nor the other way round.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
import time
from typing import Any

SIGNATURE_HEADER = "X-Switchboard-Signature"
MAX_AGE_SECONDS = 60
BODY_KEY_PURPOSE = b"webchat-body"


def body_key(secret: str) -> bytes:
    """The key for body signatures, derived from SECRET_KEY."""
    return hmac.new(secret.encode(), BODY_KEY_PURPOSE, hashlib.sha256).digest()


def sign_body(body: bytes, secret: str) -> str:
    """Hex HMAC-SHA256 of the raw request body, under the key derived from `secret`."""
    return hmac.new(body_key(secret), body, hashlib.sha256).hexdigest()


def valid_body_signature(body: bytes, signature: str | None, secret: str) -> bool:
    """True when `signature` is the body's HMAC under `secret` (constant-time)."""
    if not signature or not secret:
        return False
    expected = sign_body(body, secret)
    return hmac.compare_digest(signature.strip().lower().encode(), expected.encode())


def stamped(data: dict[str, Any], now: float | None = None) -> dict[str, Any]:
    """`data` with the current time (`timestamp`, Unix seconds) and a random `nonce`."""
    return {
        **data,
        "timestamp": int(time.time() if now is None else now),
        "nonce": secrets.token_hex(16),
    }


def is_fresh(
    timestamp: int, now: float | None = None, max_age: float = MAX_AGE_SECONDS
) -> bool:
    """True when `timestamp` is at most `max_age` seconds from now, either way."""
    current = time.time() if now is None else now
    return abs(current - timestamp) <= max_age


class NonceCache:
    """Nonces seen in the last few minutes, so a signed body is accepted only once.

    A nonce has to be remembered only while its timestamp is fresh: after that, the
    body is refused as too old anyway. In memory, per process (one Rasa server).
    """

    def __init__(self, ttl: float = 2 * MAX_AGE_SECONDS + 5) -> None:
        self.ttl = ttl
        self._seen: dict[str, float] = {}
        self._lock = threading.Lock()

    def use(self, nonce: str, now: float | None = None) -> bool:
        """Record `nonce`; False when it was already used (a replay)."""
        current = time.monotonic() if now is None else now
        with self._lock:
            # Insertion order is expiry order (same ttl, monotonic clock).
            while self._seen:
                oldest, until = next(iter(self._seen.items()))
                if until > current:
                    break
                del self._seen[oldest]
            if nonce in self._seen:
                return False
            self._seen[nonce] = current + self.ttl
            return True

    def __len__(self) -> int:
        return len(self._seen)
