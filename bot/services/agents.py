"""Support agents: accounts, password hashing and sign-in.

Passwords are hashed with Werkzeug's scrypt (salted, memory-hard; Werkzeug comes with
Flask). Only the hash is stored. `authenticate` does the same amount of hashing work
whether or not the email belongs to an agent, so response times do not reveal which
addresses have accounts.
"""

from __future__ import annotations

from functools import lru_cache

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from werkzeug.security import check_password_hash, generate_password_hash

from bot.models import Agent, AgentRole
from bot.services.contact import normalise_email

PASSWORD_METHOD = "scrypt"
MIN_PASSWORD_LENGTH = 10
# Hashing is deliberately slow; a cap stops megabyte "passwords" from tying it up.
MAX_PASSWORD_LENGTH = 1024


class AgentExists(Exception):
    """An agent account already uses this email."""

    def __init__(self, email: str) -> None:
        super().__init__(f"an agent with email {email} already exists")
        self.email = email


def check_password_rules(password: str) -> None:
    """Raise ValueError with a message safe to show if the password is not acceptable."""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise ValueError(
            f"the password must be at least {MIN_PASSWORD_LENGTH} characters long"
        )
    if len(password) > MAX_PASSWORD_LENGTH:
        raise ValueError(
            f"the password must be at most {MAX_PASSWORD_LENGTH} characters long"
        )
    if not password.strip():
        raise ValueError("the password must not be only spaces")


def hash_password(password: str) -> str:
    """A salted scrypt hash of `password`, in Werkzeug's self-describing format."""
    return generate_password_hash(password, method=PASSWORD_METHOD)


@lru_cache(maxsize=1)
def _dummy_hash() -> str:
    # Checked against when the email is unknown, so that the work done is the same.
    return hash_password("not a real password, only for timing")


def find_agent_by_email(session: Session, email: str) -> Agent | None:
    """The agent with this email (any case), if any."""
    return session.scalars(
        select(Agent).where(Agent.email == email.strip().lower())
    ).first()


def create_agent(
    session: Session,
    name: str,
    email: str,
    password: str,
    role: AgentRole | str = AgentRole.AGENT,
) -> Agent:
    """Create an agent account.

    Raises:
        ValueError: empty name, unknown role or a password shorter than
            MIN_PASSWORD_LENGTH (InvalidContact, a ValueError, for a bad email).
        AgentExists: the email is taken.
    """
    name = name.strip()
    if not name:
        raise ValueError("the agent needs a name")
    if len(name) > 200:
        raise ValueError("the name must be at most 200 characters long")
    try:
        agent_role = AgentRole(role)
    except ValueError as exc:
        allowed = ", ".join(r.value for r in AgentRole)
        raise ValueError(f"role must be one of: {allowed}") from exc
    address = normalise_email(email)
    check_password_rules(password)
    if find_agent_by_email(session, address) is not None:
        raise AgentExists(address)
    agent = Agent(
        name=name,
        email=address,
        password_hash=hash_password(password),
        role=agent_role,
        active=True,
    )
    try:
        with session.begin_nested():
            session.add(agent)
    except IntegrityError as exc:  # created by someone else in the meantime
        raise AgentExists(address) from exc
    return agent


def set_password(agent: Agent, password: str) -> None:
    """Replace an agent's password (same rules as at creation)."""
    check_password_rules(password)
    agent.password_hash = hash_password(password)


def authenticate(session: Session, email: str, password: str) -> Agent | None:
    """The active agent with this email and password, or None.

    An unknown email, a deactivated agent and a wrong password all take one hash
    check and give the same answer.
    """
    agent = find_agent_by_email(session, email) if email else None
    if agent is None or not agent.active:
        check_password_hash(_dummy_hash(), password or "")
        return None
    if not check_password_hash(agent.password_hash, password or ""):
        return None
    return agent
