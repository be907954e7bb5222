"""Rasa's Redis lock store, made safe for several Rasa instances (LOCK_STORE_URL).

Rasa handles one conversation's messages one at a time, in the order they came,
with a *ticket lock* per conversation: each message takes the next ticket and waits
until its number is served. Rasa 3.6's `RedisLockStore` reads a lock, changes it in
memory and writes it back, so two instances taking tickets at the same moment can
both get the same number and run turns of one conversation side by side, and a
ticket finished on one instance can erase a ticket just taken on another. Here
every change is one Redis transaction (WATCH the key, MULTI, EXEC; redone when
another instance changed the lock in between).

Tickets are short (`ticket_seconds`) and renewed while their message waits or is
handled, so an instance that dies frees its conversations within seconds instead of
holding them for Rasa's 60-second lock lifetime. Expiry compares wall clocks, so
the machines' clocks must agree within a second or two. The lock's key expires
with its tickets.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any, TypeVar

import redis  # type: ignore[import-untyped]
from rasa.core.lock import TicketLock
from rasa.core.lock_store import LOCK_LIFETIME, LockError, RedisLockStore
from rasa.utils.endpoints import EndpointConfig

logger = logging.getLogger(__name__)

T = TypeVar("T")

TICKET_SECONDS = 10.0
# A waiting message checks whether its turn has come this often.
POLL_SECONDS = 0.05


class SharedLockStore(RedisLockStore):
    """Ticket locks in Redis, each change atomic; tickets renewed while in use."""

    def __init__(self, endpoint_config: EndpointConfig) -> None:
        options: dict[str, Any] = dict(endpoint_config.kwargs)
        self.ticket_seconds = float(options.pop("ticket_seconds", TICKET_SECONDS))
        super().__init__(host=endpoint_config.url or "localhost", **options)

    def _change(self, conversation_id: str, change: Callable[[TicketLock], T]) -> T:
        """`change` applied to the conversation's lock in one Redis transaction.

        Raises:
            LockError: Redis could not be reached.
        """
        key = self.key_prefix + conversation_id

        def transaction(pipe: redis.client.Pipeline) -> T:
            raw = pipe.get(key)  # watched: EXEC fails if anyone changed it since
            lock = (
                TicketLock.from_dict(json.loads(raw))
                if raw
                else TicketLock(conversation_id)
            )
            result = change(lock)
            pipe.multi()
            if lock.tickets:
                # Renewals rewrite the key: it outlives its newest ticket only.
                pipe.set(key, lock.dumps(), px=int(self.ticket_seconds * 2000))
            else:
                pipe.delete(key)
            return result

        try:
            result: T = self.red.transaction(transaction, key, value_from_callable=True)
        except redis.RedisError as exc:
            raise LockError(
                f"the lock store (Redis) is unreachable: {type(exc).__name__}: {exc}"
            ) from exc
        return result

    def issue_ticket(
        self, conversation_id: str, lock_lifetime: float = LOCK_LIFETIME
    ) -> int:
        """Take the conversation's next ticket (renewed by `lock` while in use)."""
        return self._change(
            conversation_id, lambda lock: lock.issue_ticket(self.ticket_seconds)
        )

    def update_lock(self, conversation_id: str) -> None:
        """Drop the conversation's expired tickets (those of a dead instance)."""
        self._change(conversation_id, lambda lock: lock.remove_expired_tickets())

    def finish_serving(self, conversation_id: str, ticket_number: int) -> None:
        """Remove a ticket; the lock goes with its last ticket."""
        self._change(
            conversation_id, lambda lock: lock.remove_ticket_for(ticket_number)
        )

    def cleanup(self, conversation_id: str, ticket_number: int) -> None:
        """Remove the ticket once its message is handled (or has failed)."""
        self.finish_serving(conversation_id, ticket_number)

    def renew(self, conversation_id: str, ticket_number: int) -> bool:
        """Push a ticket's expiry `ticket_seconds` ahead; False if it is gone."""

        def extend(lock: TicketLock) -> bool:
            for ticket in lock.tickets:
                if ticket.number == ticket_number:
                    ticket.expires = time.time() + self.ticket_seconds
                    return True
            return False

        return self._change(conversation_id, extend)

    async def _keep_renewing(self, conversation_id: str, ticket_number: int) -> None:
        while True:
            await asyncio.sleep(self.ticket_seconds / 5)
            try:
                if not self.renew(conversation_id, ticket_number):
                    logger.error(
                        "ticket %d of conversation %s expired while in use (this "
                        "process was stalled for over %g s)",
                        ticket_number,
                        conversation_id,
                        self.ticket_seconds,
                    )
                    return
            except LockError:
                logger.exception("could not renew a ticket of %s", conversation_id)

    @asynccontextmanager
    async def lock(
        self,
        conversation_id: str,
        lock_lifetime: float = LOCK_LIFETIME,
        wait_time_in_seconds: float = POLL_SECONDS,
    ) -> AsyncIterator[TicketLock]:
        """Hold the conversation's lock: wait for this message's turn, then serve it."""
        ticket = self.issue_ticket(conversation_id)
        renewing = asyncio.ensure_future(self._keep_renewing(conversation_id, ticket))
        try:
            yield await self._acquire_lock(
                conversation_id, ticket, min(wait_time_in_seconds, POLL_SECONDS)
            )
        finally:
            renewing.cancel()
            self.cleanup(conversation_id, ticket)
