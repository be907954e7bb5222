"""Server-side sign-out for client-side sessions: a session version per account.

Flask's session lives in a signed cookie, so clearing it at sign-out does not stop a
copy saved before from working. Each customer and agent row has a `session_version`,
written into the session at sign-in and compared on every request; signing out
increments it, which ends every session of that account issued before (on every
device). Agents' stamps also cover the password hash, so changing the password ends
their sessions too.
"""

from __future__ import annotations

import hashlib

from sqlalchemy import update
from sqlalchemy.orm import Session

from bot.models import Agent, Customer


def stamp(account: Customer | Agent) -> str:
    """What the session must carry to stay signed in as `account` (no secret in it)."""
    parts = [type(account).__name__, str(account.id), str(account.session_version)]
    if isinstance(account, Agent):
        parts.append(account.password_hash)
    return hashlib.sha256("|".join(parts).encode()).hexdigest()


def end_sessions(db: Session, model: type[Customer] | type[Agent], id_: int) -> None:
    """Invalidate every session of this account (one atomic UPDATE; commits)."""
    db.execute(
        update(model)
        .where(model.id == id_)
        .values(session_version=model.session_version + 1)
    )
    db.commit()
