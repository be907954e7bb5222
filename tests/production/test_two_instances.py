"""Two Rasa instances behind HAProxy serving one conversation: order, failover, faults.

The installation is production mode as `make run-production` starts it, smaller:
HAProxy in front of two Rasa instances (A and B), one action server, two web app
processes and the worker, on this run's PostgreSQL database, Redis prefix and
RabbitMQ queue. The tests run in file order; the last one kills instance A.
"""

from __future__ import annotations

import logging
import secrets
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import pytest
import requests
from rasa.utils.endpoints import EndpointConfig
from sqlalchemy import select
from sqlalchemy import text as sql
from sqlalchemy.orm import Session

from bot.lock_store import SharedLockStore
from bot.models import ChatMessage, Sender, Ticket, TicketMessage
from bot.services.agents import create_agent
from channels.sms import sms_conversation_id
from tests.customers import PhoneCall, fresh_number, inbound, replies
from tests.e2e.console import Console, eventually, reference_in
from tests.production.stack import Installation, Shared, running_installation

APOLOGY = "Sorry, something went wrong on our side"
ORDER = "where is my order 104257"
ASKS_EMAIL = "what's the email address on your account"
SHIPPED = "Your order 104257 has shipped"
SLOW = 15.0  # seconds each answer of the action server is held: past ACTION_TIMEOUT
# One conversation's messages, each with replies of its own.
# What the simulated customers say, each with a tag of its own (TAG_LETTERS: no
# digits, so never an order number or ticket reference; no vowels, so no word).
CHATTER = ["hi", "how long does shipping take?", "thanks", "do you ship abroad?"]
TAG_LETTERS = "bcdfghjklmnpqrstvwxz"
MESSAGES = [
    "hi",
    "can I return an item?",
    "how long does shipping take?",
    "thanks",
    "do you ship abroad?",
    "what payment methods do you accept?",
]


@pytest.fixture(scope="module")
def installation(
    shared: Shared, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Installation]:
    """HAProxy, Rasa instances A and B, one action server, two web apps, the worker."""
    var = tmp_path_factory.mktemp("two-instances")
    with running_installation(
        shared, var, rasa_instances=2, action_proxy=True
    ) as running:
        yield running


def conversation() -> str:
    return "prod-" + uuid.uuid4().hex[:12]


def turns(events: list[dict[str, Any]]) -> list[tuple[str, list[str]]]:
    """Each customer message in the tracker with the bot's replies after it."""
    found: list[tuple[str, list[str]]] = []
    for event in events:
        if event["event"] == "user":
            found.append((str(event["text"]), []))
        elif event["event"] == "bot" and found:
            found[-1][1].append(str(event.get("text")))
    return found


def texts(replies_: list[dict[str, Any]]) -> list[str]:
    return [str(reply.get("text")) for reply in replies_]


def test_every_service_reports_its_dependencies(installation: Installation) -> None:
    env = installation.processes.env
    for name in ("rasa_a", "rasa_b"):
        status, report = installation.health(f"{installation.instances[name]}/health")
        assert status == 200
        assert report == {
            "status": "ok", "model": "ok", "database": "ok", "lock_store": "ok",
            "event_broker": "ok", "action_server": "ok",
        }  # fmt: skip
    assert installation.health(f"{installation.rasa_url}/health")[0] == 200
    assert installation.health(f"http://127.0.0.1:{env['ACTION_PORT']}/health") == (
        200,
        {"status": "ok", "database": "ok"},
    )
    assert installation.health(f"{installation.web_url}/healthz") == (
        200,
        {"status": "ok", "database": "ok", "redis": "ok"},
    )
    # Nothing secret in any answer: no URL, no token.
    for url in [*installation.instances.values(), installation.rasa_url]:
        body = requests.get(f"{url}/health", timeout=10).text
        assert "://" not in body and env["RASA_TOKEN"] not in body


