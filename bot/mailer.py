"""Outgoing email, kept in the `outbox` table until a mail relay sends it.

Switchboard has no mail server of its own. Everything it mails goes through
`MailOutbox.send`, in the same transaction as what caused it: a registration is never
stored without its mail, nor a mail left behind for a registration rolled back. To
deliver, an operator's relay reads `pending()`, sends each mail and calls
`mark_sent()`; until one is connected, `python -m bot outbox` prints what waits.
The table holds live one-time links: keep it away from BI users.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.models import OutboxMail, utcnow


class MailOutbox:
    """Queues mail in the database session it is given."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def send(self, to: str, subject: str, body: str) -> OutboxMail:
        """Queue one plain-text mail to `to`."""
        mail = OutboxMail(to_address=to.strip().lower(), subject=subject, body=body)
        self.session.add(mail)
        self.session.flush()
        return mail

    def pending(self, limit: int = 100) -> list[OutboxMail]:
        """Mails not handed to the relay yet, oldest first."""
        query = (
            select(OutboxMail)
            .where(OutboxMail.sent_at.is_(None))
            .order_by(OutboxMail.id)
            .limit(limit)
        )
        return list(self.session.scalars(query))

    def mark_sent(self, mail: OutboxMail) -> None:
        """Record that the relay took `mail`."""
        mail.sent_at = utcnow()
        self.session.flush()

    def sent_to(self, address: str) -> list[OutboxMail]:
        """Every mail queued for `address`, oldest first."""
        query = (
            select(OutboxMail)
            .where(OutboxMail.to_address == address.strip().lower())
            .order_by(OutboxMail.id)
        )
        return list(self.session.scalars(query))
