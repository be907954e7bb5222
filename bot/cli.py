"""The `bot` command line: database, demo data, customer and order loading, services."""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import json
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot import clock, launch, migrate
from bot.db import session_factory
from bot.insights import tables
from bot.mailer import MailOutbox
from bot.models import AgentRole, Customer, Order, OrderItem, OrderStatus, Segment
from bot.proactive.schema import ConsentSource, EventSource
from bot.quiet import quiet_warnings
from bot.seed import (
    DEMO_AGENTS,
    DEMO_AGENTS_FILE,
    is_empty,
    seed_demo_agents,
    seed_demo_data,
)
from bot.services import attention, consent, insights, shop_events
from bot.services.agents import AgentExists, create_agent
from bot.services.contact import InvalidContact
from bot.services.customers import (
    CustomerExists,
    NewCustomer,
    find_by_email,
    upsert_customer,
)
from bot.services.notifications import Rules
from bot.services.quiet_hours import is_zone
from bot.settings import Settings


class CommandError(Exception):
    """A user error: printed without a traceback, exit status 2."""


def _session_scope(settings: Settings) -> Callable[[], Session]:
    return session_factory(settings.database_url).begin  # type: ignore[return-value]


def cmd_db_upgrade(args: argparse.Namespace, settings: Settings) -> None:
    settings.var_dir.mkdir(parents=True, exist_ok=True)
    migrate.upgrade(settings.database_url)
    print(f"Database is up to date: {settings.database_url}")


def cmd_seed(args: argparse.Namespace, settings: Settings) -> None:
    with _session_scope(settings)() as session:
        if args.if_empty and not is_empty(session):
            # A database with data of its own never gets demo accounts (a demo
            # supervisor on a real installation would be a way in).
            print("Database already has customers; demo data not loaded.")
            return
        count = seed_demo_data(session)
        print(f"Demo data loaded: 6 customers, {count} orders.")
        agents_file = seed_demo_agents(session, settings.var_dir)
    if agents_file is None:
        print("Agents exist already; demo agents not added.")
    else:
        names = ", ".join(email for _, email, _ in DEMO_AGENTS)
        print(f"Demo agents added ({names}); their password is in {agents_file}.")


def _customer(args: argparse.Namespace, settings: Settings) -> NewCustomer:
    return NewCustomer(
        name=args.name,
        email=args.email,
        phone=args.phone,
        segment=Segment(args.segment),
    )


def _timezone(raw: str | None) -> str | None:
    if raw and not is_zone(raw):
        raise CommandError(f"unknown time zone {raw!r} (e.g. America/New_York)")
    return raw or None


def cmd_customer(args: argparse.Namespace, settings: Settings) -> None:
    with _session_scope(settings)() as session:
        customer = upsert_customer(
            session, _customer(args, settings), settings.default_phone_region
        )
        if args.timezone:
            customer.timezone = _timezone(args.timezone)
        try:
            _consent(session, customer, args.consent, ConsentSource.CLI)
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
        print(f"Customer {customer.id}: {customer.name} <{customer.email}>")


def _parse_date(raw: str | None) -> dt.date | None:
    if not raw:
        return None
    try:
        return dt.date.fromisoformat(raw)
    except ValueError as exc:
        raise CommandError(f"dates are YYYY-MM-DD, got {raw!r}") from exc


def _parse_item(raw: str) -> OrderItem:
    parts = raw.split(":")
    if len(parts) != 4:
        raise CommandError(
            f"items are SKU:description:quantity:price_cents, got {raw!r}"
        )
    sku, description, quantity, price = parts
    try:
        return OrderItem(
            sku=sku, description=description, quantity=int(quantity),
            unit_price_cents=int(price),
        )  # fmt: skip
    except ValueError as exc:
        raise CommandError(f"quantity and price must be integers in {raw!r}") from exc