def test_messages_at_the_same_moment_on_two_instances_are_each_handled_once(
    installation: Installation,
) -> None:
    sender = conversation()
    start = threading.Barrier(len(MESSAGES))
    both = [installation.on("rasa_a"), installation.on("rasa_b")]

    def send(index: int) -> list[str]:
        start.wait()
        return texts(both[index % 2].say(sender, MESSAGES[index]))

    with ThreadPoolExecutor(len(MESSAGES)) as pool:
        answers = dict(
            zip(MESSAGES, pool.map(send, range(len(MESSAGES))), strict=False)
        )
    handled = turns(installation.events(sender))
    # Each message once, none lost, and its replies right after it: the turns
    # ran one at a time, whichever instance had them.
    assert sorted(text for text, _ in handled) == sorted(MESSAGES)
    for text, said in handled:
        assert said and said == answers[text], text


def test_queued_messages_are_handled_in_the_order_they_came(
    installation: Installation,
) -> None:
    """Held behind a ticket, messages sent to A, B, A, B run in arrival order."""
    sender = conversation()
    store = SharedLockStore(
        EndpointConfig(
            "127.0.0.1",
            port=6379,
            db=0,
            key_prefix=installation.shared.redis_prefix,
            ticket_seconds=60,
        )
    )
    held = store.issue_ticket(sender)  # the conversation is busy
    both = [installation.on("rasa_a"), installation.on("rasa_b")]
    order = MESSAGES[:4]
    with ThreadPoolExecutor(len(order)) as pool:
        sent = []
        for index, text in enumerate(order):
            sent.append(pool.submit(both[index % 2].say, sender, text))
            waiting_for(store, sender, index + 2)  # its ticket is taken
        store.cleanup(sender, held)
        answers = [texts(future.result(timeout=120)) for future in sent]
    handled = turns(installation.events(sender))
    assert [text for text, _ in handled] == order
    assert [said for _, said in handled] == answers


def waiting_for(store: SharedLockStore, sender: str, tickets: int) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        lock = store.get_lock(sender)
        if lock is not None and len(lock.tickets) >= tickets:
            return
        time.sleep(0.05)
    raise AssertionError(f"{sender}: not {tickets} tickets in 60 s")


def ask_on_every_channel(installation: Installation, caller: str) -> dict[str, str]:
    """ORDER asked on each channel at once, as its clients ask; what each answered.

    Each within its channel's time budget: the REST and web chat clients' 60 s,
    the SMS webhook's own answer (not "I'm taking longer"), and the phone call's
    steps (tests.customers.PhoneCall: each webhook under 5 s, at most 10 waits).
    """
    rest = conversation()

    def on_rest() -> str:
        return " ".join(installation.texts(rest, ORDER))

    def on_web_chat() -> str:
        web = requests.Session()
        web.get(f"{installation.web_url}/", timeout=30)
        chat = web.post(
            f"{installation.web_url}/chat/api/messages",
            json={"text": ORDER},
            headers={"Origin": installation.web_url},
            timeout=60,
        )
        assert chat.status_code == 200
        said = [m["text"] for m in chat.json()["messages"]]
        assert said[0] == ORDER
        return " ".join(said[1:])

    def on_sms() -> str:
        texted = installation.twilio_post(
            "/webhooks/sms/webhook", inbound(ORDER, caller)
        )
        return " ".join(replies(texted))

    def on_the_phone() -> str:
        call = PhoneCall(installation, caller)  # type: ignore[arg-type]
        call.start()
        assert "I heard 1 0 4 2 5 7" in call.say(ORDER).said  # the IVR's read-back
        return call.press("1").said

    asks = {"rest": on_rest, "web chat": on_web_chat, "sms": on_sms}
    asks["phone"] = on_the_phone
    with ThreadPoolExecutor(len(asks)) as pool:
        running = {channel: pool.submit(ask) for channel, ask in asks.items()}
        answers = {channel: future.result() for channel, future in running.items()}
    answers["rest conversation"] = rest
    return answers


def apologised(answers: dict[str, str]) -> None:
    for channel in ("rest", "web chat", "sms", "phone"):
        assert APOLOGY in answers[channel], (channel, answers[channel])
    assert "ask for a person" in answers["rest"]


def restart_actions(installation: Installation) -> None:
    processes = installation.processes
    own = installation.instances["actions"]
    processes.launch("actions", "actions", "--port", own.rsplit(":", 1)[1])
    processes.wait("actions", f"{own}/health")
    front = f"http://127.0.0.1:{processes.env['ACTION_PORT']}/health"
    processes.wait("actions", front)  # HAProxy has seen it back


