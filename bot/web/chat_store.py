"""Web chat messages in the database, and their JSON form for the widget."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.models import ChatMessage, Sender

PAGE_SIZE = 500
# How far back to look for the assistant's latest reply (its buttons).
REPLY_SCAN = 50


def to_json(row: ChatMessage) -> dict[str, Any]:
    """What the widget gets: text, buttons and, for agents, the agent's name."""
    try:
        extra = json.loads(row.payload) if row.payload else {}
    except ValueError:
        extra = {}
    if not isinstance(extra, dict):
        extra = {}
    return {
        "id": row.id,
        "sender": row.sender.value,
        "text": row.text,
        "buttons": extra.get("buttons") or [],
        "image": extra.get("image"),
        "agent_name": extra.get("agent_name"),
        "created_at": row.created_at.isoformat(),
    }


def _buttons(reply: dict[str, Any]) -> list[dict[str, str]]:
    return [
        {"title": str(b.get("title", "")), "payload": str(b.get("payload", ""))}
        for b in reply.get("buttons") or []
        if isinstance(b, dict)
    ]


def _add(
    session: Session, conversation_id: str, sender: Sender, text: str
) -> ChatMessage:
    row = ChatMessage(conversation_id=conversation_id, sender=sender, text=text)
    session.add(row)
    session.flush()
    return row


def add_customer_message(
    session: Session, conversation_id: str, text: str
) -> ChatMessage:
    """Store what the customer said (before the assistant is asked)."""
    return _add(session, conversation_id, Sender.CUSTOMER, text)


def add_notice(session: Session, conversation_id: str, text: str) -> ChatMessage:
    """Store a notice from the team (shown as such, not as the assistant's words)."""
    return _add(session, conversation_id, Sender.SYSTEM, text)


def add_bot_replies(
    session: Session, conversation_id: str, replies: list[dict[str, Any]]
) -> list[ChatMessage]:
    """Store Rasa's replies (text, buttons, image); empty ones are skipped."""
    rows = []
    for reply in replies:
        text = reply.get("text")
        extra: dict[str, Any] = {}
        if buttons := _buttons(reply):
            extra["buttons"] = buttons
        if isinstance(reply.get("image"), str):
            extra["image"] = reply["image"]
        if not text and not extra:
            continue
        rows.append(
            ChatMessage(
                conversation_id=conversation_id,
                sender=Sender.BOT,
                text=str(text or ""),
                payload=json.dumps(extra) if extra else None,
            )
        )
    session.add_all(rows)
    session.flush()
    return rows


def messages_after(
    session: Session, conversation_id: str, after: int = 0
) -> list[ChatMessage]:
    """The conversation's messages with an id above `after`, oldest first."""
    query = (
        select(ChatMessage)
        .where(ChatMessage.conversation_id == conversation_id, ChatMessage.id > after)
        .order_by(ChatMessage.id)
        .limit(PAGE_SIZE)
    )
    return list(session.scalars(query))


def latest_reply_buttons(
    session: Session, conversation_id: str
) -> list[dict[str, str]]:
    """Buttons of the assistant's latest reply: its last run of bot messages.

    Customer messages stored after that reply (e.g. while Rasa was down) are skipped;
    agent and system messages neither end nor belong to the reply.
    """
    query = (
        select(ChatMessage)
        .where(
            ChatMessage.conversation_id == conversation_id,
            ChatMessage.sender.in_([Sender.BOT, Sender.CUSTOMER]),
        )
        .order_by(ChatMessage.id.desc())
        .limit(REPLY_SCAN)
    )
    buttons: list[dict[str, str]] = []
    in_reply = False
    for row in session.scalars(query):
        if row.sender == Sender.BOT:
            in_reply = True
            buttons.extend(b for b in to_json(row)["buttons"] if isinstance(b, dict))
        elif in_reply:
            break
    return buttons


def offers_button(
    session: Session, conversation_id: str, title: str, payload: str
) -> bool:
    """True when the assistant's latest reply has a button with this title and payload."""
    return any(
        button.get("payload") == payload
        and str(button.get("title", "")).strip() == title
        for button in latest_reply_buttons(session, conversation_id)
    )