def save_order(
    session: Session,
    fields: dict[str, str | None],
    items: Sequence[str],
    events: tuple[Rules, EventSource] | None = None,
) -> Order:
    """Create or update an order from flat text fields (CLI and CSV import).

    With `events`, a change customers hear about (a new status, a later delivery
    date) becomes the same event the shop's webhook would send.
    """
    number = (fields.get("number") or "").strip()
    if not number:
        raise CommandError("an order needs a number")
    email = fields.get("customer_email")
    customer = find_by_email(session, email) if email else None
    if email and customer is None:
        raise CommandError(f"no customer with email {email}; add the customer first")
    order = session.scalars(select(Order).where(Order.number == number)).first()
    if order is None:
        if customer is None:
            raise CommandError(f"new order {number} needs --customer-email")
        order = Order(number=number, customer=customer)
        session.add(order)
    elif customer is not None:
        order.customer = customer
    before = (order.status, order.estimated_delivery) if order.id else (None, None)
    if fields.get("status"):
        try:
            order.status = OrderStatus(fields["status"])
        except ValueError as exc:
            allowed = ", ".join(s.value for s in OrderStatus)
            raise CommandError(f"status must be one of: {allowed}") from exc
    for key in ("carrier", "tracking_number"):
        if fields.get(key):
            setattr(order, key, fields[key])
    if fields.get("estimated_delivery"):
        order.estimated_delivery = _parse_date(fields["estimated_delivery"])
    if items:
        order.items = [_parse_item(item) for item in items]
    session.flush()
    if events is not None:
        shop_events.order_changed(session, order, before, events[1], events[0])
    return order


def _rules(settings: Settings) -> Rules:
    try:
        return Rules.from_settings(settings)
    except ValueError as exc:  # TemplateError is one
        raise CommandError(str(exc)) from exc


def _consent(
    session: Session, customer: Customer, raw: str | None, source: ConsentSource
) -> None:
    if raw:
        consent.grant_all(session, customer, consent.parse_channels(raw), source)


def cmd_order(args: argparse.Namespace, settings: Settings) -> None:
    fields = {
        "number": args.number,
        "customer_email": args.customer_email,
        "status": args.status,
        "carrier": args.carrier,
        "tracking_number": args.tracking_number,
        "estimated_delivery": args.estimated_delivery,
    }
    events = (_rules(settings), EventSource.CLI)
    with _session_scope(settings)() as session:
        order = save_order(session, fields, args.item or [], events)
        print(f"Order {order.number}: {order.status.value}")


def cmd_import(args: argparse.Namespace, settings: Settings) -> None:
    path = Path(args.file)
    if not path.exists():
        raise CommandError(f"no such file: {path}")
    events = (_rules(settings), EventSource.IMPORT)
    with path.open(newline="") as handle, _session_scope(settings)() as session:
        rows = list(csv.DictReader(handle))
        for line, row in enumerate(rows, start=2):
            try:
                if args.kind == "customers":
                    customer = upsert_customer(
                        session,
                        NewCustomer(
                            name=row.get("name") or "",
                            email=row.get("email") or "",
                            phone=row.get("phone") or None,
                            segment=Segment(row.get("segment") or "standard"),
                        ),
                        settings.default_phone_region,
                    )
                    customer.timezone = (
                        _timezone(row.get("timezone")) or customer.timezone
                    )
                    _consent(
                        session, customer, row.get("consent"), ConsentSource.IMPORT
                    )
                else:
                    items = [i for i in (row.get("items") or "").split("|") if i]
                    save_order(session, dict(row), items, events)
            except (CommandError, InvalidContact, CustomerExists, ValueError) as exc:
                raise CommandError(f"{path}:{line}: {exc}") from exc
    print(f"Imported {len(rows)} {args.kind} from {path}.")


def _read_password(args: argparse.Namespace) -> str:
    """The new password: from stdin with --password-stdin, else asked for twice.

    Never from the command line, where other users could see it in `ps` and it
    would end up in the shell history.
    """
    if args.password_stdin:
        line = sys.stdin.readline()
        if not line:
            raise CommandError("--password-stdin: nothing on standard input")
        return line.rstrip("\r\n")
    if not sys.stdin.isatty():
        raise CommandError(
            "no terminal to ask for the password; pipe it in with --password-stdin"
        )
    import getpass

    first = getpass.getpass("Password for the new agent: ")
    if getpass.getpass("Repeat the password: ") != first:
        raise CommandError("the two passwords differ")
    return first


def cmd_agent_create(args: argparse.Namespace, settings: Settings) -> None:
    password = _read_password(args)
    with _session_scope(settings)() as session:
        try:
            agent = create_agent(
                session, args.name, args.email, password, AgentRole(args.role)
            )
        except (AgentExists, ValueError) as exc:  # InvalidContact is a ValueError
            raise CommandError(str(exc)) from exc
        print(f"Agent {agent.id}: {agent.name} <{agent.email}> ({agent.role.value})")


