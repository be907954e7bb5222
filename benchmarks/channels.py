"""Per-channel response times, measured against a running stack (`make run`).

Each round sends one customer message through each entry point and times the full
HTTP round trip, the assistant's answer included:

- rest:    Rasa's REST channel (baseline)
- webchat: the web app's chat API (browser -> Flask -> Rasa web chat channel)
- sms:     a signed Twilio Messaging webhook
- voice:   a signed Twilio Voice webhook: a spoken question in a call that has
           already been greeted (only that turn is timed)

Run with `make benchmark-channels` (or `python -m benchmarks.channels --rounds 30`).
Only loopback addresses are contacted; the loop is bounded by --rounds.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
import uuid
import xml.etree.ElementTree as ET
from collections.abc import Callable

import requests
from twilio.request_validator import RequestValidator

from benchmarks.stats import percentile
from bot.settings import Settings

QUESTIONS = ("what are your opening hours", "how long do i have to return something")


def _signed_post(
    settings: Settings, path: str, params: dict[str, str]
) -> requests.Response:
    url = f"{settings.public_base_url}{path}"
    signature = RequestValidator(settings.twilio_auth_token).compute_signature(
        url, params
    )
    return requests.post(
        url, data=params, headers={"X-Twilio-Signature": signature}, timeout=30
    )


def rest(settings: Settings, question: str) -> None:
    response = requests.post(
        f"{settings.rasa_url}/webhooks/rest/webhook",
        json={"sender": f"bench-{uuid.uuid4().hex[:8]}", "message": question},
        timeout=30,
    )
    response.raise_for_status()
    assert response.json(), "no answer"


def webchat_client(settings: Settings) -> Callable[[Settings, str], float | None]:
    web = requests.Session()
    origin = f"http://{settings.bind_host}:{settings.web_port}"
    web.get(f"{origin}/", timeout=10).raise_for_status()  # session cookie

    def send(settings: Settings, question: str) -> None:
        response = web.post(
            f"{origin}/chat/api/messages",
            json={"text": question},
            headers={"Origin": origin},
            timeout=30,
        )
        response.raise_for_status()

    return send


def sms(settings: Settings, question: str) -> None:
    sid = "SM" + uuid.uuid4().hex
    params = {
        "MessageSid": sid, "SmsSid": sid, "AccountSid": settings.twilio_account_sid,
        "From": f"+1415555{uuid.uuid4().int % 10000:04d}",
        "To": settings.twilio_phone_number, "Body": question, "NumMedia": "0",
    }  # fmt: skip
    response = _signed_post(settings, "/webhooks/sms/webhook", params)
    response.raise_for_status()
    assert "<Message>" in response.text, response.text


def voice(settings: Settings, question: str) -> float:
    """Start a call (greeting, not timed), then time one spoken question."""
    params = {
        "CallSid": "CA" + uuid.uuid4().hex, "AccountSid": settings.twilio_account_sid,
        "From": "+14155550134", "To": settings.twilio_phone_number,
        "CallStatus": "ringing", "Direction": "inbound", "ApiVersion": "2010-04-01",
    }  # fmt: skip
    greeting = _signed_post(settings, "/webhooks/voice/webhook", params)
    greeting.raise_for_status()
    gather = ET.fromstring(greeting.content).find("Gather")
    assert gather is not None, greeting.text
    path = gather.attrib["action"].removeprefix(settings.public_base_url)
    params.update(CallStatus="in-progress", SpeechResult=question, Confidence="0.92")
    started = time.perf_counter()
    response = _signed_post(settings, path, params)
    elapsed = time.perf_counter() - started
    response.raise_for_status()
    assert "<Say" in response.text, response.text
    return elapsed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=20)
    args = parser.parse_args(argv)
    settings = Settings.from_env()
    try:
        channels: dict[str, Callable[[Settings, str], float | None]] = {
            "rest": rest, "webchat": webchat_client(settings), "sms": sms, "voice": voice,
        }  # fmt: skip
    except requests.RequestException as exc:
        print(f"error: the stack is not reachable ({exc}); start it with `make run`")
        return 2
    timings: dict[str, list[float]] = {name: [] for name in channels}
    for round_ in range(args.rounds):
        question = QUESTIONS[round_ % len(QUESTIONS)]
        for name, send in channels.items():
            started = time.perf_counter()
            measured = send(settings, question)
            elapsed = (
                measured if measured is not None else time.perf_counter() - started
            )
            timings[name].append(elapsed * 1000)
    print(
        f"{args.rounds} sequential knowledge-base questions per channel, one at a time"
    )
    print(f"{'channel':<10}{'p50 ms':>9}{'p95 ms':>9}{'max ms':>9}{'mean ms':>9}")
    for name, values in timings.items():
        print(f"{name:<10}{percentile(values, 0.5):>9.0f}{percentile(values, 0.95):>9.0f}"
              f"{max(values):>9.0f}{statistics.mean(values):>9.0f}")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
