"""A fake Rasa web chat channel on loopback: records what the web app forwards."""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Forwarded:
    body: bytes
    signature: str | None

    @property
    def json(self) -> dict[str, Any]:
        data: dict[str, Any] = json.loads(self.body)
        return data


@dataclass
class FakeRasaWebChat:
    """Start with `start()`; `url` is what RASA_URL should be."""

    replies: list[dict[str, Any]] = field(default_factory=list)
    received: list[Forwarded] = field(default_factory=list)
    status: int = 200
    delay: float = 0.0  # seconds to wait before answering (timeouts)
    _server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        assert self._server is not None
        return f"http://127.0.0.1:{self._server.server_port}"

    def start(self) -> FakeRasaWebChat:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", 0))
                body = self.rfile.read(length)
                if self.path != "/webhooks/webchat/webhook":
                    self._reply(404, {"error": "not found"})
                    return
                fake.received.append(
                    Forwarded(body, self.headers.get("X-Switchboard-Signature"))
                )
                time.sleep(fake.delay)
                self._reply(fake.status, fake.replies)

            def _reply(self, status: int, body: Any) -> None:
                data = json.dumps(body).encode()
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except OSError:  # the client gave up waiting (timeout tests)
                    pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
