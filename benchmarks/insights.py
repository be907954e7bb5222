"""Insights at scale: how long the Insights page and the report take.

    python -m benchmarks.insights [--conversations 100000] [--sample 10000] [--postgres]

Builds a fresh database (SQLite in a temporary folder, or a throw-away PostgreSQL
database on TEST_POSTGRES_URL's server with --postgres), then:

1. records `--sample` generated conversations (benchmarks/insights_traffic.py, about
   10 Rasa events each, over the last 30 days) through the consumer's own path
   (`Consumer.commit`, batches of 500 events) and prints its throughput;
2. copies those analytics rows onto earlier 30-day periods until the tables hold
   `--conversations` conversations (what recording about 10 times as many events
   would leave; copying is quicker than recording, which step 1 measures);
3. times the Insights figures for the last 7, 30 and 365 days (all channels, and
   one), the customers who need attention, the whole page as a signed-in
   supervisor gets it, and `python -m bot report`'s work: median of 3 runs each.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import io
import os
import secrets
import statistics
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy import Table, create_engine, func, insert, select, text
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.orm import Session

from benchmarks.insights_traffic import Contact, traffic
from bot import migrate
from bot.db import make_engine, make_session_factory
from bot.insights import tables
from bot.insights.consumer import Consumer
from bot.insights.events import Context
from bot.insights.schema import InsightConversation, InsightFlow, InsightTurn
from bot.models import AgentRole, Customer, Segment
from bot.seed import seed_demo_data
from bot.services import agents, attention, insights

PERIOD = dt.timedelta(days=30)
BATCH = 500
PASSWORD = "benchmark password"
SETTINGS_ENV = ("SECRET_KEY", "RASA_TOKEN", "ACTION_SERVER_TOKEN", "TWILIO_AUTH_TOKEN")


@contextlib.contextmanager
def database(postgres: bool, keep: Path | None = None) -> Iterator[str]:
    """A fresh, migrated database's URL (removed afterwards unless `keep`)."""
    if keep is not None:
        if keep.exists():
            raise SystemExit(f"{keep} exists already")
        url = f"sqlite:///{keep}"
        migrate.upgrade(url)
        yield url
        return
    if not postgres:
        with tempfile.TemporaryDirectory() as folder:
            url = f"sqlite:///{folder}/insights.db"
            migrate.upgrade(url)
            yield url
        return
    admin_url = os.environ.get(
        "TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"
    )
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    name = f"switchboard_bench_{uuid.uuid4().hex[:10]}"
    with admin.connect() as connection:
        connection.exec_driver_sql(f'CREATE DATABASE "{name}"')
    try:
        url = (
            make_url(admin_url).set(database=name).render_as_string(hide_password=False)
        )
        migrate.upgrade(url)
        yield url
    finally:
        with admin.connect() as connection:
            connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()


def customers(session: Session, count: int) -> list[Contact]:
    """The demo customers and `count` more (a tenth VIP, half with a phone)."""
    seed_demo_data(session)
    session.execute(
        insert(Customer),
        [
            {
                "name": f"Customer {n}",
                "email": f"customer{n}@example.com",
                "phone": f"+1202555{n:04d}" if n % 2 else None,
                "segment": Segment.VIP if n % 10 == 0 else Segment.STANDARD,
                "created_at": dt.datetime.now(dt.timezone.utc),
            }
            for n in range(count)
        ],
    )
    return [Contact(c.email, c.phone) for c in session.scalars(select(Customer))]