def cmd_text(args: argparse.Namespace, settings: Settings) -> None:
    """Send a signed Twilio SMS webhook to the local server, as Twilio would."""
    import uuid

    import requests
    from twilio.request_validator import RequestValidator

    url = f"{settings.public_base_url}/webhooks/sms/webhook"
    sid = "SM" + uuid.uuid4().hex
    params = {
        "MessageSid": sid, "SmsSid": sid, "AccountSid": settings.twilio_account_sid,
        "From": args.sender, "To": settings.twilio_phone_number, "Body": args.message,
        "NumMedia": "0", "NumSegments": "1", "ApiVersion": "2010-04-01",
    }  # fmt: skip
    signature = RequestValidator(settings.twilio_auth_token).compute_signature(
        url, params
    )
    try:
        response = requests.post(
            url, data=params, headers={"X-Twilio-Signature": signature}, timeout=30
        )
    except requests.RequestException as exc:
        raise CommandError(f"could not reach {url}: is `make run` going?") from exc
    print(response.text)


def cmd_outbox(args: argparse.Namespace, settings: Settings) -> None:
    with _session_scope(settings)() as session:
        outbox = MailOutbox(session)
        mails = outbox.pending()
        for mail in mails:
            print(f"To: {mail.to_address}\nSubject: {mail.subject}\n\n{mail.body}")
            if args.mark_sent:
                outbox.mark_sent(mail)
        if not mails:
            print("No mail waiting.")


def _since(raw: str, today: dt.date) -> dt.date:
    """The first day of `--since`: "7d" (the last 7 days) or a date."""
    text = raw.strip().lower()
    if text.endswith("d") and text[:-1].isdigit() and int(text[:-1]) >= 1:
        return today - dt.timedelta(days=int(text[:-1]) - 1)
    try:
        parsed = dt.date.fromisoformat(text)
    except ValueError:
        parsed = None
    if parsed is None or parsed > today:
        raise CommandError(
            f"--since is a number of days (7d) or a date not after today, got {raw!r}"
        )
    return parsed


def cmd_report(args: argparse.Namespace, settings: Settings) -> None:
    """The Insights figures in the terminal (the console's Insights page, as text)."""
    today = clock.today(settings.timezone)
    try:
        filters = insights.Filters(_since(args.since, today), today, args.channel)
    except ValueError as exc:
        raise CommandError(str(exc)) from exc
    now = clock.now()
    with session_factory(settings.database_url)() as session:
        report = insights.report(session, filters, now)
        flags = attention.red_flags(session, now)
    every = tables.every_table(report, flags)
    if args.json:
        print(json.dumps(tables.as_json(report, every), indent=2, default=str))
        return
    where = f" on {filters.channel}" if filters.channel else ""
    print(f"Insights from {filters.start} to {filters.end}{where}\n")
    print("\n\n".join(tables.as_text(table) for table in every))


def cmd_train(args: argparse.Namespace, settings: Settings) -> None:
    launch.train(force=args.force)


def cmd_services(args: argparse.Namespace, settings: Settings) -> None:
    demo_agents = settings.var_dir / DEMO_AGENTS_FILE
    print(
        launch.services_table(settings, demo_agents if demo_agents.exists() else None)
    )


def cmd_run(args: argparse.Namespace, settings: Settings) -> None:
    if args.service == "shell":
        launch.run_shell(settings)
        return
    if args.service == "insights":
        if args.port is not None:
            raise CommandError("the insights consumer listens on no port: no --port")
        launch.run_insights(settings)
        return
    runners = {
        "rasa": launch.run_rasa,
        "actions": launch.run_actions,
        "web": launch.run_web,
        "worker": launch.run_worker,
    }
    runners[args.service](settings, args.port)


