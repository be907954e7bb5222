"""The shop's side of the events webhook: signed requests, as a shop would send them."""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

from bot.signing import SHOP_SIGNATURE_HEADER, SHOP_TIMESTAMP_HEADER, shop_signature

EVENTS_PATH = "/api/shop/events"


def event(kind: str, order: str, **data: Any) -> dict[str, Any]:
    """An event body with a fresh id."""
    return {"id": f"evt_{uuid.uuid4().hex}", "type": kind, "order": order, "data": data}


def signed(body: bytes, secret: str, timestamp: int | None = None) -> dict[str, str]:
    """The headers that sign `body` (now, or at `timestamp`)."""
    stamp = str(int(time.time()) if timestamp is None else timestamp)
    return {
        "Content-Type": "application/json",
        SHOP_TIMESTAMP_HEADER: stamp,
        SHOP_SIGNATURE_HEADER: shop_signature(body, stamp, secret),
    }


def encode(payload: Any) -> bytes:
    return json.dumps(payload).encode()
