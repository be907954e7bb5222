"""A TCP port that forwards to a real service once opened: "down" until then.

The fault tests point Switchboard at a forwarder instead of the machine's Redis,
RabbitMQ or PostgreSQL, which other tests use: while it is closed the service is
unreachable (connections refused), and opening it brings the service "back". In
front of an HTTP server it can also make the server slow: with `slow_posts` set,
the answers to POST requests are held that many seconds (GETs, such as health
checks, are not).
"""

from __future__ import annotations

import contextlib
import socket
import socketserver
import threading
import time
from typing import Any

from tests.stack import free_port


class _Pipe(socketserver.BaseRequestHandler):
    server: _Server

    def handle(self) -> None:
        try:
            upstream = socket.create_connection(self.server.target)
        except OSError:  # the service is down: so is the forwarder's connection
            return
        with upstream:
            self.server.connections.update({self.request, upstream})
            first = self.request.recv(65536)
            hold = self.server.owner.slow_posts if first.startswith(b"POST") else 0.0
            upstream.sendall(first)
            back = threading.Thread(
                target=_copy, args=(upstream, self.request, hold), daemon=True
            )
            back.start()
            _copy(self.request, upstream)
            back.join()


class _Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, owner: Forwarder) -> None:
        self.owner = owner
        self.target: tuple[str, int] = owner.target
        self.connections: set[socket.socket] = set()
        super().__init__(("127.0.0.1", owner.port), _Pipe)


def _copy(source: socket.socket, sink: socket.socket, hold: float = 0.0) -> None:
    try:
        while data := source.recv(65536):
            if hold:
                time.sleep(hold)
                hold = 0.0
            sink.sendall(data)
    except OSError:
        pass
    finally:
        for end in (source, sink):
            with contextlib.suppress(OSError):
                end.shutdown(socket.SHUT_RDWR)


class Forwarder:
    """127.0.0.1:`port` forwards to `target` while open."""

    def __init__(self, target_port: int) -> None:
        self.port = free_port()
        self.target = ("127.0.0.1", target_port)
        self.slow_posts = 0.0  # seconds each answer to a POST is held
        self._server: _Server | None = None

    def open(self) -> None:
        self._server = _Server(self)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def close(self, *_: Any) -> None:
        """Stop listening and cut every connection (the service goes down)."""
        if self._server is None:
            return
        self._server.shutdown()
        self._server.server_close()
        for connection in self._server.connections:
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)
        self._server = None
