"""Agent accounts: password hashing, sign-in and the `agent create` command."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from sqlalchemy.orm import Session

from bot.cli import main
from bot.db import make_engine, make_session_factory
from bot.models import AgentRole
from bot.services import agents
from bot.services.contact import InvalidContact

PASSWORD = "correct horse battery"


def test_create_agent_stores_only_a_salted_scrypt_hash(session: Session) -> None:
    ana = agents.create_agent(
        session, " Ana Agent ", "Ana@Example.com", PASSWORD, "supervisor"
    )
    ben = agents.create_agent(session, "Ben", "ben@example.com", PASSWORD)
    assert (ana.name, ana.email, ana.role, ana.active) == (
        "Ana Agent",
        "ana@example.com",
        AgentRole.SUPERVISOR,
        True,
    )
    assert ben.role == AgentRole.AGENT
    assert ana.password_hash.startswith("scrypt:")
    assert PASSWORD not in ana.password_hash
    assert ana.password_hash != ben.password_hash  # salted


@pytest.mark.parametrize(
    ("name", "email", "password", "role", "message"),
    [
        ("Ana", "ana@example.com", "short", "agent", "at least 10 characters"),
        ("Ana", "ana@example.com", "123456789", "agent", "at least 10 characters"),
        ("Ana", "ana@example.com", " " * 12, "agent", "only spaces"),
        ("Ana", "ana@example.com", "x" * 2000, "agent", "at most 1024"),
        ("", "ana@example.com", PASSWORD, "agent", "needs a name"),
        ("Ana", "ana@example.com", PASSWORD, "boss", "role must be one of"),
    ],
)
def test_bad_agent_details_are_clear_errors(
    session: Session, name: str, email: str, password: str, role: str, message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        agents.create_agent(session, name, email, password, role)


def test_bad_email_and_duplicate_email(session: Session) -> None:
    with pytest.raises(InvalidContact):
        agents.create_agent(session, "Ana", "not-an-email", PASSWORD)
    agents.create_agent(session, "Ana", "ana@example.com", PASSWORD)
    with pytest.raises(agents.AgentExists, match="already exists"):
        agents.create_agent(session, "Ana again", "ANA@example.com", PASSWORD)


def test_authenticate(session: Session) -> None:
    ana = agents.create_agent(session, "Ana", "ana@example.com", PASSWORD)
    assert agents.authenticate(session, "ana@example.com", PASSWORD) is ana
    assert agents.authenticate(session, " ANA@example.com ", PASSWORD) is ana
    assert agents.authenticate(session, "ana@example.com", PASSWORD + "!") is None
    assert agents.authenticate(session, "ana@example.com", "") is None
    assert agents.authenticate(session, "nobody@example.com", PASSWORD) is None
    assert agents.authenticate(session, "", PASSWORD) is None
    ana.active = False
    assert agents.authenticate(session, "ana@example.com", PASSWORD) is None
    ana.active = True
    agents.set_password(ana, "a new password here")
    assert agents.authenticate(session, "ana@example.com", PASSWORD) is None
    assert agents.authenticate(session, "ana@example.com", "a new password here")


def test_unknown_email_costs_one_hash_check_too(
    session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    agents.create_agent(session, "Ana", "ana@example.com", PASSWORD)
    checked: list[str] = []
    real = agents.check_password_hash

    def spy(pwhash: str, password: str) -> bool:
        checked.append(pwhash.split("$")[0])
        return real(pwhash, password)

    monkeypatch.setattr(agents, "check_password_hash", spy)
    agents.authenticate(session, "nobody@example.com", PASSWORD)
    agents.authenticate(session, "ana@example.com", "wrong password")
    # The same algorithm and cost parameters for both.
    assert len(checked) == 2 and checked[0] == checked[1]


# --- the command line ---------------------------------------------------------------


@pytest.fixture
def database(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    url = f"sqlite:///{tmp_path / 'agents.db'}"
    monkeypatch.setenv("DATABASE_URL", url)
    monkeypatch.setenv("SWITCHBOARD_VAR_DIR", str(tmp_path))
    assert main(["db", "upgrade"]) == 0
    return url


def run_with_stdin(monkeypatch: pytest.MonkeyPatch, text: str, argv: list[str]) -> int:
    monkeypatch.setattr("sys.stdin", io.StringIO(text))
    return main(argv)


def test_cli_creates_an_agent_with_the_password_from_stdin(
    database: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["agent", "create", "--name", "Ana Agent", "--email", "Ana@Example.com",
            "--role", "supervisor", "--password-stdin"]  # fmt: skip
    assert run_with_stdin(monkeypatch, PASSWORD + "\n", argv) == 0
    assert "Ana Agent <ana@example.com> (supervisor)" in capsys.readouterr().out
    with make_session_factory(make_engine(database))() as session:
        agent = agents.authenticate(session, "ana@example.com", PASSWORD)
        assert agent is not None and agent.role == AgentRole.SUPERVISOR


@pytest.mark.parametrize(
    ("stdin", "extra", "message"),
    [
        ("short\n", ["--password-stdin"], "at least 10 characters"),
        ("", ["--password-stdin"], "nothing on standard input"),
        (PASSWORD + "\n", [], "pipe it in with --password-stdin"),  # not a terminal
        (PASSWORD + "\n", ["--password-stdin", "--email", "nope"], "not valid"),
    ],
)
def test_cli_errors_exit_2(
    database: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    stdin: str,
    extra: list[str],
    message: str,
) -> None:
    argv = ["agent", "create", "--name", "Ana", "--email", "ana@example.com", *extra]
    assert run_with_stdin(monkeypatch, stdin, argv) == 2
    assert message in capsys.readouterr().err


def test_cli_refuses_duplicates_and_passwords_in_argv(
    database: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["agent", "create", "--name", "Ana", "--email", "ana@example.com",
            "--password-stdin"]  # fmt: skip
    assert run_with_stdin(monkeypatch, PASSWORD + "\n", argv) == 0
    assert run_with_stdin(monkeypatch, PASSWORD + "\n", argv) == 2
    assert "already exists" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exited:
        main(["agent", "create", "--name", "Bo", "--email", "bo@example.com",
              "--password", PASSWORD])  # fmt: skip
    assert exited.value.code == 2
