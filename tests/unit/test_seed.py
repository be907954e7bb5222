"""Demo agents: created once, with a password generated per installation."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.cli import main
from bot.db import make_engine, make_session_factory
from bot.models import Agent, AgentRole
from bot.seed import DEMO_AGENTS_FILE, demo_agents_password, seed_demo_agents
from bot.services.agents import authenticate


def test_demo_agents_are_created_once_with_a_private_password(
    session: Session, tmp_path: Path
) -> None:
    path = seed_demo_agents(session, tmp_path)
    assert path == tmp_path / DEMO_AGENTS_FILE
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    password, _ = demo_agents_password(tmp_path)  # read back, not made anew
    assert len(password) >= 16 and f"password={password}" in path.read_text()
    ada = authenticate(session, "ada@switchboard.test", password)
    sam = authenticate(session, "Sam@Switchboard.test", password)
    assert ada is not None and (ada.name, ada.role) == ("Ada Agent", AgentRole.AGENT)
    assert sam is not None and sam.role == AgentRole.SUPERVISOR
    assert authenticate(session, "ada@switchboard.test", "wrong password") is None
    # Agents exist now: nothing is added or changed.
    assert seed_demo_agents(session, tmp_path) is None
    assert len(session.scalars(select(Agent)).all()) == 2


def test_every_installation_gets_its_own_password(tmp_path: Path) -> None:
    first, _ = demo_agents_password(tmp_path / "one")
    second, _ = demo_agents_password(tmp_path / "two")
    assert first != second
    assert demo_agents_password(tmp_path / "one")[0] == first


def test_an_unreadable_password_file_is_replaced(tmp_path: Path) -> None:
    (tmp_path / DEMO_AGENTS_FILE).write_text("garbage\n")
    password, path = demo_agents_password(tmp_path)
    assert password and f"password={password}" in path.read_text()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_python_m_bot_seed_says_where_the_password_is(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"sqlite:///{tmp_path / 'seed.db'}"
    monkeypatch.setenv("DATABASE_URL", url)
    monkeypatch.setenv("SWITCHBOARD_VAR_DIR", str(tmp_path))
    assert main(["db", "upgrade"]) == 0
    assert main(["seed", "--if-empty"]) == 0
    out = capsys.readouterr().out
    assert f"their password is in {tmp_path / DEMO_AGENTS_FILE}" in out
    assert main(["seed", "--if-empty"]) == 0
    assert "demo data not loaded" in capsys.readouterr().out
    engine = make_engine(url)
    try:
        with make_session_factory(engine)() as session:
            emails = sorted(session.scalars(select(Agent.email)))
    finally:
        engine.dispose()
    assert emails == ["ada@switchboard.test", "sam@switchboard.test"]


def test_a_database_with_its_own_data_never_gets_demo_agents(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = f"sqlite:///{tmp_path / 'real.db'}"
    monkeypatch.setenv("DATABASE_URL", url)
    monkeypatch.setenv("SWITCHBOARD_VAR_DIR", str(tmp_path))
    assert main(["db", "upgrade"]) == 0
    assert (
        main(["customer", "--name", "Real Customer", "--email", "real@example.com"])
        == 0
    )
    assert main(["seed", "--if-empty"]) == 0
    engine = make_engine(url)
    try:
        with make_session_factory(engine)() as session:
            assert list(session.scalars(select(Agent.email))) == []
    finally:
        engine.dispose()
    assert not (tmp_path / DEMO_AGENTS_FILE).exists()
