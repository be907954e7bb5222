"""Customer journeys over HTTP through the REST channel, checked in the database."""

from __future__ import annotations

import re
import sqlite3
import uuid

import requests
from sqlalchemy import func, select

from bot.mailer import MailOutbox
from bot.models import Customer, Order, OrderStatus, Sender, Ticket, TicketCategory
from tests.stack import Stack


def new_sender() -> str:
    return f"e2e-{uuid.uuid4().hex[:12]}"


def ticket_by_reference(stack: Stack, reference: str) -> Ticket:
    with stack.session() as session:
        ticket = session.scalars(
            select(Ticket).where(Ticket.reference == reference)
        ).one()
        ticket.messages  # noqa: B018 - load the transcript before the session closes
        return ticket


def reference_in(texts: list[str]) -> str:
    for text in texts:
        for word in text.replace(".", " ").replace(";", " ").split():
            if word.startswith("T-") and len(word) == 8:
                return word
    raise AssertionError(f"no ticket reference in {texts}")


def test_order_status_after_verification(stack: Stack) -> None:
    sender = new_sender()
    assert stack.texts(sender, "hi, where is my order 104257?") == [
        "To keep your details safe, what's the email address on your account?"
    ]
    replies = stack.texts(sender, "jane.doe@example.com")
    assert replies[0].startswith("Your order 104257 has shipped.")
    assert "UPS" in replies[0] and "1Z999AA10123456784" in replies[0]
    assert "We expect to deliver it" in replies[0]
    assert replies[1] == (
        "You can follow it here: https://www.ups.com/track?tracknum=1Z999AA10123456784"
    )


def test_wrong_email_and_unknown_order_get_the_same_answer(stack: Stack) -> None:
    wrong_pair, unknown = new_sender(), new_sender()
    stack.texts(wrong_pair, "where is my order 104257")
    stack.texts(unknown, "where is my order 999999")
    reply_wrong = stack.texts(wrong_pair, "sam.lee@example.com")
    reply_unknown = stack.texts(unknown, "sam.lee@example.com")
    assert reply_wrong == reply_unknown
    disclosed = " ".join(reply_wrong)
    assert (
        "UPS" not in disclosed
        and "1Z999" not in disclosed
        and "shipped" not in disclosed
    )


def test_three_failures_stop_the_questions_and_offer_a_person(stack: Stack) -> None:
    sender = new_sender()
    stack.texts(sender, "track order 104257")
    stack.texts(sender, "sam.lee@example.com")
    stack.texts(sender, "104257")
    stack.texts(sender, "wrong@example.com")
    stack.texts(sender, "999999")
    replies = stack.texts(sender, "jane.doe@example.com")
    assert "couldn't verify" in replies[0]
    assert (
        replies[-1] == "Would you like me to pass you to a member of our support team?"
    )
    # Even the right details are no longer checked in this conversation.
    assert "shipped" not in " ".join(replies)

    handoff = stack.texts(sender, "yes please")
    ticket = ticket_by_reference(stack, reference_in(handoff))
    assert ticket.handed_off is True
    assert ticket.category == TicketCategory.HANDOFF
    assert ticket.conversation_id == sender
    assert "could not be verified" in ticket.description
    customer_lines = [m.text for m in ticket.messages if m.sender == Sender.CUSTOMER]
    assert customer_lines[:3] == ["track order 104257", "sam.lee@example.com", "104257"]
    assert any(m.sender == Sender.BOT for m in ticket.messages)


def count_customers(stack: Stack, email: str) -> int:
    with stack.session() as session:
        query = (
            select(func.count()).select_from(Customer).where(Customer.email == email)
        )
        return session.scalar(query) or 0


def mails_to(stack: Stack, email: str) -> list[str]:
    with stack.session() as session:
        return [m.body for m in MailOutbox(session).sent_to(email)]


def confirm_link(stack: Stack, body: str) -> str:
    """The mailed link, pointed at this stack's web app."""
    path = next(w for w in body.split() if "/register/confirm/" in w)
    return stack.web_url + "/register/confirm/" + path.rsplit("/", 1)[1]


def test_registration_tells_nobody_who_is_a_customer(stack: Stack) -> None:
    email = f"new-{uuid.uuid4().hex[:8]}@example.com"
    sender = new_sender()
    stack.texts(sender, "i would like to open an account")
    stack.texts(sender, "my name is grace hopper")
    assert "valid email" in stack.texts(sender, "grace at nowhere")[0]
    stack.texts(sender, email)
    confirm = stack.texts(sender, "skip")
    assert f"Email: {email}" in confirm[0] and "Name: Grace Hopper" in confirm[0]
    answer = stack.texts(sender, "yes")[0]
    assert f"We've sent a link to {email} to finish your registration" in answer
    assert count_customers(stack, email) == 0  # nothing counts before the link

    # The same answer for an address that already has an account.
    known = new_sender()
    stack.texts(known, "sign me up please")
    stack.texts(known, "Grace Hopper")
    stack.texts(known, "jane.doe@example.com")
    stack.texts(known, "skip")
    same = stack.texts(known, "yes")[0]
    assert same == answer.replace(email, "jane.doe@example.com")
    assert "already has an account" in mails_to(stack, "jane.doe@example.com")[-1]

    # The link creates the account, once; opening it alone does not.
    (body,) = mails_to(stack, email)
    link = confirm_link(stack, body)
    browser = requests.Session()
    page = browser.get(link, timeout=10)
    assert page.status_code == 200 and count_customers(stack, email) == 0
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert token is not None
    done = browser.post(link, data={"csrf_token": token[1]}, timeout=10)
    assert done.status_code == 200 and "Welcome aboard, Grace Hopper" in done.text
    assert count_customers(stack, email) == 1
    again = browser.post(link, data={"csrf_token": token[1]}, timeout=10)
    assert again.status_code == 410 and count_customers(stack, email) == 1


