"""The web app's server (bot/web/server.py): SIGTERM drains instead of cutting."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import textwrap
import threading
import time
import warnings
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import requests
from waitress.adjustments import Adjustments

from bot.web.server import CLIENT_DISCONNECTED, OPTIONS, draining_environ

# A server whose app answers after `release` exists: a request under way when the
# SIGTERM comes. `started` tells the test the request is in the app.
SERVER = """
    import pathlib, sys, time
    from bot.web.server import GracefulServer

    folder = pathlib.Path(sys.argv[2])

    def app(environ, start_response):
        (folder / "started").touch()
        while not (folder / "release").exists():
            time.sleep(0.05)
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"served to the end"]

    GracefulServer(app, "127.0.0.1", int(sys.argv[1])).serve()
"""


def wait_for(path: Path) -> None:
    for _ in range(600):
        if path.exists():
            return
        time.sleep(0.05)
    raise AssertionError(f"no {path.name}")


def listening(port: int, until: bool = True) -> bool:
    """Whether the port takes connections, once it does (or, `until=False`, not)."""
    for _ in range(600):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            found = True
        except OSError:
            found = False
        if found == until:
            return found
        time.sleep(0.05)
    return not until


def test_sigterm_serves_the_request_under_way_and_refuses_new_ones(
    closed_port: int, tmp_path: Path
) -> None:
    url = f"http://127.0.0.1:{closed_port}/"
    server = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(SERVER), str(closed_port), tmp_path]
    )
    try:
        assert listening(closed_port)
        with ThreadPoolExecutor(1) as pool:
            under_way = pool.submit(requests.get, url, timeout=30)
            wait_for(tmp_path / "started")
            server.send_signal(signal.SIGTERM)
            # The listening socket closes; the request runs on.
            assert not listening(closed_port, until=False)
            assert server.poll() is None  # still serving the request under way
            (tmp_path / "release").touch()
            answer = under_way.result(timeout=30)
        assert (answer.status_code, answer.text) == (200, "served to the end")
        assert server.wait(timeout=30) == 0
    finally:
        server.kill()
        server.wait()


def test_a_connection_made_before_sigterm_has_its_request_served(
    closed_port: int, tmp_path: Path
) -> None:
    """HAProxy connects, then sends its request: the drain must not cut in between."""
    (tmp_path / "release").touch()  # the app answers at once
    server = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(SERVER), str(closed_port), tmp_path]
    )
    try:
        assert listening(closed_port)
        with socket.create_connection(("127.0.0.1", closed_port), timeout=10) as conn:
            server.send_signal(signal.SIGTERM)
            assert not listening(closed_port, until=False)  # draining now
            conn.sendall(b"GET / HTTP/1.1\r\nHost: shop\r\nConnection: close\r\n\r\n")
            answer = b""
            while chunk := conn.recv(4096):
                answer += chunk
        assert answer.startswith(b"HTTP/1.1 200 OK"), answer
        assert answer.endswith(b"served to the end")
        assert server.wait(timeout=30) == 0
    finally:
        server.kill()
        server.wait()


def test_requests_see_the_client_gone_once_the_server_drains() -> None:
    draining = threading.Event()
    seen: list[Any] = []

    def app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        seen.append(environ[CLIENT_DISCONNECTED])
        return []

    wrapped = draining_environ(app, draining)
    wrapped({CLIENT_DISCONNECTED: lambda: False}, None)
    wrapped({}, None)
    wrapped({CLIENT_DISCONNECTED: lambda: True}, None)
    assert [gone() for gone in seen] == [False, False, True]
    draining.set()
    assert [gone() for gone in seen] == [True, True, True]


def test_each_chat_event_is_sent_at_once_without_the_deprecated_option() -> None:
    """By default waitress sends once a byte is buffered; passing the option warns."""
    assert "send_bytes" not in OPTIONS
    with warnings.catch_warnings():
        warnings.simplefilter("error", DeprecationWarning)
        assert Adjustments(**OPTIONS).send_bytes == 1
