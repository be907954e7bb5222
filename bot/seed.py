"""Demo data: customers and orders in every status, and two demo console agents.

See the README's tour for what the demo customers and orders show.
"""

from __future__ import annotations

import datetime as dt
import os
import secrets
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bot import clock
from bot.models import (
    Agent,
    AgentRole,
    Customer,
    Order,
    OrderItem,
    OrderStatus,
    Segment,
)
from bot.services.agents import check_password_rules, hash_password
from bot.services.customers import NewCustomer, upsert_customer
from bot.settings import Settings

DEMO_CUSTOMERS = (
    NewCustomer("Jane Doe", "jane.doe@example.com", "+14155550134"),
    NewCustomer("Sam Lee", "sam.lee@example.com", "+14155550178", Segment.VIP),
    NewCustomer("Maria Lopez", "maria.lopez@example.com", "+12125550147"),
    NewCustomer("Tom O'Brien", "tom.obrien@example.com", None),
    NewCustomer("Priya Natarajan", "priya.n@example.com", "+16175550190", Segment.VIP),
    NewCustomer("Alex Kim", "alex.kim@example.com", "+13125550111"),
)


@dataclass(frozen=True)
class DemoOrder:
    number: str
    email: str
    status: OrderStatus
    carrier: str | None
    tracking: str | None
    eta_days: int | None
    placed_days_ago: int
    items: tuple[tuple[str, str, int, int], ...]


DEMO_ORDERS = (
    DemoOrder("104257", "jane.doe@example.com", OrderStatus.SHIPPED, "UPS",
              "1Z999AA10123456784", 2, 3,
              (("LMP-201", "Brass desk lamp", 1, 4900),)),
    DemoOrder("100318", "jane.doe@example.com", OrderStatus.DELIVERED, "USPS",
              "9400111899223856912345", -4, 12,
              (("TSH-010", "Organic cotton T-shirt, M", 2, 1900),)),
    DemoOrder("108842", "sam.lee@example.com", OrderStatus.OUT_FOR_DELIVERY, "FedEx",
              "612999AA10123456", 0, 4,
              (("HDP-900", "Noise-cancelling headphones", 1, 19900),)),
    DemoOrder("112233", "sam.lee@example.com", OrderStatus.PLACED, None, None, 6, 0,
              (("KTL-300", "Electric kettle", 1, 3900),
               ("MUG-002", "Stoneware mug", 4, 900))),
    DemoOrder("105590", "maria.lopez@example.com", OrderStatus.PROCESSING, None, None,
              5, 1, (("CHR-550", "Ergonomic office chair", 1, 24900),)),
    DemoOrder("109901", "maria.lopez@example.com", OrderStatus.CANCELLED, None, None,
              None, 20, (("RUG-120", "Wool rug 120x170", 1, 12900),)),
    DemoOrder("113377", "tom.obrien@example.com", OrderStatus.RETURNED, "UPS",
              "1Z999AA10123459999", None, 30,
              (("JKT-440", "Rain jacket, L", 1, 8900),)),
    DemoOrder("114455", "tom.obrien@example.com", OrderStatus.PLACED, None, None, 7, 0,
              (("SPK-120", "Bluetooth speaker", 1, 5900),)),
    DemoOrder("116001", "priya.n@example.com", OrderStatus.SHIPPED, "USPS",
              "9400111899223856900001", 3, 2,
              (("BLN-700", "Blender", 1, 7900),)),
    DemoOrder("117002", "alex.kim@example.com", OrderStatus.DELIVERED, "FedEx",
              "612999AA10999999", -1, 6,
              (("MON-270", "27-inch monitor", 1, 27900),)),
)  # fmt: skip


def is_empty(session: Session) -> bool:
    """True when the database holds no customers yet."""
    return session.scalar(select(func.count()).select_from(Customer)) == 0


def seed_demo_data(session: Session, today: dt.date | None = None) -> int:
    """Insert (or refresh) the demo customers and orders; returns orders written."""
    today = today or clock.today(Settings.from_env().timezone)
    now = clock.now()
    customers = {c.email: upsert_customer(session, c) for c in DEMO_CUSTOMERS}
    for customer in customers.values():
        customer.demo = True
    for demo in DEMO_ORDERS:
        order = session.scalars(
            select(Order).where(Order.number == demo.number)
        ).first()
        if order is None:
            order = Order(number=demo.number)
            session.add(order)
        order.customer = customers[demo.email]
        order.status = demo.status
        order.carrier = demo.carrier
        order.tracking_number = demo.tracking
        order.estimated_delivery = (
            today + dt.timedelta(days=demo.eta_days)
            if demo.eta_days is not None
            else None
        )
        order.placed_at = now - dt.timedelta(days=demo.placed_days_ago)
        order.items = [
            OrderItem(sku=sku, description=desc, quantity=qty, unit_price_cents=price)
            for sku, desc, qty, price in demo.items
        ]
    session.flush()
    return len(DEMO_ORDERS)


# The console's demo team. `.test` is reserved for examples (RFC 2606): these
# addresses can never reach anyone.
DEMO_AGENTS = (
    ("Ada Agent", "ada@switchboard.test", AgentRole.AGENT),
    ("Sam Supervisor", "sam@switchboard.test", AgentRole.SUPERVISOR),
)
DEMO_AGENTS_FILE = "demo-agents.txt"
PASSWORD_KEY = "password="


def _read_password(path: Path) -> str | None:
    for line in path.read_text().splitlines():
        if line.startswith(PASSWORD_KEY) and line[len(PASSWORD_KEY) :].strip():
            return line[len(PASSWORD_KEY) :].strip()
    return None


def demo_agents_password(var_dir: Path) -> tuple[str, Path]:
    """This installation's demo agent password and the file (mode 600) that has it.

    Generated once: no password is in the repository, and every install has its own.
    """
    path = var_dir / DEMO_AGENTS_FILE
    if path.exists():
        password = _read_password(path)
        if password is not None:
            return password, path
        path.unlink()  # unreadable: start over
    var_dir.mkdir(parents=True, exist_ok=True)
    password = secrets.token_urlsafe(12)
    accounts = "".join(
        f"#   {name} <{email}> ({role.value})\n" for name, email, role in DEMO_AGENTS
    )
    content = (
        "# Demo agents of this Switchboard installation. Sign in to the agent console\n"
        "# (/console on the web app) with either address and this password, which\n"
        "# `python -m bot seed` generated for this installation. Keep this file\n"
        "# private; create real agents with `python -m bot agent create`.\n"
        f"{accounts}{PASSWORD_KEY}{password}\n"
    )
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another seed won the race: use its password
        found = _read_password(path)
        if found is None:
            raise
        return found, path
    with os.fdopen(fd, "w") as handle:
        handle.write(content)
    return password, path


def seed_demo_agents(session: Session, var_dir: Path) -> Path | None:
    """Create the demo agents when there are no agents at all.

    Returns the file with their password, or None when agents already existed.
    """
    if session.scalar(select(func.count()).select_from(Agent)):
        return None
    password, path = demo_agents_password(var_dir)
    check_password_rules(password)
    for name, email, role in DEMO_AGENTS:
        # Not create_agent: it refuses the reserved `.test` domain, as it should for
        # real people; sign-in only compares the address.
        session.add(
            Agent(
                name=name,
                email=email,
                password_hash=hash_password(password),
                role=role,
                active=True,
            )
        )
    session.flush()
    return path