def kept(installation: Installation, answers: dict[str, str], caller: str) -> None:
    """The messages are in their conversations, which carry on when actions answer."""
    rest = answers["rest conversation"]
    assert turns(installation.events(rest))[0] == (ORDER, [answers["rest"]])
    sms = sms_conversation_id(caller, installation.secret)
    assert installation.user_texts(sms) == [ORDER]
    with installation.shared.engine.connect() as db:
        stored = db.scalars(
            select(ChatMessage.text).where(ChatMessage.text == ORDER)
        ).all()
    assert stored
    assert ASKS_EMAIL in " ".join(installation.texts(rest, ORDER))


def test_with_the_action_server_down_every_channel_apologises_and_keeps_the_message(
    installation: Installation,
) -> None:
    caller = "+14155550111"
    installation.processes.stop("actions")
    try:
        answers = ask_on_every_channel(installation, caller)
    finally:
        restart_actions(installation)
    apologised(answers)
    kept(installation, answers, caller)


def test_with_the_action_server_slow_every_channel_apologises_in_time(
    installation: Installation,
) -> None:
    """Its answers held past ACTION_TIMEOUT (6 s), its health checks not."""
    proxy = installation.action_proxy
    assert proxy is not None
    caller = "+13125550142"
    proxy.slow_posts = SLOW
    try:
        answers = ask_on_every_channel(installation, caller)
    finally:
        proxy.slow_posts = 0.0
    apologised(answers)
    assert "no answer in 6 s" in installation.processes.log("rasa_a") + (
        installation.processes.log("rasa_b")
    )
    kept(installation, answers, caller)


@dataclass
class Customer:
    """A simulated customer sending messages back to back until told to stop."""

    channel: str
    say: Callable[[str], int]  # sends one message; the HTTP status
    stored: Callable[[], list[str]]  # their messages found stored
    conversation_id: str = ""  # Rasa's, where the test knows it
    sent: list[str] = field(default_factory=list)
    refused: list[tuple[str, int]] = field(default_factory=list)
    # Sent again after the connection broke with no answer: the customer was told
    # (the widget says "We couldn't send your message") and sends it once more.
    resent: list[str] = field(default_factory=list)

    def run(self, stop: threading.Event) -> None:
        while not stop.is_set():
            tag = "".join(secrets.choice(TAG_LETTERS) for _ in range(8))
            words = f"{CHATTER[len(self.sent) % len(CHATTER)]} ({tag})"
            status = self._send(words)
            if status == -1:
                self.resent.append(words)
                time.sleep(1.0)
                status = self._send(words)
            self.sent.append(words)
            if status != 200:
                self.refused.append((words, status))

    def _send(self, words: str) -> int:
        """The HTTP status, or -1 when the connection broke without an answer."""
        try:
            return self.say(words)
        except requests.RequestException as exc:
            logging.getLogger(__name__).warning("%s: %s", self.channel, exc)
            return -1


def in_transcripts(installation: Installation, conversation_id: str) -> list[str]:
    """The customer's lines in the transcripts of the conversation's tickets."""
    with installation.shared.engine.connect() as db:
        return list(
            db.scalars(
                select(TicketMessage.text)
                .join(Ticket, TicketMessage.ticket_id == Ticket.id)
                .where(
                    Ticket.conversation_id == conversation_id,
                    TicketMessage.sender == Sender.CUSTOMER,
                )
            )
        )


def held(installation: Installation, conversation_id: str) -> list[str]:
    """The customer's messages a hold took from the assistant to a ticket.

    Conversations the assistant handed to a person (the chatter can wander into a
    form and its fallbacks end in a handoff) are held: their messages go to the
    ticket's transcript instead of Rasa's tracker. A handoff also copies what the
    customer had said to the assistant into the transcript; those copies, found in
    the tracker too, are not another storing of the message.
    """
    in_rasa = set(installation.user_texts(conversation_id))
    return [
        t for t in in_transcripts(installation, conversation_id) if t not in in_rasa
    ]


def stored_anywhere(installation: Installation, conversation_id: str) -> list[str]:
    """Where the product keeps a customer's message: Rasa's tracker or a ticket's."""
    return installation.user_texts(conversation_id) + held(
        installation, conversation_id
    )


