"""The one signing scheme for values Switchboard signs: itsdangerous, a salt per purpose.

Every signature is an itsdangerous HMAC under a key derived from SECRET_KEY and the
purpose's salt, so a signature made for one purpose is never valid for another: a web
chat body (`WEBCHAT_BODY`), a channel identity (`CHANNEL_IDENTITY`, bot/identity.py),
a registration link (bot/services/registration.py), and Flask's session cookie (salt
"cookie-session") all use SECRET_KEY without one standing in for another.

One exception, because another system must compute it with its own tools: the
shop's event webhook (`shop_signature`), an HMAC-SHA256 in hex over
"<timestamp>.<body>" under SHOP_WEBHOOK_SECRET (`openssl dgst -sha256 -hmac`), the
scheme Stripe and GitHub use; its own secret, so it can never stand in for the rest.

Web chat bodies: the web app signs what it forwards to the Rasa web chat channel, so
only it (holder of SECRET_KEY) can speak for a signed-in customer there. The
signature covers the raw body, which carries a timestamp and a random nonce: the
channel refuses bodies older (or further in the future) than MAX_AGE_SECONDS, and a
nonce it has already seen, so a captured request cannot be replayed: in the Rasa
process's memory (`NonceCache`) with one Rasa server, in Redis (`SharedNonces`)
when REDIS_URL is set and several instances share the work.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
import time
from typing import Any

from itsdangerous import Signer, URLSafeSerializer

from bot.shared_state import SharedState

SIGNATURE_HEADER = "X-Switchboard-Signature"
MAX_AGE_SECONDS = 60
# How long a nonce is remembered: past this, its body is refused as too old anyway.
NONCE_TTL = 2 * MAX_AGE_SECONDS + 5

# One salt per purpose (never reuse one for something else).
WEBCHAT_BODY = "switchboard.webchat-body"
CHANNEL_IDENTITY = "switchboard.channel-identity"


def _required(secret: str) -> str:
    if not secret:
        raise ValueError("signing needs SECRET_KEY")
    return secret


def signer(secret: str, purpose: str) -> Signer:
    """The signer for `purpose` under SECRET_KEY (ValueError if it is empty)."""
    return Signer(_required(secret), salt=purpose)


def serializer(secret: str, purpose: str) -> URLSafeSerializer:
    """A URL-safe serializer for `purpose`: signed tokens that carry their data."""
    return URLSafeSerializer(_required(secret), salt=purpose)


def sign(value: bytes, secret: str, purpose: str) -> str:
    """The signature of `value` for `purpose` (URL-safe base64)."""
    return signer(secret, purpose).get_signature(value).decode("ascii")


def verify(value: bytes, signature: str | None, secret: str, purpose: str) -> bool:
    """True when `signature` is `value`'s signature for `purpose` (constant-time)."""
    if not signature or not secret:
        return False
    return signer(secret, purpose).verify_signature(value, signature.strip().encode())


def sign_body(body: bytes, secret: str) -> str:
    """The signature of a raw web chat request body."""
    return sign(body, secret, WEBCHAT_BODY)


def valid_body_signature(body: bytes, signature: str | None, secret: str) -> bool:
    """True when `signature` is the body's web chat signature under `secret`."""
    return verify(body, signature, secret, WEBCHAT_BODY)


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

    def __init__(self, ttl: float = NONCE_TTL) -> None:
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


class SharedNonces:
    """`NonceCache` in Redis, for several Rasa instances (raises SharedStateDown)."""

    def __init__(self, state: SharedState, ttl: float = NONCE_TTL) -> None:
        self.state = state
        self.ttl = ttl

    def use(self, nonce: str) -> bool:
        """Record `nonce`; False when it was already used (a replay)."""
        return self.state.take("webchat-nonces", nonce, self.ttl)


# --- the shop's event webhook (an external contract) -----------------------------

SHOP_SIGNATURE_HEADER = "X-Shop-Signature"
SHOP_TIMESTAMP_HEADER = "X-Shop-Timestamp"
SHOP_MAX_AGE_SECONDS = 300


def shop_signature(body: bytes, timestamp: str, secret: str) -> str:
    """`sha256=` and the hex HMAC-SHA256 of "<timestamp>.<body>" under `secret`."""
    digest = hmac.new(
        _required(secret).encode(), timestamp.encode() + b"." + body, hashlib.sha256
    )
    return f"sha256={digest.hexdigest()}"


def valid_shop_signature(
    body: bytes, timestamp: str, signature: str | None, secret: str
) -> bool:
    """True when `signature` is the shop's signature of `body` at `timestamp`."""
    if not signature or not secret:
        return False
    expected = shop_signature(body, timestamp, secret)
    return hmac.compare_digest(expected.encode(), signature.strip().encode())
