"""A fake Twilio REST API on loopback: records what the real twilio client sends."""

from __future__ import annotations

import json
import re
import threading
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs

MESSAGES_PATH = re.compile(r"^/2010-04-01/Accounts/(?P<sid>AC\w+)/Messages\.json$")


@dataclass
class SentMessage:
    account_sid: str
    to: str
    from_: str
    body: str
    auth: str


@dataclass
class FakeTwilio:
    """Start with `start()`; `url` is what TWILIO_API_BASE_URL should be."""

    sent: list[SentMessage] = field(default_factory=list)
    fail_next: int = 0  # answer the next N sends with HTTP 503
    _server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        assert self._server is not None
        return f"http://127.0.0.1:{self._server.server_port}"

    def start(self) -> FakeTwilio:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                match = MESSAGES_PATH.match(self.path)
                length = int(self.headers.get("Content-Length", 0))
                form = {
                    k: v[0]
                    for k, v in parse_qs(self.rfile.read(length).decode()).items()
                }
                if match is None:
                    self._reply(404, {"code": 20404, "message": "not found"})
                    return
                if fake.fail_next > 0:
                    fake.fail_next -= 1
                    self._reply(503, {"code": 20500, "message": "unavailable"})
                    return
                fake.sent.append(
                    SentMessage(
                        account_sid=match["sid"],
                        to=form.get("To", ""),
                        from_=form.get("From", ""),
                        body=form.get("Body", ""),
                        auth=self.headers.get("Authorization", ""),
                    )
                )
                self._reply(201, {
                    "sid": "SM" + uuid.uuid4().hex, "account_sid": match["sid"],
                    "to": form.get("To"), "from": form.get("From"),
                    "body": form.get("Body"), "status": "queued",
                })  # fmt: skip

            def _reply(self, status: int, body: dict[str, Any]) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    def bodies_to(self, number: str) -> list[str]:
        return [m.body for m in self.sent if m.to == number]