def cmd_production(args: argparse.Namespace, settings: Settings) -> None:
    from bot import production  # only `make run-production` needs it

    if args.step == "start":
        production.start(settings)
        return
    problems = production.prepare(settings)
    if problems:
        raise CommandError(
            "production mode needs its shared services:\n  " + "\n  ".join(problems)
        )
    print("PostgreSQL, Redis and RabbitMQ answer.")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m bot", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    db = sub.add_parser("db", help="database schema").add_subparsers(
        dest="db", required=True
    )
    db.add_parser("upgrade", help="create or migrate the database").set_defaults(
        func=cmd_db_upgrade
    )

    seed = sub.add_parser("seed", help="load the demo customers and orders")
    seed.add_argument(
        "--if-empty", action="store_true", help="only into an empty database"
    )
    seed.set_defaults(func=cmd_seed)

    customer = sub.add_parser("customer", help="add or update a customer (by email)")
    customer.add_argument("--name", required=True)
    customer.add_argument("--email", required=True)
    customer.add_argument("--phone")
    customer.add_argument(
        "--segment", choices=[s.value for s in Segment], default="standard"
    )
    customer.add_argument(
        "--consent",
        help="channels the customer agreed to updates on: sms, web or sms,web "
        "(recorded with the source cli)",
    )
    customer.add_argument(
        "--timezone", help="IANA time zone for quiet hours (default: the shop's)"
    )
    customer.set_defaults(func=cmd_customer)

    order = sub.add_parser("order", help="add or update an order (by number)")
    order.add_argument("--number", required=True)
    order.add_argument("--customer-email")
    order.add_argument("--status", choices=[s.value for s in OrderStatus])
    order.add_argument("--carrier")
    order.add_argument("--tracking-number")
    order.add_argument("--estimated-delivery", help="YYYY-MM-DD")
    order.add_argument(
        "--item",
        action="append",
        help="SKU:description:quantity:price_cents (repeatable)",
    )
    order.set_defaults(func=cmd_order)

    importer = sub.add_parser("import", help="load customers or orders from a CSV file")
    importer.add_argument("kind", choices=["customers", "orders"])
    importer.add_argument("file")
    importer.set_defaults(func=cmd_import)

    agent = sub.add_parser("agent", help="support agents who work the ticket queue")
    agent_sub = agent.add_subparsers(dest="agent", required=True)
    agent_create = agent_sub.add_parser(
        "create",
        help="create an agent account (the password is asked for, or read from "
        "standard input with --password-stdin; never given as an argument)",
    )
    agent_create.add_argument("--name", required=True)
    agent_create.add_argument("--email", required=True)
    agent_create.add_argument(
        "--role", choices=[r.value for r in AgentRole], default=AgentRole.AGENT.value
    )
    agent_create.add_argument(
        "--password-stdin",
        action="store_true",
        help="read the password from the first line of standard input",
    )
    agent_create.set_defaults(func=cmd_agent_create)

    text = sub.add_parser(
        "text", help="send a signed SMS webhook to the running server (development)"
    )
    text.add_argument("sender", help="the customer's phone, e.g. +14155550134")
    text.add_argument("message")
    text.set_defaults(func=cmd_text)

    outbox = sub.add_parser(
        "outbox", help="print mail waiting for a mail relay (registration links)"
    )
    outbox.add_argument(
        "--mark-sent", action="store_true", help="and mark what is printed as sent"
    )
    outbox.set_defaults(func=cmd_outbox)

    report = sub.add_parser(
        "report", help="the Insights figures: containment, handoffs, fallbacks..."
    )
    report.add_argument(
        "--since", default="7d", help="7d (the last 7 days, today included) or a date"
    )
    report.add_argument("--channel", choices=insights.CHANNELS)
    report.add_argument("--json", action="store_true", help="as JSON")
    report.set_defaults(func=cmd_report)

    train = sub.add_parser("train", help="train the Rasa model if its inputs changed")
    train.add_argument("--force", action="store_true")
    train.set_defaults(func=cmd_train)

    services = sub.add_parser(
        "services", help="the services `make run` starts, and their addresses"
    )
    services.set_defaults(func=cmd_services)

    run = sub.add_parser("run", help="start one service (used by the Procfile)")
    run.add_argument(
        "service", choices=["rasa", "actions", "web", "worker", "insights", "shell"]
    )
    run.add_argument(
        "--port",
        type=int,
        help="listen here instead of the service's own port (an instance behind the "
        "load balancer; the worker's health endpoint)",
    )
    run.set_defaults(func=cmd_run)

    production = sub.add_parser(
        "production",
        help="production mode (make run-production): `prepare` checks PostgreSQL, "
        "Redis and RabbitMQ and creates the database; `start` runs every instance "
        "behind HAProxy",
    )
    production.add_argument("step", choices=["prepare", "start"])
    production.set_defaults(func=cmd_production)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    quiet_warnings()  # before `run` loads Rasa or rasa-sdk
    args = build_parser().parse_args(argv)
    settings = Settings.from_env()
    # Before anything is written: var/ holds customer data and secrets, and the
    # processes `run` starts (Rasa, gunicorn) inherit the umask.
    launch.keep_files_private(settings)
    try:
        args.func(args, settings)
    except (CommandError, InvalidContact, CustomerExists) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0
