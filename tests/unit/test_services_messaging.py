from collections.abc import Iterator

import pytest
from sqlalchemy.orm import Session

from bot.services import messaging
from bot.services.messaging import OptedOut
from bot.twilio_client import TwilioClient
from tests.fakes.twilio import FakeTwilio


@pytest.mark.parametrize(
    ("text", "expected"),
    [("STOP", "stop"), ("stop.", "stop"), ("Unsubscribe", "stop"), ("START", "start"),
     ("help", "help"), ("stop sending me the wrong size", None), ("hi", None)],
)  # fmt: skip
def test_keywords(text: str, expected: str | None) -> None:
    assert messaging.keyword(text) == expected


def test_opt_out_and_back_in(session: Session) -> None:
    messaging.opt_out(session, "+14155550134")
    messaging.opt_out(session, "+14155550134")  # twice is fine
    assert messaging.is_opted_out(session, "+14155550134")
    messaging.opt_in(session, "+14155550134")
    assert not messaging.is_opted_out(session, "+14155550134")


def test_twilio_retries_are_recognised(session: Session) -> None:
    assert messaging.first_delivery(session, "sms:SM1") is True
    assert messaging.first_delivery(session, "sms:SM1") is False
    assert messaging.first_delivery(session, "sms:SM2") is True
    long_id = "voice:" + "x" * 100
    assert messaging.first_delivery(session, long_id) is True
    assert messaging.first_delivery(session, long_id) is False
    assert messaging.first_delivery(session, long_id[:-1] + "y") is True


def test_a_request_is_new_only_if_none_of_its_ids_was_seen(session: Session) -> None:
    assert messaging.first_delivery(session, "sms:SM1", "twilio-signature:a") is True
    # Same signature, another Sid (a variant of a seen request): a duplicate.
    assert messaging.first_delivery(session, "sms:SM2", "twilio-signature:a") is False
    # ...and its new Sid was recorded all the same.
    assert messaging.first_delivery(session, "sms:SM2") is False
    assert messaging.first_delivery(session, "sms:SM1", "twilio-signature:b") is False
    assert messaging.first_delivery(session, "sms:SM3", "twilio-signature:c") is True
    with pytest.raises(ValueError):
        messaging.first_delivery(session)


def test_numbered_choices(session: Session) -> None:
    messaging.remember_choices(session, "sms:+1", ["/affirm", "/deny"])
    assert messaging.resolve_choice(session, "sms:+1", " 2 ") == "/deny"
    assert messaging.resolve_choice(session, "sms:+1", "3") == "3"
    assert messaging.resolve_choice(session, "sms:+1", "yes") == "yes"
    assert messaging.resolve_choice(session, "sms:+1", "²") == "²"  # not a crash
    assert messaging.resolve_choice(session, "sms:+2", "1") == "1"
    messaging.remember_choices(session, "sms:+1", [])
    assert messaging.resolve_choice(session, "sms:+1", "1") == "1"


@pytest.fixture
def fake_twilio() -> Iterator[FakeTwilio]:
    fake = FakeTwilio().start()
    yield fake
    fake.stop()


def client(fake: FakeTwilio) -> TwilioClient:
    return TwilioClient("AC" + "2" * 32, "token", "+15005550006", api_base_url=fake.url)


def test_sms_goes_through_the_twilio_library(
    session: Session, fake_twilio: FakeTwilio
) -> None:
    sid = messaging.send_text(
        session, client(fake_twilio), "+14155550134", "Hello from the shop"
    )
    assert sid.startswith("SM")
    [sent] = fake_twilio.sent
    assert (sent.to, sent.from_, sent.body) == (
        "+14155550134",
        "+15005550006",
        "Hello from the shop",
    )
    assert sent.account_sid == "AC" + "2" * 32
    assert sent.auth.startswith("Basic ")


def test_nothing_is_sent_to_opted_out_numbers(
    session: Session, fake_twilio: FakeTwilio
) -> None:
    messaging.opt_out(session, "+14155550134")
    with pytest.raises(OptedOut):
        messaging.send_text(session, client(fake_twilio), "+14155550134", "Hello")
    assert fake_twilio.sent == []
