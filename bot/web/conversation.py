"""The browser's chat conversation id, kept in the signed session cookie."""

from __future__ import annotations

import secrets

from flask import session

CONVERSATION_KEY = "chat_conversation"


def new_conversation_id() -> str:
    """Start a new conversation for this browser ("web-" + random) and return it."""
    current = session[CONVERSATION_KEY] = "web-" + secrets.token_urlsafe(16)
    session.permanent = True
    return current


def conversation_id() -> str:
    """This browser's conversation, issued on first use."""
    current = session.get(CONVERSATION_KEY)
    return current if isinstance(current, str) else new_conversation_id()
