"""Registration by email confirmation: links, expiry, one use, unproven phones."""

import datetime as dt

import pytest
from itsdangerous import URLSafeSerializer
from sqlalchemy import select
from sqlalchemy.orm import Session

from bot import clock
from bot.mailer import MailOutbox
from bot.models import Customer, Registration
from bot.proactive.schema import ContactConsent
from bot.services import registration as reg
from bot.services.customers import NewCustomer, find_by_email, find_by_phone

LINKS = reg.Links(
    secret="test-secret",
    confirm_url="http://shop.test/register/confirm",
    reset_url="http://shop.test/account/reset",
)
ADA = NewCustomer("Ada  Lovelace", "Ada@Example.com", "(415) 555-0199")


def start(
    session: Session,
    new: NewCustomer = ADA,
    conversation: str = "c-1",
    vouched_phone: str | None = None,
) -> Registration:
    return reg.start_registration(
        session,
        new,
        conversation_id=conversation,
        vouched_phone=vouched_phone,
        links=LINKS,
    )


def token_in_mail(session: Session, email: str) -> str:
    (mail,) = MailOutbox(session).sent_to(email)
    link = next(w for w in mail.body.split() if w.startswith(LINKS.confirm_url))
    return link.removeprefix(LINKS.confirm_url + "/")


def confirm(session: Session, token: str) -> reg.ConfirmResult:
    return reg.confirm_registration(session, token, LINKS.secret)


def test_the_mailed_link_creates_the_customer_once(session: Session) -> None:
    start(session)
    assert find_by_email(session, "ada@example.com") is None
    token = token_in_mail(session, "ada@example.com")
    assert confirm(session, token) == reg.ConfirmResult(
        reg.Confirmation.CONFIRMED, "Ada Lovelace"
    )
    customer = find_by_email(session, "ada@example.com")
    assert customer is not None and customer.name == "Ada Lovelace"
    assert confirm(session, token).outcome == reg.Confirmation.USED


def test_a_typed_phone_never_becomes_the_customers(session: Session) -> None:
    # Otherwise a text from that phone would be filed under the registrant.
    registration = start(session)
    confirm(session, token_in_mail(session, "ada@example.com"))
    assert registration.phone == "+14155550199"  # kept, for an agent to see
    assert find_by_phone(session, "+14155550199") is None
    customer = find_by_email(session, "ada@example.com")
    assert customer is not None and customer.phone is None


def test_a_phone_the_channel_vouched_for_is_the_customers(session: Session) -> None:
    start(session, vouched_phone="+14155550199")
    confirm(session, token_in_mail(session, "ada@example.com"))
    customer = find_by_phone(session, "+14155550199")
    assert customer is not None and customer.email == "ada@example.com"


def test_links_expire_after_a_day(session: Session) -> None:
    start(session)
    token = token_in_mail(session, "ada@example.com")
    with clock.frozen_at(clock.now() + reg.LINK_VALID + dt.timedelta(minutes=1)):
        assert confirm(session, token).outcome == reg.Confirmation.EXPIRED
    assert find_by_email(session, "ada@example.com") is None


@pytest.mark.parametrize(
    "forge",
    [
        lambda t: t[:-2] + ("AA" if not t.endswith("AA") else "BB"),
        lambda t: URLSafeSerializer("guessed", salt=reg.LINK_SALT).dumps(
            URLSafeSerializer("test-secret", salt=reg.LINK_SALT).loads(t)
        ),
        # Signed with SECRET_KEY, but for another purpose (e.g. a session cookie).
        lambda t: URLSafeSerializer("test-secret").dumps(
            URLSafeSerializer("test-secret", salt=reg.LINK_SALT).loads(t)
        ),
        lambda t: "not-a-token",
        # Signed by us around an id no row can have (SQLite cannot even bind it).
        lambda t: URLSafeSerializer("test-secret", salt=reg.LINK_SALT).dumps(
            {"r": 2**63, "n": "x"}
        ),
    ],
    ids=["tampered", "other key", "other salt", "garbage", "id out of range"],
)
def test_forged_links_do_nothing(session: Session, forge: object) -> None:
    start(session)
    token = token_in_mail(session, "ada@example.com")
    assert confirm(session, forge(token)).outcome == reg.Confirmation.INVALID  # type: ignore[operator]
    assert find_by_email(session, "ada@example.com") is None