def record(engine: Engine, sample: int, start: dt.datetime, secret: str) -> float:
    """Record `sample` conversations through the consumer; return events per second."""
    factory = make_session_factory(engine)
    with factory.begin() as session:
        contacts = customers(session, min(20_000, max(100, sample // 5)))
    consumer = Consumer(factory, Context(secret, ZoneInfo("America/New_York")))
    batch: list[dict[str, object]] = []
    count, started = 0, time.perf_counter()
    for events in traffic(sample, start, PERIOD.days, contacts, secret):
        batch += events
        if len(batch) >= BATCH:
            consumer.commit(batch)
            count, batch = count + len(batch), []
    consumer.commit(batch)
    count += len(batch)
    elapsed = time.perf_counter() - started
    print(f"recorded {sample} conversations ({count} events) in {elapsed:.1f} s: "
          f"{count / elapsed:.0f} events/s")  # fmt: skip
    return count / elapsed


def _copy(
    engine: Engine, table: Table, shift: dt.timedelta, offsets: dict[str, int]
) -> None:
    """Insert `table`'s original rows again, their ids offset and times shifted back."""
    times = [c.name for c in table.columns if c.name in {
        "started_at", "last_event_at", "handed_off_at", "person_later_at", "updated_at",
        "at", "ended_at",
    }]  # fmt: skip
    with engine.begin() as connection:
        rows = connection.execute(
            select(table).where(table.c.id <= offsets["limit_" + table.name])
        ).mappings()
        chunk: list[dict[str, object]] = []
        for row in rows:
            copy = dict(row)
            for name, offset in offsets.items():
                if name in copy and copy[name] is not None:
                    copy[name] = int(copy[name]) + offset  # type: ignore[call-overload]
            for name in times:
                if copy[name] is not None:
                    copy[name] = copy[name] - shift  # type: ignore[operator]
            if "day" in copy:
                copy["day"] = copy["day"] - shift  # type: ignore[operator]
            chunk.append(copy)
            if len(chunk) == 5000:
                connection.execute(insert(table), chunk)
                chunk = []
        if chunk:
            connection.execute(insert(table), chunk)


def grow(engine: Engine, target: int) -> int:
    """Copy the recorded rows onto earlier periods until there are `target`."""
    conversations = InsightConversation.__table__
    turns, flows = InsightTurn.__table__, InsightFlow.__table__
    with engine.connect() as connection:
        tops = {
            t.name: int(connection.scalar(select(func.max(t.c.id))) or 0)
            for t in (conversations, turns, flows)
        }
    copies = max(0, -(-target // tops[conversations.name]) - 1)
    for n in range(1, copies + 1):
        shift = PERIOD * n
        limits = {f"limit_{name}": top for name, top in tops.items()}
        _copy(
            engine, conversations, shift, {"id": n * tops[conversations.name], **limits}
        )
        _copy(engine, turns, shift, {
            "id": n * tops[turns.name],
            "conversation_row_id": n * tops[conversations.name], **limits,
        })  # fmt: skip
        _copy(engine, flows, shift, {
            "id": n * tops[flows.name], "turn_id": n * tops[turns.name],
            "conversation_row_id": n * tops[conversations.name], **limits,
        })  # fmt: skip
    if engine.dialect.name == "postgresql":
        with engine.begin() as connection:
            for table in (conversations, turns, flows):
                connection.execute(text(
                    f"SELECT setval(pg_get_serial_sequence('{table.name}', 'id'), "
                    f"(SELECT max(id) FROM {table.name}))"
                ))  # fmt: skip
    with engine.connect() as connection:
        total = int(
            connection.scalar(select(func.count()).select_from(conversations)) or 0
        )
        if engine.dialect.name == "postgresql":
            connection.exec_driver_sql("ANALYZE")
    return total


def median_ms(run: Callable[[], object], times: int = 3) -> str:
    """Median wall-clock and CPU time of this process, in ms: "wall / cpu".

    On a busy machine the wall-clock time waits for a core; the CPU time does not
    (SQLite runs in this process; PostgreSQL's own work is not in it).
    """
    walls, cpus = [], []
    run()  # warm: statements compiled, connections open
    for _ in range(times):
        started, cpu = time.perf_counter(), time.process_time()
        run()
        walls.append((time.perf_counter() - started) * 1000)
        cpus.append((time.process_time() - cpu) * 1000)
    return f"{statistics.median(walls):5.0f} / {statistics.median(cpus):4.0f}"


def page_client(url: str) -> Callable[[str], None]:
    """GET a console page as a signed-in supervisor (raises unless it is a 200)."""
    for name in SETTINGS_ENV:
        os.environ.setdefault(name, secrets.token_urlsafe(16))
    from bot.web import create_app

    app = create_app({"DATABASE_URL": url, "TESTING": True})
    with make_session_factory(make_engine(url)).begin() as session:
        agents.create_agent(
            session,
            "Bench Supervisor",
            "bench@example.com",
            PASSWORD,
            AgentRole.SUPERVISOR,
        )
    client = app.test_client()
    client.get("/console/login")
    with client.session_transaction() as state:
        token = state["csrf_token"]
    signed_in = client.post(
        "/console/login",
        data={"email": "bench@example.com", "password": PASSWORD, "csrf_token": token},
    )
    assert signed_in.status_code == 303, signed_in.status_code

    def get(path: str) -> None:
        response = client.get(path)
        assert response.status_code == 200, (path, response.status_code)

    return get


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--conversations", type=int, default=100_000)
    parser.add_argument("--sample", type=int, default=10_000)
    parser.add_argument("--postgres", action="store_true")
    parser.add_argument(
        "--keep", type=Path, help="build a SQLite file there and keep it (to look into)"
    )
    args = parser.parse_args(argv)
    now = dt.datetime.now(dt.timezone.utc)
    today = now.astimezone(ZoneInfo("America/New_York")).date()
    with database(args.postgres, args.keep) as url:
        engine = make_engine(url)
        print(f"database: {engine.dialect.name}")
        record(engine, args.sample, now - PERIOD, "benchmark-secret")
        started = time.perf_counter()
        total = grow(engine, args.conversations)
        with engine.connect() as connection:
            turns = connection.scalar(
                select(func.count()).select_from(InsightTurn.__table__)
            )
        factory = make_session_factory(engine)
        with factory.begin() as session:  # as the consumer does once a minute
            settled = insights.settle_outcomes(session)
        print(f"copied up to {total} conversations ({turns} customer messages) in "
              f"{time.perf_counter() - started:.0f} s; {settled} outcomes settled")  # fmt: skip
        get = page_client(url)
        print("\nms, median of 3 runs (wall / CPU of this process):")
        for days in (7, 30, 365):
            for channel in (None, "sms"):
                filters = insights.Filters.last_days(days, today, channel)

                def figures(filters: insights.Filters = filters) -> None:
                    with factory() as session:
                        insights.report(session, filters, now)

                def report(filters: insights.Filters = filters) -> None:
                    with factory() as session:
                        built = insights.report(session, filters, now)
                        flags = attention.red_flags(session, now)
                    every = tables.every_table(built, flags)
                    print(
                        "\n".join(tables.as_text(t) for t in every), file=io.StringIO()
                    )

                query = f"from={filters.start}&to={filters.end}&channel={channel or ''}"

                def page(query: str = query) -> None:
                    get(f"/console/insights?{query}")

                label = f"{days:>3} days, {channel or 'all channels':<12}"
                print(f"  {label} figures {median_ms(figures)}   "
                      f"report {median_ms(report)}   page {median_ms(page)}")  # fmt: skip

        def flags() -> None:
            with factory() as session:
                attention.red_flags(session, now)

        print(f"  customers who need attention  {median_ms(flags)}")
        engine.dispose()


if __name__ == "__main__":
    main()
