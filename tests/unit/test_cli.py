"""The `python -m bot` command line against a real SQLite file."""

import json
import re
from pathlib import Path

import pytest
from sqlalchemy import select

from bot.cli import main
from bot.db import make_engine, make_session_factory
from bot.insights.events import record_events
from bot.mailer import MailOutbox
from bot.models import Customer, Order, OrderStatus, Segment
from tests.unit.insights_events import CONTEXT, Script


@pytest.fixture
def database(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    monkeypatch.setenv("DATABASE_URL", url)
    monkeypatch.setenv("SWITCHBOARD_VAR_DIR", str(tmp_path))
    assert main(["db", "upgrade"]) == 0
    return url


def customers(url: str) -> dict[str, Customer]:
    with make_session_factory(make_engine(url))() as session:
        return {c.email: c for c in session.scalars(select(Customer))}


def orders(url: str) -> dict[str, Order]:
    with make_session_factory(make_engine(url))() as session:
        return {o.number: o for o in session.scalars(select(Order))}


def test_seed_only_into_an_empty_database(
    database: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["seed", "--if-empty"]) == 0
    assert main(["seed", "--if-empty"]) == 0
    assert "not loaded" in capsys.readouterr().out
    assert len(customers(database)) == 6 and len(orders(database)) == 10


def test_add_and_update_customer_and_order(database: str) -> None:
    assert main(["customer", "--name", "Ada", "--email", "Ada@Example.com",
                 "--phone", "415 555 0199"]) == 0  # fmt: skip
    assert main(["customer", "--name", "Ada Lovelace", "--email", "ada@example.com",
                 "--segment", "vip"]) == 0  # fmt: skip
    ada = customers(database)["ada@example.com"]
    assert (ada.name, ada.phone, ada.segment) == (
        "Ada Lovelace",
        "+14155550199",
        Segment.VIP,
    )

    assert main(["order", "--number", "120001", "--customer-email", "ada@example.com",
                 "--estimated-delivery", "2026-12-01",
                 "--item", "LMP-201:Brass desk lamp:1:4900"]) == 0  # fmt: skip
    assert main(["order", "--number", "120001", "--status", "shipped",
                 "--carrier", "UPS", "--tracking-number", "1Z1"]) == 0  # fmt: skip
    order = orders(database)["120001"]
    assert (order.status, order.carrier, order.tracking_number) == (
        OrderStatus.SHIPPED,
        "UPS",
        "1Z1",
    )


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["customer", "--name", "X", "--email", "nope"], "email address is not valid"),
        (["order", "--number", "1"], "needs --customer-email"),
        (["order", "--number", "1", "--customer-email", "who@example.com"],
         "no customer with email"),
        (["order", "--number", "1", "--customer-email", "x@example.com",
          "--estimated-delivery", "tomorrow"], "dates are YYYY-MM-DD"),
        (["import", "orders", "/no/such.csv"], "no such file"),
    ],
)  # fmt: skip
def test_bad_input_is_a_clear_error(
    database: str, capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    main(["customer", "--name", "X", "--email", "x@example.com"])
    assert main(argv) == 2
    assert message in capsys.readouterr().err


def test_csv_import_is_all_or_nothing(
    database: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    good = tmp_path / "customers.csv"
    good.write_text("name,email,phone,segment\nAda,ada@example.com,,vip\n"
                    "Bob,bob@example.com,+14155550199,standard\n")  # fmt: skip
    assert main(["import", "customers", str(good)]) == 0
    bad = tmp_path / "orders.csv"
    bad.write_text(
        "number,customer_email,status,carrier,tracking_number,estimated_delivery,items\n"
        "130001,ada@example.com,placed,,,,SKU1:Mug:2:900|SKU2:Plate:1:1500\n"
        "130002,ada@example.com,lost,,,,\n"
    )
    assert main(["import", "orders", str(bad)]) == 2
    assert f"{bad}:3: status must be one of" in capsys.readouterr().err
    assert orders(database) == {}  # the good first row was rolled back too
    bad.write_text(bad.read_text().replace(",lost,", ",shipped,"))
    assert main(["import", "orders", str(bad)]) == 0
    imported = orders(database)
    assert set(imported) == {"130001", "130002"}
    assert set(customers(database)) == {"ada@example.com", "bob@example.com"}


def test_outbox_prints_waiting_mail_once_marked_sent(
    database: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with make_session_factory(make_engine(database)).begin() as session:
        MailOutbox(session).send("ada@example.com", "Finish", "Open http://x/confirm/t")
    assert main(["outbox", "--mark-sent"]) == 0
    printed = capsys.readouterr().out
    assert "To: ada@example.com\nSubject: Finish\n\nOpen http://x/confirm/t" in printed
    assert main(["outbox"]) == 0
    assert capsys.readouterr().out == "No mail waiting.\n"


def test_report_prints_the_insights_figures(
    database: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["seed"]) == 0
    with make_session_factory(make_engine(database)).begin() as session:
        record_events(
            session,
            [
                *Script("cli-1").session().order_status().events,
                *Script("cli-2", channel="sms").session().ask_for_person().events,
            ],
            CONTEXT,
        )
    capsys.readouterr()
    assert main(["report", "--since", "7d"]) == 0
    text = capsys.readouterr().out
    assert text.startswith("Insights from 2026-11-14 to 2026-11-20\n")
    assert re.search(r"\nContained +1 +2 +50% +contained / conversations\n", text)
    assert "Asked for a person" in text and "check_order_status" in text
    assert main(["report", "--since", "2026-11-20", "--channel", "sms", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert (data["from"], data["to"], data["channel"]) == (
        "2026-11-20",
        "2026-11-20",
        "sms",
    )
    summary = {row["measure"]: row for row in data["tables"]["summary"]["rows"]}
    assert summary["Conversations"]["count"] == 1
    assert summary["Handed off"] == {
        "measure": "Handed off", "count": 1, "out of": 1, "rate": 1.0,
        "formula": "handed off / conversations",
    }  # fmt: skip
    assert data["tables"]["red_flags"]["rows"] == []


@pytest.mark.parametrize("since", ["0d", "tomorrow", "2026-12-01"])
def test_report_refuses_a_range_it_cannot_read(
    database: str, capsys: pytest.CaptureFixture[str], since: str
) -> None:
    assert main(["report", "--since", since]) == 2
    assert "--since" in capsys.readouterr().err


def test_services_is_one_table_with_the_demo_agents_password_file(
    database: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    for name, value in [("BIND_HOST", "127.0.0.1"), ("RASA_PORT", "15005"),
                        ("ACTION_PORT", "15055"), ("WEB_PORT", "18000")]:  # fmt: skip
        monkeypatch.setenv(name, value)
    assert main(["seed"]) == 0
    capsys.readouterr()

    assert main(["services"]) == 0

    assert capsys.readouterr().out.splitlines() == [
        "  Service        Address                         What",
        "  Rasa server    http://127.0.0.1:15005          REST channel: /webhooks/rest/webhook",
        "  Action server  http://127.0.0.1:15055          custom actions, for the Rasa server only",
        "  Web app        http://127.0.0.1:18000          demo shop with the chat widget",
        f"  Agent console  http://127.0.0.1:18000/console  demo agents' password: {tmp_path / 'demo-agents.txt'}",
        "  Worker         (no port)                       delivers agent replies, retries failed ones",
        "  Insights       (no port)                       records conversation events for /console/insights",
    ]  # fmt: skip
