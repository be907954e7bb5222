"""A TCP port that forwards to a real service once opened: "down" until then.

The fault tests point Switchboard at a forwarder instead of the machine's Redis or
RabbitMQ, which other tests use: while it is closed the service is unreachable
(connections refused), and opening it brings the service "back".
"""

from __future__ import annotations

import contextlib
import socket
import socketserver
import threading
from typing import Any

from tests.stack import free_port


class _Pipe(socketserver.BaseRequestHandler):
    server: _Server

    def handle(self) -> None:
        with socket.create_connection(self.server.target) as upstream:
            self.server.connections.update({self.request, upstream})
            back = threading.Thread(
                target=_copy, args=(upstream, self.request), daemon=True
            )
            back.start()
            _copy(self.request, upstream)
            back.join()


class _Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, port: int, target: tuple[str, int]) -> None:
        self.target = target
        self.connections: set[socket.socket] = set()
        super().__init__(("127.0.0.1", port), _Pipe)


def _copy(source: socket.socket, sink: socket.socket) -> None:
    try:
        while data := source.recv(65536):
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
        self._server: _Server | None = None

    def open(self) -> None:
        self._server = _Server(self.port, self.target)
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