def rest_customer(installation: Installation) -> Customer:
    sender = conversation()

    def say(words: str) -> int:
        return requests.post(
            f"{installation.rasa_url}/webhooks/rest/webhook",
            json={"sender": sender, "message": words},
            timeout=60,
        ).status_code

    return Customer("rest", say, lambda: stored_anywhere(installation, sender), sender)


def sms_customer(installation: Installation) -> Customer:
    number = fresh_number()

    def say(words: str) -> int:
        return installation.twilio_post(
            "/webhooks/sms/webhook", inbound(words, number)
        ).status_code

    texted = sms_conversation_id(number, installation.secret)
    return Customer("sms", say, lambda: stored_anywhere(installation, texted), texted)


def web_chat_customer(installation: Installation) -> Customer:
    web = requests.Session()
    web.get(f"{installation.web_url}/", timeout=30).raise_for_status()
    said: list[str] = []

    def say(words: str) -> int:
        said.append(words)
        return web.post(
            f"{installation.web_url}/chat/api/messages",
            json={"text": words},
            headers={"Origin": installation.web_url},
            timeout=60,
        ).status_code

    def stored() -> list[str]:
        with installation.shared.engine.connect() as db:
            return list(
                db.scalars(select(ChatMessage.text).where(ChatMessage.text.in_(said)))
            )

    return Customer("web chat", say, stored)


def in_rotation(installation: Installation, backend: str, server: str) -> bool:
    """Whether HAProxy's statistics show `server` of `backend` UP."""
    config = (installation.processes.var / "haproxy.cfg").read_text()
    stats = config.split("listen stats", 1)[1].split("bind ", 1)[1].split()[0]
    rows = requests.get(f"http://{stats}/;csv", timeout=10).text.splitlines()
    for row in rows:
        fields = row.split(",")
        if fields[:2] == [backend, server]:
            return fields[17] == "UP"
    raise AssertionError(f"HAProxy has no server {backend}/{server}")


def restart(installation: Installation, name: str, in_haproxy: str = "") -> None:
    """SIGTERM a process, start it again, wait until it (and HAProxy) has it back."""
    processes = installation.processes
    # [python, -m, bot, run, SERVICE, options...]
    args = [str(arg) for arg in processes.running[name].args]  # type: ignore[union-attr]
    service = args[args.index("run") + 1]
    options = args[args.index("run") + 2 :]
    processes.stop(name)
    processes.launch(name, service, *options)
    if "--port" in options:
        port = options[options.index("--port") + 1]
        path = "/healthz" if service == "web" else "/health"
        processes.wait(name, f"http://127.0.0.1:{port}{path}")
    if in_haproxy:
        backend, server = in_haproxy.split("/")
        eventually(lambda: in_rotation(installation, backend, server), 60)


def counted(installation: Installation, conversation_id: str) -> tuple[int, int]:
    """The insights tables' conversations and customer messages of a conversation."""
    with installation.shared.engine.connect() as db:
        found = db.execute(
            sql(
                "SELECT count(*), coalesce(sum(messages), 0) "
                "FROM insights_conversations WHERE conversation_id = :id"
            ),
            {"id": conversation_id},
        ).one()
    return int(found[0]), int(found[1])


