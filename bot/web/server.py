"""The web app under waitress, stopped gracefully: SIGTERM drains, nothing is cut.

waitress-serve dies at SIGTERM with its requests half-served: a web chat message
stored but never answered, a reply the agent never saw confirmed, and behind
HAProxy an empty response it cannot send elsewhere. Here SIGTERM (or SIGINT):

1. accepts the connections already waiting, then closes the listening socket, so
   the load balancer's next connection is refused and goes to another instance;
2. serves every request already received, to the end, and closes each connection
   once it has been idle for IDLE_SECONDS (a connection just accepted has not sent
   its request yet: closing it at once would hand the load balancer an empty
   answer it cannot send elsewhere); chat streams are told to end (`draining_environ`), and the
   browser reconnects to another instance;
3. exits when no connection is left, or after DRAIN_SECONDS in any case.

waitress reads each request whole (headers and body) in its event loop before a
thread runs the app, so a slow or stalled client holds a connection, never a
thread; connections idle for `channel_timeout` seconds (a header that never ends)
are closed. Each open chat stream holds a thread (bot/web/stream.py keeps them
below the thread count); waitress's default `send_bytes` of 1 sends each event at
once (it is not passed: waitress 3 warns that the option will go, and
tests/unit/test_web_server.py checks the default), and a request lookahead of 1
keeps reading the socket during a stream, so a closed tab is noticed and its
stream ends at once.
"""

from __future__ import annotations

import logging
import signal
import threading
import time
from collections.abc import Callable, Iterable
from types import FrameType
from typing import Any

from waitress import wasyncore  # type: ignore[import-untyped]
from waitress.server import create_server  # type: ignore[import-untyped]

logger = logging.getLogger(__name__)

DRAIN_SECONDS = 10.0
# While draining, a connection with nothing under way is closed once it has been
# idle this long: time for a request already on its way to arrive and be served.
IDLE_SECONDS = 1.0
LOOP_SECONDS = 0.25  # how soon a SIGTERM is acted on
# The web chat stream's "the browser went away" check (bot/web/chat.py).
CLIENT_DISCONNECTED = "waitress.client_disconnected"
OPTIONS: dict[str, Any] = {
    "threads": 32,
    "channel_timeout": 30,
    "connection_limit": 1000,
    "asyncore_use_poll": True,
    "channel_request_lookahead": 1,
    "max_request_header_size": 65536,
    "max_request_body_size": 1048576,
    "ident": "switchboard",
}

Wsgi = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


def draining_environ(app: Wsgi, draining: threading.Event) -> Wsgi:
    """`app`, whose requests see the client as gone once the server drains."""

    def wrapped(environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        disconnected = environ.get(CLIENT_DISCONNECTED)

        def gone() -> bool:
            return draining.is_set() or bool(disconnected and disconnected())

        environ[CLIENT_DISCONNECTED] = gone
        return app(environ, start_response)

    return wrapped


class GracefulServer:
    """A waitress server on host:port that drains at SIGTERM (module docstring)."""

    def __init__(self, app: Wsgi, host: str, port: int) -> None:
        self.draining = threading.Event()
        waitress = logging.getLogger("waitress")  # as waitress-serve sets it
        if waitress.level == logging.NOTSET:
            waitress.setLevel(logging.INFO)
        self.server = create_server(
            draining_environ(app, self.draining), host=host, port=port, **OPTIONS
        )

    def stop(self, *_: object) -> None:
        """Start draining (a signal handler: the event loop does the work)."""
        self.draining.set()

    def serve(self) -> None:
        """Serve until stopped, then drain and return."""
        for sent in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sent, self._on_signal)
        server = self.server
        server.print_listen("Serving on http://{}:{}")  # as waitress-serve does
        while not self.draining.is_set():
            self._loop_once()
        logger.warning("web app: stopping; serving the requests under way first")
        self._close_listener()
        deadline = time.monotonic() + DRAIN_SECONDS
        while server.active_channels and time.monotonic() < deadline:
            self._close_idle()
            self._loop_once()
        if server.active_channels:
            logger.warning(
                "web app: %d connections still busy after %.0f s; closing them",
                len(server.active_channels),
                DRAIN_SECONDS,
            )
        server.task_dispatcher.shutdown(cancel_pending=True, timeout=1)
        server.close()

    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        self.stop()

    def _loop_once(self) -> None:
        wasyncore.loop(
            timeout=LOOP_SECONDS, map=self.server._map, use_poll=True, count=1
        )

    def _close_listener(self) -> None:
        """Take the connections already made, then refuse new ones."""
        server = self.server
        while True:
            before = len(server._map)
            server.handle_accept()  # one connection, if one is waiting
            if len(server._map) == before:
                break
        server.accepting = False
        server.del_channel()
        server.socket.close()

    def _close_idle(self) -> None:
        """Close each connection idle for IDLE_SECONDS, nothing under way or half-read."""
        now = time.time()  # waitress stamps `last_activity` with time.time()
        for channel in list(self.server.active_channels.values()):
            busy = channel.requests or channel.request or channel.total_outbufs_len
            if not busy and now - channel.last_activity >= IDLE_SECONDS:
                channel.will_close = True  # its next loop closes it
