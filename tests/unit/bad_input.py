"""Hostile input for the property-based bad-input tests (``test_bad_input_*.py``).

Strategies for what a client (or an attacker) may send: random bytes, invalid
UTF-8, huge bodies, emoji, control characters, SQL and HTML injection strings, 100 kB
messages, JSON of the wrong shape; and `stored_nothing`, the check that a refused
request left the database as it was. The examples are the same on every run (the
"switchboard" profile in tests/unit/conftest.py).
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlencode

from flask import Flask
from hypothesis import strategies as st
from sqlalchemy.engine import Engine

from tests.unit.console.helpers import snapshot

HUGE = 100_000  # characters (or bytes) in a "100 kB message"

SQL_INJECTIONS = (
    "' OR '1'='1",
    "'; DROP TABLE customers; --",
    "104257' OR 1=1 --",
    "T-7K4M9Q' UNION SELECT email, name FROM customers --",
    "1; SELECT pg_sleep(5)",
    '" OR ""="',
    "%' AND 1=0 --",
    "\\'; DELETE FROM tickets WHERE '1'='1",
)
HTML_INJECTIONS = (
    "<script>alert(1)</script>",
    '"><img src=x onerror=alert(1)>',
    "<svg/onload=alert(1)>",
    "javascript:alert(1)",
    "{{7*7}}{% raw %}",
    "]]><!-- <Hangup/>",
    "</Message><Redirect>https://evil.example</Redirect>",
    '<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]>',
    "&amp;&lt;&#0;",
)
ODD_TEXT = (
    "",
    " ",
    "\t\r\n",
    "\x00",
    "where is\x00 my order",
    "\x01\x02\x1b[31m\x7f",
    "\u2028\u2029\ufeff\u200b",
    "\u202eredro ym si erehw",
    "😀",
    "👩‍👩‍👧‍👦🇺🇸❤️🤖",
    "where is my order 🤔📦",
    "Ｔ－７Ｋ４Ｍ９Ｑ",  # fullwidth
    "١٠٤٢٥٧",  # Arabic-Indic digits
    "𝟏𝟎𝟒𝟐𝟓𝟕",
    "\ufffd\ufffd",
    "\ud800",  # a lone surrogate: JSON can carry it, UTF-8 cannot
    "a\udfffb",
    "STOP",
    "back to the bot",
    "9" * 400,
    "-1",
    "0",
    "1e309",
    "NaN",
    "null",
    "%00%ff%2e%2e%2f",
    "../../etc/passwd",
)
NASTY_STRINGS = SQL_INJECTIONS + HTML_INJECTIONS + ODD_TEXT

# Byte sequences that are not UTF-8: a stray continuation byte, an overlong "/", an
# encoded surrogate, a code point above U+10FFFF, a truncated sequence.
INVALID_UTF8 = (
    b"\xff\xfe",
    b"\x80",
    b"\xc0\xaf",
    b"\xed\xa0\x80",
    b"\xf4\x90\x80\x80",
    b"caf\xc3",
    b"\xc3\x28",
)


# JSON nested deeper than Python recurses (a RecursionError, not a ValueError).
DEEP_JSON = (b"[" * HUGE, b'{"a":' * (HUGE // 5), b"[" * 5_000 + b"]" * 5_000)


def huge(unit: str, size: int = HUGE) -> str:
    """`unit` repeated to `size` characters."""
    return (unit * (size // max(len(unit), 1) + 1))[:size]


def texts(max_size: int = 300, long: int = HUGE) -> st.SearchStrategy[str]:
    """Strings a person or a script might type, hostile ones first.

    Besides strings up to `max_size` characters, some are `long` characters long.
    """
    return st.one_of(
        st.sampled_from(NASTY_STRINGS),
        st.text(max_size=max_size),
        st.lists(st.sampled_from(NASTY_STRINGS), min_size=2, max_size=4).map("".join),
        st.sampled_from(("x", "😀", "<b>", "' OR 1=1 --", "é")).map(
            lambda unit: huge(unit, long)
        ),
    )


def form_texts(max_size: int = 300, long: int = HUGE) -> st.SearchStrategy[str]:
    """`texts` as a browser sends them in a URL or form: UTF-8, so no lone surrogate."""
    return texts(max_size, long).map(
        lambda text: text.encode("utf-8", "surrogatepass").decode("utf-8", "replace")
    )


def raw_bytes() -> st.SearchStrategy[bytes]:
    """Request bodies: random bytes, invalid UTF-8, deep JSON, 100 kB and more."""
    return st.one_of(
        st.binary(max_size=2_000),
        st.sampled_from(INVALID_UTF8),
        st.lists(st.sampled_from(INVALID_UTF8), min_size=2, max_size=6).map(b"".join),
        st.sampled_from((b"\x00", b"\xff", b"A", b"=&")).map(
            lambda unit: unit * (2 * HUGE // len(unit))
        ),
        st.sampled_from(DEEP_JSON),
        texts().map(lambda text: text.encode("utf-8", errors="surrogatepass")),
    )


def queries() -> st.SearchStrategy[bytes]:
    """Raw query strings: none, random bytes, invalid UTF-8, hostile parameters."""
    return st.one_of(
        st.just(b""),
        st.binary(max_size=100),
        st.sampled_from(INVALID_UTF8),
        st.lists(st.tuples(texts(40), texts(40)), max_size=4).map(
            lambda pairs: urlencode(pairs, errors="surrogatepass").encode()
        ),
    )


def json_values() -> st.SearchStrategy[Any]:
    """Any JSON value: wrong types for every field."""
    scalars = st.one_of(
        st.none(),
        st.booleans(),
        st.integers(),
        st.sampled_from((2**31, 2**63, -(2**63) - 1, 10**400)),
        st.floats(allow_nan=False, allow_infinity=False),
        texts(),
    )
    return st.recursive(
        scalars,
        lambda inner: st.lists(inner, max_size=4)
        | st.dictionaries(st.text(max_size=10), inner, max_size=4),
        max_leaves=8,
    )


def json_objects(
    fields: dict[str, st.SearchStrategy[Any]],
) -> st.SearchStrategy[dict[str, Any]]:
    """JSON objects with some of `fields` (each may be missing) and extra keys."""
    return st.fixed_dictionaries(
        {},
        optional={
            **fields,
            "extra": json_values(),
            "__proto__": json_values(),
            "sender_id": json_values(),
        },
    )


def json_bytes(value: Any) -> bytes:
    """`value` as a JSON body (a lone surrogate travels as an escape)."""
    return json.dumps(value).encode()


def app_engine(app: Flask) -> Engine:
    """The engine of the web app's database (bot/web/database.py)."""
    engine: Engine = app.extensions["session_factory"].kw["bind"]
    return engine


def stored_nothing(engine: Engine, before: dict[str, Any]) -> bool:
    """Whether the database holds the same rows as at `before` (a `snapshot`)."""
    return snapshot(engine) == before