def settled(read: Callable[[], Any], expected: Any, timeout: float) -> Any:
    """What `read` returns once it returns `expected`, or after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    found = read()
    while found != expected and time.monotonic() < deadline:
        time.sleep(0.3)
        found = read()
    return found


def test_every_service_restarted_in_turn_loses_no_message_and_no_reply(
    installation: Installation,
) -> None:
    """Customers on REST, SMS and web chat, and an agent replying by SMS.

    Meanwhile each service is restarted in turn, and the insights consumer is
    stopped for a while.
    """
    assert installation.twilio is not None
    agent = "restart-" + uuid.uuid4().hex[:6]
    password = secrets.token_urlsafe(16)
    with Session(installation.shared.engine) as session, session.begin():
        create_agent(session, f"Agent {agent}", f"{agent}@agents.example.com", password)
    handed_off = fresh_number()
    reference = reference_in(
        replies(
            installation.twilio_post(
                "/webhooks/sms/webhook",
                inbound("I want to talk to a person", handed_off),
            )
        )
    )
    console = Console(installation.web_url)
    console.sign_in(f"{agent}@agents.example.com", password)
    console.queued(reference)
    console.act(reference, "claim")

    customers = [
        rest_customer(installation),
        sms_customer(installation),
        web_chat_customer(installation),
    ]
    agent_replies: list[str] = []
    stop = threading.Event()

    def agent_replying() -> None:
        while not stop.is_set():
            reply = f"Still on it ({uuid.uuid4().hex[:6]})."
            console.act(reference, "reply", text=reply)
            agent_replies.append(reply)
            stop.wait(1.0)

    with ThreadPoolExecutor(len(customers) + 1) as pool:
        running = [pool.submit(customer.run, stop) for customer in customers]
        running.append(pool.submit(agent_replying))
        try:
            installation.processes.stop("insights")  # down for a while
            restart(installation, "rasa_a", "rasa/rasa1")
            restart(installation, "rasa_b", "rasa/rasa2")
            installation.processes.launch("insights", "insights")
            restart(installation, "actions", "actions/actions1")
            restart(installation, "web1", "web/web1")
            restart(installation, "web2", "web/web2")
            restart(installation, "worker")
        finally:
            stop.set()
            for future in running:
                future.result(timeout=120)

    # Every customer message stored, once (in Rasa's tracker or, while a person
    # holds the conversation, in the ticket's transcript); none refused.
    for customer in customers:
        assert customer.sent, customer.channel
        assert len(set(customer.sent)) == len(customer.sent), customer.channel
        assert customer.refused == [], customer.channel
        stored = customer.stored()
        assert len(set(stored)) == len(stored), customer.channel  # none twice
        assert sorted(stored) == sorted(customer.sent), customer.channel
    # Every agent reply delivered, once.
    assert agent_replies
    twilio = installation.twilio

    def delivered() -> list[str]:
        return [
            body
            for body in twilio.bodies_to(handed_off)
            if any(reply in body for reply in agent_replies)
        ]

    eventually(lambda: len(delivered()) >= len(agent_replies), 60)
    assert len(delivered()) == len(agent_replies)
    # The insights consumer, stopped for a while, counted every message the
    # assistant handled once (held ones never reach Rasa's event broker).
    for customer in customers[:2]:
        sender = customer.conversation_id
        expected = (1, len(installation.user_texts(sender)))
        found = settled(lambda: counted(installation, sender), expected, 60)  # noqa: B023
        assert found == expected, customer.channel
    print(
        "\nrestarts: "
        + ", ".join(
            f"{c.channel} {len(c.sent)} sent, {len(c.stored())} stored,"
            f" {len(c.resent)} sent again after a broken connection"
            + (
                f" ({len(held(installation, c.conversation_id))} held for a person)"
                if c.conversation_id
                else ""
            )
            for c in customers
        )
        + f"; agent replies {len(agent_replies)} sent, {len(delivered())} delivered"
    )


def test_a_killed_instance_loses_no_message_and_answers_none_twice(
    installation: Installation,
) -> None:
    processes = installation.processes
    ongoing, in_flight = conversation(), conversation()
    a = installation.on("rasa_a")
    assert ASKS_EMAIL in " ".join(a.texts(ongoing, ORDER))
    # A message waiting on A for its turn when A dies.
    store = SharedLockStore(
        EndpointConfig(
            "127.0.0.1", port=6379, db=0, key_prefix=installation.shared.redis_prefix
        )
    )
    held = store.issue_ticket(in_flight)
    with ThreadPoolExecutor(1) as pool:
        waiting = pool.submit(a.say, in_flight, "hi")
        waiting_for(store, in_flight, 2)
        processes.kill("rasa_a")
        with pytest.raises(requests.ConnectionError):
            waiting.result(timeout=30)
    store.cleanup(in_flight, held)

    # Through HAProxy, which still thinks A is up for a few seconds: B carries on
    # where A was.
    answer = " ".join(installation.texts(ongoing, "jane.doe@example.com"))
    assert SHIPPED in answer
    assert [text for text, _ in turns(installation.events(ongoing))] == [
        ORDER,
        "jane.doe@example.com",
    ]
    # A's dead ticket expires (TICKET_SECONDS), so the conversation is free again;
    # the message A never handled left nothing behind.
    started = time.monotonic()
    assert installation.texts(in_flight, "hi")
    assert time.monotonic() - started < 30
    assert [text for text, _ in turns(installation.events(in_flight))] == ["hi"]
