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


def has_conversation() -> bool:
    """True when the request's session already had a conversation."""
    return isinstance(session.get(CONVERSATION_KEY), str)


def conversation_id() -> str:
    """This browser's conversation, issued on first use."""
    return session[CONVERSATION_KEY] if has_conversation() else new_conversation_id()