def test_a_link_for_a_wiped_and_reused_row_does_nothing(session: Session) -> None:
    registration = start(session)
    token = token_in_mail(session, "ada@example.com")
    registration.nonce = "another-row-with-the-same-id"
    session.flush()
    assert confirm(session, token).outcome == reg.Confirmation.INVALID


def test_a_known_email_gets_a_warning_not_a_link(session: Session) -> None:
    registration = start(session, NewCustomer("Mallory", "jane.doe@example.com"))
    (mail,) = MailOutbox(session).sent_to("jane.doe@example.com")
    assert mail.body.startswith("Hello Jane Doe,")
    assert LINKS.reset_url in mail.body and LINKS.confirm_url not in mail.body
    # Even a correctly signed link for that row creates nothing.
    token = reg.confirmation_token(registration, LINKS.secret)
    assert confirm(session, token).outcome == reg.Confirmation.INVALID


def test_two_pending_registrations_for_one_email_make_one_customer(
    session: Session,
) -> None:
    first, second = (
        start(session, conversation="c-1"),
        start(session, conversation="c-2"),
    )
    links = [reg.confirmation_token(r, LINKS.secret) for r in (first, second)]
    assert confirm(session, links[0]).outcome == reg.Confirmation.CONFIRMED
    assert confirm(session, links[1]).outcome == reg.Confirmation.ACCOUNT_EXISTS
    count = session.query(Customer).filter_by(email="ada@example.com").count()
    assert count == 1


def test_throttled_per_phone_too(session: Session) -> None:
    for n in range(3):
        start(
            session, NewCustomer("Ada", f"ada{n}@example.com", "+14155550199"), f"c{n}"
        )
    with pytest.raises(reg.RegistrationThrottled):
        start(session, NewCustomer("Ada", "ada9@example.com", "+14155550199"), "c9")


def test_the_throttle_window_passes(session: Session) -> None:
    for n in range(3):
        start(session, NewCustomer("Ada", f"ada{n}@example.com"), "c-same")
    with pytest.raises(reg.RegistrationThrottled):
        start(session, NewCustomer("Ada", "ada8@example.com"), "c-same")
    with clock.frozen_at(clock.now() + dt.timedelta(minutes=61)):
        start(session, NewCustomer("Ada", "ada9@example.com"), "c-same")


def consents_of(session: Session, email: str) -> dict[str, tuple[bool, str]]:
    customer = find_by_email(session, email)
    assert customer is not None
    rows = session.scalars(
        select(ContactConsent).where(ContactConsent.customer_id == customer.id)
    )
    return {row.channel.value: (row.granted, row.source.value) for row in rows}


def answer_updates(session: Session, updates: bool, phone: str | None) -> None:
    start(session, vouched_phone=phone)
    token = token_in_mail(session, "ada@example.com")
    reg.confirm_registration(session, token, LINKS.secret, updates=updates)


def test_a_yes_to_updates_covers_every_channel_the_customer_has(
    session: Session,
) -> None:
    answer_updates(session, True, "+14155550199")
    assert consents_of(session, "ada@example.com") == {
        "sms": (True, "registration"),
        "web": (True, "registration"),
    }


def test_without_a_proven_phone_the_answer_is_for_the_web_chat_only(
    session: Session,
) -> None:
    answer_updates(session, True, None)  # the typed phone is not the customer's
    assert consents_of(session, "ada@example.com") == {"web": (True, "registration")}


def test_a_no_is_recorded_and_not_asking_records_nothing(session: Session) -> None:
    answer_updates(session, False, "+14155550199")
    assert consents_of(session, "ada@example.com") == {
        "sms": (False, "registration"),
        "web": (False, "registration"),
    }
    start(session, NewCustomer("Bo Rivers", "bo@example.com"), conversation="c-2")
    confirm(session, token_in_mail(session, "bo@example.com"))
    assert consents_of(session, "bo@example.com") == {}
