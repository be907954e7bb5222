"""Customers on each channel of a running stack (tests/stack.py), as the real clients.

The web chat API as the widget calls it (`ChatApi`), Twilio's signed SMS webhooks
(`inbound`, `text`) and a phone call stepped through like Twilio steps it
(`PhoneCall`). Used by the end-to-end tests and the load benchmark.
"""

from __future__ import annotations

import time
import uuid
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from typing import Any, Protocol
from urllib.parse import parse_qsl, urlsplit

import requests

from tests.assistant import Assistant
from tests.fakes.twilio_webhooks import inbound_sms
from tests.stack import SHOP_NUMBER, TWILIO_ACCOUNT_SID

SMS_WEBHOOK = "/webhooks/sms/webhook"
VOICE_WEBHOOK = "/webhooks/voice/webhook"
VOICE_STATUS = "/webhooks/voice/status"
# Twilio's STIR/SHAKEN verdict on an inbound call's number: full attestation (the
# carrier vouches for the caller's right to the number).
ATTESTED = "TN-Validation-Passed-A"
HANG_UPPER_BOUND = 5.0  # seconds; only to catch hangs, the target is well under 1
MAX_FOLLOWED_WAITS = 10
# Twilio says the apology and waits 2 s before following a "still working" answer;
# much less here, enough for VOICE_RESPONSE_TIMEOUT=0.02 runs to exercise that path.
APOLOGY_SECONDS = 0.2


# --- web chat --------------------------------------------------------------------


class WebApp(Protocol):
    """Where the web app answers (a Stack, or a production installation)."""

    web_url: str


class ChatApi:
    """The web chat API as the widget calls it: one cookie jar, same origin."""

    def __init__(self, stack: WebApp) -> None:
        self.url = stack.web_url
        self.http = requests.Session()
        self.http.get(f"{self.url}/", timeout=10).raise_for_status()

    def post(self, text: str, payload: str | None = None) -> dict[str, Any]:
        """Send a message (or a button's payload); the API's whole answer."""
        body = {"text": text, **({"payload": payload} if payload else {})}
        response = self.http.post(
            f"{self.url}/chat/api/messages", json=body,
            headers={"Origin": self.url}, timeout=60,
        )  # fmt: skip
        response.raise_for_status()
        answer: dict[str, Any] = response.json()
        return answer

    def say(self, text: str, payload: str | None = None) -> list[dict[str, object]]:
        """Send a message; the bot's replies to it."""
        messages = self.post(text, payload)["messages"]
        assert messages[0]["sender"] == "customer"
        return [m for m in messages[1:] if m["sender"] == "bot"]

    def texts(self, text: str, payload: str | None = None) -> str:
        return " ".join(str(m["text"]) for m in self.say(text, payload))


# --- SMS -------------------------------------------------------------------------


def inbound(body: str, sender: str, sid: str | None = None) -> dict[str, str]:
    """The form fields Twilio posts for an inbound SMS to the stack."""
    return inbound_sms(body, sender, TWILIO_ACCOUNT_SID, sid)


def replies(response: requests.Response) -> list[str]:
    """The texts of an SMS webhook's TwiML answer."""
    assert response.status_code == 200, response.text
    assert response.headers["Content-Type"].startswith("text/xml")
    root = ET.fromstring(response.text)
    assert root.tag == "Response"
    assert all(child.tag == "Message" for child in root)
    return [child.text or "" for child in root]


def text(stack: Assistant, body: str, sender: str) -> list[str]:
    """Text the shop from `sender`; the replies."""
    return replies(stack.twilio_post(SMS_WEBHOOK, inbound(body, sender)))


def fresh_number() -> str:
    return f"+1415555{uuid.uuid4().int % 10000:04d}"


# --- phone -----------------------------------------------------------------------


@dataclass
class Twiml:
    root: ET.Element

    @property
    def gather(self) -> ET.Element | None:
        return self.root.find("Gather")

    @property
    def said(self) -> str:
        return " ".join(say.text or "" for say in self.root.iter("Say"))

    @property
    def redirect(self) -> str | None:
        element = self.root.find("Redirect")
        return element.text if element is not None else None

    @property
    def hangs_up(self) -> bool:
        return self.root.find("Hangup") is not None

    @property
    def is_delay(self) -> bool:
        return bool(self.redirect and query(self.redirect).get("wait") == "1")


def query(url: str) -> dict[str, str]:
    return dict(parse_qsl(urlsplit(url).query))