def test_anonymous_problem_ticket_keeps_what_was_said(stack: Stack) -> None:
    sender = new_sender()
    first = "the lamp from my order arrived with the shade cracked in two"
    assert "order number" in stack.texts(sender, first)[0]
    assert "reach you" in stack.texts(sender, "104257")[0]
    done = stack.texts(sender, "jane.doe@example.com")
    ticket = ticket_by_reference(stack, reference_in(done))
    assert ticket.category == TicketCategory.PROBLEM
    assert ticket.subject == first
    assert ticket.contact == "jane.doe@example.com"
    # Nothing proved this anonymous customer is Jane: the order number is kept for
    # the agent, but the ticket is not filed under her account or order.
    assert ticket.customer_id is None and ticket.order_id is None
    assert ticket.description == f"{first}\n\nOrder number given (not verified): 104257"
    assert [m.text for m in ticket.messages if m.sender == Sender.CUSTOMER] == [
        first,
        "104257",
        "jane.doe@example.com",
    ]

    # The reference works for a ticket-status check with the same verification rule.
    status_sender = new_sender()
    stack.texts(status_sender, f"what's the status of ticket {ticket.reference}")
    status = stack.texts(status_sender, "jane.doe@example.com")
    assert status == [
        f"Your ticket {ticket.reference} ({first}) is waiting for a member of our team."
    ]


def test_verified_customer_problem_ticket_is_filed_under_their_order(
    stack: Stack,
) -> None:
    sender = new_sender()
    stack.texts(sender, "where is my order 104257")
    stack.texts(sender, "jane.doe@example.com")  # verified
    stack.texts(sender, "the lamp in that order arrived with a cracked shade")
    done = stack.texts(sender, "104257")
    ticket = ticket_by_reference(stack, reference_in(done))
    with stack.session() as session:
        order = session.get(Order, ticket.order_id)
        assert order is not None and order.number == "104257"
        customer = session.get(Customer, ticket.customer_id)
        assert customer is not None and customer.email == "jane.doe@example.com"


def test_cancelling_an_order_that_has_not_shipped(stack: Stack) -> None:
    sender = new_sender()
    stack.texts(sender, "cancel my order 114455 please")
    ask = stack.texts(sender, "tom.obrien@example.com")
    assert "Shall I cancel it?" in ask[0]
    assert "is cancelled" in stack.texts(sender, "yes")[0]
    with stack.session() as session:
        order = session.scalars(select(Order).where(Order.number == "114455")).one()
        assert order.status == OrderStatus.CANCELLED


def test_help_centre_answers_and_honest_unknowns(stack: Stack) -> None:
    sender = new_sender()
    answer = stack.say(sender, "how many days do i have to return something")
    assert answer[0]["text"].startswith("Returns")
    unknown = stack.say(sender, "do you sell second hand cars?")
    assert unknown[0]["text"].startswith("I'm sorry, I don't know the answer")
    assert [b["payload"] for b in unknown[0]["buttons"]] == [
        "/report_problem",
        "/request_human",
    ]


def test_request_for_a_person_opens_handoff_ticket(stack: Stack) -> None:
    sender = new_sender()
    stack.texts(sender, "hello")
    replies = stack.texts(sender, "can I talk to a real person please")
    ticket = ticket_by_reference(stack, reference_in(replies))
    assert ticket.handed_off and ticket.category == TicketCategory.HANDOFF
    assert [m.text for m in ticket.messages if m.sender == Sender.CUSTOMER] == [
        "hello",
        "can I talk to a real person please",
    ]


def test_bare_order_number_starts_a_status_check(stack: Stack) -> None:
    sender = new_sender()
    assert "email address on your account" in stack.texts(sender, "104257")[0]


def test_forged_channel_identity_is_not_trusted(stack: Stack) -> None:
    sender = new_sender()
    forged = {"switchboard_identity": {"channel": "sms", "phone": "+14155550134",
                                       "signature": "0" * 64}}  # fmt: skip
    replies = stack.say(sender, "where is order 104257", metadata=forged)
    assert "email address on your account" in replies[0]["text"]


def test_http_api_needs_the_token(stack: Stack) -> None:
    sender = new_sender()
    stack.texts(sender, "hi")
    url = f"{stack.rasa_url}/conversations/{sender}/tracker"
    assert requests.get(url, timeout=10).status_code == 401
    assert requests.get(url, params={"token": "wrong"}, timeout=10).status_code == 401
    response = requests.get(url, params={"token": stack.token}, timeout=10)
    assert response.status_code == 200
    assert any(e.get("text") == "hi" for e in response.json()["events"])


def test_conversations_are_kept_in_the_sql_tracker_store(stack: Stack) -> None:
    sender = new_sender()
    stack.texts(sender, "hi there")
    with sqlite3.connect(stack.tracker_db) as db:
        rows = db.execute(
            "SELECT count(*) FROM events WHERE sender_id = ?", (sender,)
        ).fetchone()
    assert rows[0] >= 3
