"""Real concurrent claims: many agents, each on its own connection, at the same moment.

PostgreSQL (a throw-away database on 127.0.0.1:5432) and a SQLite file (WAL, busy
timeout, the engine the application uses). Run with `pytest -s` to see the figures.
"""

from __future__ import annotations

import statistics
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import TypeVar

import pytest
from sqlalchemy import func, select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from bot import migrate
from bot.db import make_engine
from bot.models import (
    Agent,
    Channel,
    Ticket,
    TicketCategory,
    TicketEvent,
    TicketEventKind,
    TicketStatus,
)
from bot.services import queue, tickets
from tests.conftest import _postgres_database

ROUNDS = 20
THREADS = 8
T = TypeVar("T")


@pytest.fixture(params=["sqlite", "postgresql"])
def database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    """A fresh, migrated database with a connection pool large enough for all."""
    with ExitStack() as stack:
        if request.param == "sqlite":
            url = f"sqlite:///{tmp_path / 'claims.db'}"
        else:
            url = stack.enter_context(_postgres_database())
        migrate.upgrade(url)
        engine = make_engine(url)
        if engine.dialect.name != "sqlite":
            engine.dispose()
            engine = make_engine(url, pool_size=THREADS + 2, max_overflow=0)
        yield engine
        engine.dispose()


def make_agents(engine: Engine) -> list[Agent]:
    with Session(engine, expire_on_commit=False) as session, session.begin():
        agents = [
            Agent(
                name=f"Agent {n}",
                email=f"agent{n}@support.example.com",
                password_hash="not-used-here",
            )
            for n in range(THREADS)
        ]
        session.add_all(agents)
    return agents


def open_new_tickets(engine: Engine, count: int) -> list[int]:
    with Session(engine) as session, session.begin():
        made = [
            tickets.open_ticket(
                session,
                tickets.TicketRequest(
                    channel=Channel.WEB,
                    category=TicketCategory.HANDOFF,
                    subject="Customer asked for a person",
                ),
            )
            for _ in range(count)
        ]
        return [t.id for t in made]


@dataclass
class Round:
    results: list[object] = field(default_factory=list)
    latencies: list[float] = field(default_factory=list)
    errors: list[BaseException] = field(default_factory=list)


def race(
    engine: Engine, agents: list[Agent], attempt: Callable[[Session, Agent], T]
) -> Round:
    """Every agent runs `attempt` on its own connection, released by one barrier.

    Each attempt is its own transaction, committed; latency is attempt + commit.
    """
    outcome = Round()
    lock = threading.Lock()
    barrier = threading.Barrier(len(agents))

    def work(agent: Agent) -> None:
        try:
            with engine.connect() as connection:
                connection.exec_driver_sql("SELECT 1")  # connected before the start
                connection.rollback()
                session = Session(bind=connection, expire_on_commit=False)
                barrier.wait(timeout=30)
                started = time.perf_counter()
                result = attempt(session, agent)
                session.commit()
                elapsed = time.perf_counter() - started
                session.close()
            with lock:
                outcome.results.append(result)
                outcome.latencies.append(elapsed)
        except BaseException as exc:  # reported by the test
            with lock:
                outcome.errors.append(exc)
            barrier.abort()

    threads = [threading.Thread(target=work, args=(a,)) for a in agents]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not any(t.is_alive() for t in threads), "a claim hung"
    assert not outcome.errors, outcome.errors
    return outcome


def claimed_rows(engine: Engine, ticket_id: int) -> int:
    with Session(engine) as session:
        return session.scalar(
            select(func.count(TicketEvent.id)).where(
                TicketEvent.ticket_id == ticket_id,
                TicketEvent.kind == TicketEventKind.CLAIMED,
            )
        )


def claim(ticket_id: int, session: Session, agent: Agent) -> bool:
    return queue.claim(session, ticket_id, agent)


def test_exactly_one_agent_wins_each_claim(database: Engine) -> None:
    agents = make_agents(database)
    ticket_ids = open_new_tickets(database, ROUNDS)
    winners_per_round: list[int] = []
    latencies: list[float] = []
    for ticket_id in ticket_ids:
        outcome = race(database, agents, partial(claim, ticket_id))
        winners = sum(1 for r in outcome.results if r is True)
        winners_per_round.append(winners)
        latencies.extend(outcome.latencies)
        assert len(outcome.results) == THREADS
        assert winners == 1
        assert claimed_rows(database, ticket_id) == 1
        with Session(database) as session:
            ticket = session.get(Ticket, ticket_id)
            assert ticket is not None and ticket.status == TicketStatus.CLAIMED
            assert ticket.assigned_agent_id in {a.id for a in agents}

    print(
        f"\nclaim concurrency on {database.dialect.name}: {ROUNDS} rounds x "
        f"{THREADS} threads; winners per round: {winners_per_round}; "
        f"claim + commit latency mean {statistics.mean(latencies) * 1000:.1f} ms, "
        f"median {statistics.median(latencies) * 1000:.1f} ms, "
        f"max {max(latencies) * 1000:.1f} ms"
    )


def test_next_ticket_hands_each_ticket_to_one_agent(database: Engine) -> None:
    agents = make_agents(database)
    ticket_ids = open_new_tickets(database, THREADS)

    def take(session: Session, agent: Agent) -> int | None:
        ticket = queue.next_ticket(session, agent)
        return ticket.id if ticket is not None else None

    outcome = race(database, agents, take)
    assert sorted(r for r in outcome.results if isinstance(r, int)) == ticket_ids
    assert len(outcome.results) == THREADS
    with Session(database) as session:
        for ticket_id in ticket_ids:
            assert claimed_rows(database, ticket_id) == 1
        owners = session.scalars(
            select(Ticket.assigned_agent_id).where(Ticket.id.in_(ticket_ids))
        ).all()
        assert sorted(owners) == sorted(a.id for a in agents)  # one each
    print(
        f"\nnext_ticket on {database.dialect.name}: {THREADS} agents, {THREADS} new "
        f"tickets, each handed out once; mean latency "
        f"{statistics.mean(outcome.latencies) * 1000:.1f} ms"
    )