@dataclass
class PhoneCall:
    """One inbound call, stepped through like Twilio would.

    Every request is timed into `timings`; `delays` counts the "still working"
    answers followed. A request slower than `hang_bound` seconds fails.
    """

    stack: Assistant  # a Rasa server, or the load balancer in front of several
    caller: str
    verstat: str | None = ATTESTED  # StirVerstat; None when the carrier sends none
    sid: str = field(default_factory=lambda: "CA" + uuid.uuid4().hex)
    timings: list[tuple[str, float, str]] = field(default_factory=list)
    last: Twiml | None = None
    hang_bound: float = HANG_UPPER_BOUND
    delays: int = 0

    @property
    def conversation_id(self) -> str:
        return f"voice:{self.sid}"

    def params(self, status: str = "in-progress") -> dict[str, str]:
        """The fields of every Twilio Voice webhook, as Twilio fills them in."""
        stir = {"StirVerstat": self.verstat} if self.verstat is not None else {}
        return stir | {
            "AccountSid": TWILIO_ACCOUNT_SID, "ApiVersion": "2010-04-01",
            "CallSid": self.sid, "CallStatus": status, "Direction": "inbound",
            "From": self.caller, "Caller": self.caller, "To": SHOP_NUMBER,
            "Called": SHOP_NUMBER, "FromCity": "SAN FRANCISCO", "FromState": "CA",
            "FromZip": "94103", "FromCountry": "US", "CallerCity": "SAN FRANCISCO",
            "CallerState": "CA", "CallerZip": "94103", "CallerCountry": "US",
            "ToCity": "", "ToState": "", "ToZip": "", "ToCountry": "US",
            "CalledCity": "", "CalledState": "", "CalledZip": "",
            "CalledCountry": "US",
        }  # fmt: skip

    def _post(self, label: str, url: str, extra: dict[str, str]) -> Twiml:
        path = url.removeprefix(self.stack.rasa_url)
        started = time.perf_counter()
        reply = self.stack.twilio_post(path, {**self.params(), **extra})
        elapsed = time.perf_counter() - started
        assert reply.status_code == 200, reply.text
        assert reply.headers["Content-Type"].startswith("text/xml")
        assert elapsed < self.hang_bound, f"{label} took {elapsed:.2f} s"
        twiml = Twiml(ET.fromstring(reply.content))
        assert twiml.root.tag == "Response"
        ending = " [hangs up]" if twiml.hangs_up else ""
        self.timings.append((label, elapsed, twiml.said + ending))
        return twiml

    def _step(self, label: str, url: str, extra: dict[str, str]) -> Twiml:
        twiml = self._post(label, url, extra)
        for _ in range(MAX_FOLLOWED_WAITS):
            if not twiml.is_delay:
                break
            assert twiml.redirect is not None
            self.delays += 1
            # The caller waits: the delay <Gather> times out and Twilio redirects.
            time.sleep(APOLOGY_SECONDS)
            twiml = self._post(f"{label} (waited)", twiml.redirect, {})
        self.last = twiml
        return twiml

    def _action(self) -> str:
        assert self.last is not None and self.last.gather is not None, "no <Gather>"
        return self.last.gather.attrib["action"]

    def start(self) -> Twiml:
        started = {**self.params("ringing")}
        return self._step(
            "call starts", f"{self.stack.rasa_url}{VOICE_WEBHOOK}", started
        )

    def press(self, digits: str) -> Twiml:
        keyed = {"Digits": digits, "FinishedOnKey": "#" if len(digits) > 1 else ""}
        return self._step(f"press {digits}", self._action(), keyed)

    def say(self, words: str, confidence: str = "0.9187") -> Twiml:
        spoken = {"SpeechResult": words, "Confidence": confidence}
        return self._step(f"say {words!r}", self._action(), spoken)

    def silence(self) -> Twiml:
        assert self.last is not None and self.last.redirect is not None
        return self._step("silence", self.last.redirect, {})

    def hang_up(self) -> None:
        """Twilio's status callback at the end of the call."""
        ended = {**self.params("completed"), "CallDuration": "42", "Timestamp": ""}
        reply = self.stack.twilio_post(VOICE_STATUS, ended)
        assert reply.status_code == 204, reply.text

    def report(self, title: str) -> None:
        print(f"\n{title} ({self.caller}, {self.sid}):")
        for label, seconds, heard in self.timings:
            print(f"  {seconds * 1000:6.0f} ms  {label:<42} -> {heard}")
