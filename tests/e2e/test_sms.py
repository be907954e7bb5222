"""SMS journeys: realistic, signed Twilio Messaging webhooks against the running stack."""

from __future__ import annotations

import requests
from sqlalchemy import func, select
from twilio.request_validator import RequestValidator

from bot.models import Order, OrderStatus, SmsOptOut, Ticket, TicketCategory
from channels.sms import sms_conversation_id
from tests.customers import SMS_WEBHOOK, fresh_number, inbound, replies, text
from tests.fakes.twilio_webhooks import shifted
from tests.stack import Stack

WEBHOOK = SMS_WEBHOOK
JANE = "+14155550134"
SAM = "+14155550178"


def test_missing_or_invalid_signature_is_refused_and_not_processed(
    stack: Stack,
) -> None:
    number = fresh_number()
    for signature in (None, "bad-signature"):
        response = stack.twilio_post(
            WEBHOOK, inbound("where is my order", number), signature
        )
        assert response.status_code == 403
    tracker = requests.get(
        f"{stack.rasa_url}/conversations/{sms_conversation_id(number, stack.secret)}/tracker",
        params={"token": stack.token}, timeout=10,
    )  # fmt: skip
    assert not [e for e in tracker.json()["events"] if e["event"] == "user"]


def test_signature_over_tampered_body_is_refused(stack: Stack) -> None:
    params = inbound("hi", fresh_number())
    good = RequestValidator(stack.twilio_token).compute_signature(
        f"{stack.rasa_url}{WEBHOOK}", params
    )
    params["Body"] = "cancel order 112233"
    assert stack.twilio_post(WEBHOOK, params, signature=good).status_code == 403


def test_customer_texting_from_their_number_is_verified(stack: Stack) -> None:
    answer = text(stack, "hi where is my order 104257", JANE)
    joined = " ".join(answer)
    assert "Your order 104257 has shipped" in joined
    assert "UPS" in joined and "1Z999AA10123456784" in joined
    assert "https://www.ups.com/track?tracknum=1Z999AA10123456784" in joined
    assert "**" not in joined and "[" not in joined


def test_another_customers_order_needs_their_email(stack: Stack) -> None:
    number = fresh_number()
    assert "email address on your account" in " ".join(
        text(stack, "where is my order 104257", number)
    )


def test_replayed_message_sid_is_not_processed_twice(stack: Stack) -> None:
    number = fresh_number()
    params = inbound("i want to talk to a person", number)
    first = replies(stack.twilio_post(WEBHOOK, params))
    second = replies(stack.twilio_post(WEBHOOK, params))
    assert "T-" in " ".join(first)
    assert second == []
    with stack.session() as session:
        count = session.scalar(
            select(func.count()).select_from(Ticket)
            .where(Ticket.conversation_id == sms_conversation_id(number, stack.secret))
        )  # fmt: skip
    assert count == 1


def test_a_boundary_shifted_replay_is_refused(stack: Stack) -> None:
    """MessageSid=SM…NumMedia0 signs like the original: refused, not answered."""
    number = fresh_number()
    params = inbound("where is my order", number)
    url = f"{stack.rasa_url}{WEBHOOK}"
    validator = RequestValidator(stack.twilio_token)
    signature = validator.compute_signature(url, params)
    assert "order" in " ".join(replies(stack.twilio_post(WEBHOOK, params, signature)))
    variant = shifted(params, "MessageSid")
    assert "NumMedia" not in variant and validator.validate(url, variant, signature)
    refused = stack.twilio_post(WEBHOOK, variant, signature)
    assert refused.status_code == 400 and "MessageSid" in refused.text
    assert replies(stack.twilio_post(WEBHOOK, params, signature)) == []  # a replay
    conversation = sms_conversation_id(number, stack.secret)
    assert stack.user_texts(conversation) == ["where is my order"]


def test_buttons_become_numbered_choices_answered_with_a_digit(stack: Stack) -> None:
    ask = text(stack, "please cancel my order 112233", SAM)
    assert ask[-1] == "Reply 1 for Yes, cancel it; 2 for No, keep it."
    done = text(stack, "1", SAM)
    assert "order 112233 is cancelled" in " ".join(done)
    with stack.session() as session:
        order = session.scalars(select(Order).where(Order.number == "112233")).one()
        assert order.status == OrderStatus.CANCELLED


def test_stop_start_help(stack: Stack) -> None:
    number = fresh_number()
    assert "unsubscribed" in text(stack, "STOP", number)[0]
    with stack.session() as session:
        assert session.get(SmsOptOut, number) is not None
    assert text(stack, "where is my order 104257", number) == []  # silence
    assert "Reply STOP" in text(stack, "HELP", number)[0]  # HELP is always answered
    assert "resubscribed" in text(stack, "START", number)[0]
    with stack.session() as session:
        assert session.get(SmsOptOut, number) is None
    assert text(stack, "hello", number)  # answered again


def test_problem_ticket_by_sms(stack: Stack) -> None:
    done = text(
        stack, "the blender i got arrived with a cracked jug, really annoyed", SAM
    )
    assert "order" in " ".join(done).lower()
    done = text(stack, "no", SAM)
    with stack.session() as session:
        ticket = session.scalars(
            select(Ticket).where(Ticket.conversation_id == sms_conversation_id(SAM, stack.secret))
            .order_by(Ticket.id.desc())
        ).first()  # fmt: skip
        assert ticket is not None
        assert ticket.category == TicketCategory.PROBLEM
        assert ticket.channel.value == "sms" and ticket.contact == SAM
        assert ticket.customer is not None and ticket.customer.name == "Sam Lee"
    assert ticket.reference in " ".join(done)


def test_help_centre_answer_by_sms(stack: Stack) -> None:
    answer = text(stack, "what payment methods do you take", fresh_number())
    assert answer[0].startswith("Payment methods")


def test_human_request_by_sms(stack: Stack) -> None:
    answer = " ".join(text(stack, "can a real person text me back", fresh_number()))
    assert "text you back here" in answer and "T-" in answer


def test_rest_clients_cannot_guess_an_sms_conversation(stack: Stack) -> None:
    """REST lets clients pick conversation ids; SMS ids are keyed, so unguessable."""
    text(stack, "i want to create an account", JANE)  # Jane's SMS form is waiting
    for guess in (f"sms:{JANE}", JANE, f"sms-{JANE}"):
        response = requests.post(
            f"{stack.rasa_url}/webhooks/rest/webhook",
            json={"sender": guess, "message": "my name is mallory"}, timeout=30,
        )  # fmt: skip
        assert "email" not in response.text.lower()  # not Jane's form


def test_oversized_body_is_refused_before_parsing(stack: Stack) -> None:
    params = inbound("x" * 100_000, fresh_number())
    response = stack.twilio_post(WEBHOOK, params)  # even correctly signed
    assert response.status_code == 403
