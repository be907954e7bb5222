"""Rasa's events into the analytics rows: what each means, each counted once."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import TypeVar

import pytest
import yaml
from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.insights import events as recorder
from bot.insights.events import rating_in, record_events
from bot.insights.schema import InsightConversation, InsightFlow, InsightTurn
from bot.models import Customer
from bot.settings import PROJECT_ROOT
from tests.unit.insights_events import CONTEXT, Script

JANE, SAM = "jane.doe@example.com", "sam.lee@example.com"
JANE_PHONE = "+14155550134"


def conversations(session: Session, sender: str) -> list[InsightConversation]:
    return list(
        session.scalars(
            select(InsightConversation)
            .where(InsightConversation.conversation_id == sender)
            .order_by(InsightConversation.id)
        )
    )


def only(session: Session, sender: str) -> InsightConversation:
    [found] = conversations(session, sender)
    return found


Row = TypeVar("Row", InsightTurn, InsightFlow)


def rows(
    session: Session, model: type[Row], conversation: InsightConversation
) -> list[Row]:
    """The conversation's messages or flows, in order."""
    return list(
        session.scalars(
            select(model)
            .where(model.conversation_row_id == conversation.id)
            .order_by(model.id)
        )
    )


def turns(session: Session, conversation: InsightConversation) -> list[InsightTurn]:
    return rows(session, InsightTurn, conversation)


def flows(session: Session, conversation: InsightConversation) -> list[InsightFlow]:
    return rows(session, InsightFlow, conversation)


def customer_id(session: Session, email: str) -> int:
    found = session.scalar(select(Customer.id).where(Customer.email == email))
    assert found is not None
    return found


def test_an_order_status_check_verified_and_answered(session: Session) -> None:
    script = Script("c-order").session().order_status()
    assert record_events(session, script.events, CONTEXT) == len(script.events)
    row = only(session, "c-order")
    assert (row.channel, row.messages, row.intents) == (
        "rest",
        2,
        "check_order_status inform",
    )
    assert (row.first_intent, row.flows_started, row.flows_completed) == (
        "check_order_status",
        1,
        1,
    )
    assert (row.verified, row.verifications, row.answers) == (True, 1, 1)
    jane = customer_id(session, JANE)
    assert (row.customer_id, row.segment, row.contact_key) == (
        jane,
        "standard",
        f"customer:{jane}",
    )
    assert row.active_flow is None and not row.handed_off and not row.closed
    [flow] = flows(session, row)
    assert (flow.flow, flow.request, flow.verified, flow.completed) == (
        "order_form",
        "check_order_status",
        True,
        True,
    )
    first, second = turns(session, row)
    assert first.resolved and first.intent == "check_order_status"
    assert not second.resolved and second.intent == "inform"
    assert flow.turn_id == first.id


def test_an_event_delivered_twice_counts_once(session: Session) -> None:
    script = Script("c-twice").session().order_status().faq("can I return it?")
    half = len(script.events) // 2
    assert record_events(session, script.events[:half], CONTEXT) == half
    # Redelivered (say, an acknowledgement was lost) along with the rest.
    assert record_events(session, script.events, CONTEXT) == len(script.events) - half
    assert record_events(session, script.events, CONTEXT) == 0
    row = only(session, "c-twice")
    assert (row.messages, row.answers, row.kb_answered, row.flows_started) == (
        3,
        2,
        1,
        1,
    )
    assert len(turns(session, row)) == 3


def test_the_same_words_at_another_moment_are_another_event(session: Session) -> None:
    script = Script("c-again").session().user("hi", "greet").user("hi", "greet")
    assert record_events(session, script.events, CONTEXT) == len(script.events)
    assert only(session, "c-again").messages == 2


def test_help_centre_questions_keep_only_the_unanswered_words(
    session: Session,
) -> None:
    script = Script("c-kb").session()
    script.faq("can I return an item?").faq("do you sell used cars?", found=False)
    script.faq("how do I pay?")
    record_events(session, script.events, CONTEXT)
    row = only(session, "c-kb")
    assert (row.kb_answered, row.kb_unanswered, row.answers) == (2, 1, 2)
    found, unknown, pending = turns(session, row)
    assert (found.kb_found, found.kb_article, found.kb_question) == (
        True,
        "Returns and refunds",
        None,
    )
    assert (unknown.kb_found, unknown.kb_question, unknown.resolved) == (
        False,
        "do you sell used cars?",
        False,
    )
    assert pending.kb_found is True and pending.kb_question is None


def test_a_question_waiting_for_its_answer_is_kept_until_the_next_message(
    session: Session,
) -> None:
    script = Script("c-kb-wait").session().user("can I pay by cheque?", "faq")
    record_events(session, script.events, CONTEXT)
    [turn] = turns(session, only(session, "c-kb-wait"))
    assert turn.kb_question == "can I pay by cheque?" and turn.kb_found is None
    # The assistant never looked it up (its action failed): the words go.
    record_events(session, script.user("hello?", "greet").events, CONTEXT)
    first, _ = turns(session, only(session, "c-kb-wait"))
    assert first.kb_question is None


@pytest.mark.parametrize(
    ("journey", "reason"),
    [
        (lambda s: s.ask_for_person(), recorder.ASKED),
        (lambda s: s.fallback().fallback(second=True), recorder.MISUNDERSTOOD),
        (
            lambda s: s.order_status(SAM, ok=False)
            .user("104257", "inform")
            .action("order_form")
            .bot("utter_verification_locked")
            .action("action_offer_human")
            .bot("utter_offer_human")
            .listen()
            .user("yes", "affirm")
            .action("action_handoff")
            .slot("handoff_ticket", "T-LOCK01"),
            recorder.VERIFICATION,
        ),
        (
            lambda s: s.faq("do you sell cars?", found=False)
            .user("reset my password please", "reset_password")
            .action("action_account_help")
            .bot("utter_reset_password")
            .action("action_offer_human")
            .bot("utter_offer_human")
            .listen()
            .user("yes please", "affirm")
            .action("action_handoff")
            .slot("handoff_ticket", "T-OFFER1"),
            recorder.ACCEPTED_OFFER,
        ),
    ],
    ids=["asked", "misunderstood", "verification", "accepted_offer"],
)
def test_why_a_conversation_was_handed_off(
    session: Session, journey: object, reason: str
) -> None:
    script = Script(f"c-{reason}").session()
    journey(script)  # type: ignore[operator]
    record_events(session, script.events, CONTEXT)
    row = only(session, f"c-{reason}")
    assert row.handed_off and row.handoff_reason == reason
    assert row.handed_off_at is not None and row.ticket_reference is not None


def test_fallbacks_are_counted_per_message(session: Session) -> None:
    script = Script("c-fallback").session().fallback().user("hello", "greet")
    record_events(session, script.events, CONTEXT)
    row = only(session, "c-fallback")
    assert (row.fallbacks, row.handed_off) == (1, False)
    assert [t.fallback for t in turns(session, row)] == [True, False]


def test_a_fallback_answered_from_the_help_centre_is_no_fallback(
    session: Session,
) -> None:
    script = Script("c-fallback-kb").session()
    script.user("can i pay with paypal?", "nlu_fallback").action("action_fallback")
    script.bot("utter_faq_answer", title="Payment methods").listen()
    script.fallback()
    record_events(session, script.events, CONTEXT)
    row = only(session, "c-fallback-kb")
    assert (row.fallbacks, row.kb_answered, row.answers) == (1, 1, 1)
    answered, rephrase = turns(session, row)
    assert (answered.fallback, answered.resolved, answered.kb_article) == (
        False,
        True,
        "Payment methods",
    )
    assert rephrase.fallback is True


def test_a_person_asked_for_mid_flow_marks_the_flow_handed_off(
    session: Session,
) -> None:
    script = Script("c-midflow").session()
    script.user("cancel order 104257", "cancel_order").action("order_form")
    script.loop("order_form").bot("utter_ask_email").listen()
    script.user("I want a person", "request_human").action("action_deactivate_loop")
    script.loop(None).action("action_handoff").slot("handoff_ticket", "T-MID001")
    record_events(session, script.events, CONTEXT)
    row = only(session, "c-midflow")
    [flow] = flows(session, row)
    assert (flow.request, flow.handed_off, flow.completed) == (
        "cancel_order",
        True,
        False,
    )
    assert row.active_flow is None and row.ticket_reference == "T-MID001"


def test_a_stopped_flow_and_an_abandoned_one(session: Session) -> None:
    script = Script("c-stop").session()
    script.user("my lamp arrived broken", "report_problem").action("problem_form")
    script.loop("problem_form").bot("utter_ask_problem_description").listen()
    script.user("no forget it", "deny").action("action_deactivate_loop").loop(None)
    script.action("action_stop_flow").bot("utter_form_stopped").listen()
    script.start_registration()
    record_events(session, script.events, CONTEXT)
    row = only(session, "c-stop")
    stopped, waiting = flows(session, row)
    assert (stopped.stopped, stopped.ended_at is not None) == (True, True)
    assert (waiting.flow, waiting.ended_at, waiting.stopped) == (
        "registration_form",
        None,
        False,
    )
    assert row.active_flow == "registration_form" and row.flows_started == 2


def test_a_new_session_is_a_new_conversation_and_a_repeat_contact(
    session: Session,
) -> None:
    script = Script("c-back").session().user("hi", "greet").bot("utter_greet")
    script.wait(hours=2).session().user("hello again", "greet")
    script.wait(days=8).session().user("me again", "greet")
    record_events(session, script.events, CONTEXT)
    first, second, third = conversations(session, "c-back")
    assert first.closed and second.closed and not third.closed
    assert (first.repeat_contact, first.contacted_again) == (False, True)
    assert (second.repeat_contact, second.contacted_again) == (True, False)
    assert (third.repeat_contact, third.contacted_again) == (False, False)
    assert second.started_at - first.started_at > dt.timedelta(hours=2)


def test_the_customer_comes_from_a_signed_identity_only(session: Session) -> None:
    signed = Script("c-sms", channel="sms").session()
    signed.signed_user("where is my order", "check_order_status", phone=JANE_PHONE)
    forged = Script("c-forged", channel="sms").session()
    forged.signed_user(
        "where is my order", "check_order_status", phone=JANE_PHONE, secret="guess"
    )
    record_events(session, signed.events + forged.events, CONTEXT)
    jane = customer_id(session, JANE)
    assert only(session, "c-sms").customer_id == jane
    assert only(session, "c-sms").channel == "sms"
    lost = only(session, "c-forged")
    assert (lost.customer_id, lost.contact_key) == (None, "sender:c-forged")


def test_an_unknown_phone_is_followed_as_a_phone(session: Session) -> None:
    script = Script("c-stranger", channel="sms").session()
    script.signed_user("hi", "greet", phone="+14155550999")
    record_events(session, script.events, CONTEXT)
    row = only(session, "c-stranger")
    assert (row.customer_id, row.contact_key) == (None, "phone:+14155550999")


def test_a_customer_seen_on_two_channels_is_one_contact(session: Session) -> None:
    jane = customer_id(session, JANE)
    web = Script("c-web", channel="webchat").session()
    web.signed_user("where is my order", "check_order_status", customer_id=jane)
    web.bot("utter_ask_email")
    sms = Script("c-text", channel="sms", at=web.at + dt.timedelta(hours=3))
    sms.session().signed_user("hello", "greet", phone=JANE_PHONE)
    record_events(session, web.events + sms.events, CONTEXT)
    assert only(session, "c-web").channel == "web"
    assert only(session, "c-web").contacted_again
    assert only(session, "c-text").repeat_contact


def test_a_person_within_a_day_on_another_channel(session: Session) -> None:
    answered = Script("c-answered").session().order_status()
    later = Script("c-later", channel="sms", at=answered.at + dt.timedelta(hours=5))
    later.session().signed_user("I need a person", "request_human", phone=JANE_PHONE)
    later.action("action_handoff").slot("handoff_ticket", "T-LATER1")
    much_later = Script("c-much-later", at=answered.at + dt.timedelta(days=3))
    much_later.session().order_status()
    record_events(session, answered.events + later.events, CONTEXT)
    assert only(session, "c-answered").person_later_at == later.at
    record_events(session, much_later.events, CONTEXT)
    assert only(session, "c-much-later").person_later_at is None


def test_customer_identified_after_the_handoff_elsewhere(session: Session) -> None:
    # The handoff is recorded first; the earlier conversation learns who it was
    # (its verification) afterwards: the link is made then.
    handoff = Script("c-first", channel="sms").session()
    handoff.signed_user("a person please", "request_human", phone=JANE_PHONE)
    handoff.action("action_handoff").slot("handoff_ticket", "T-FIRST1")
    answered = Script("c-second", at=handoff.at - dt.timedelta(hours=1))
    answered.session().order_status()
    record_events(session, handoff.events, CONTEXT)
    record_events(session, answered.events, CONTEXT)
    assert only(session, "c-second").person_later_at == handoff.at


def test_tickets_the_assistant_opens_are_recorded(session: Session) -> None:
    script = Script("c-ticket").session()
    script.user("my lamp arrived broken", "report_problem").action("problem_form")
    script.loop("problem_form").bot("utter_ask_problem_description").listen()
    script.user("the shade is cracked", "inform").action("problem_form")
    script.loop(None).action("action_submit_problem_form")
    script.bot("utter_ticket_created", reference="T-PROB01").listen()
    record_events(session, script.events, CONTEXT)
    row = only(session, "c-ticket")
    assert (row.ticket_reference, row.flows_completed, row.answers) == (
        "T-PROB01",
        1,
        1,
    )


def test_feedback_ratings(session: Session) -> None:
    script = Script("c-feedback").session()
    script.user("great service, 5 stars", "give_feedback")
    script.action("action_record_feedback").bot("utter_thanks_for_feedback")
    script.user("4/5 would shop again", "greet")  # not feedback: no rating
    record_events(session, script.events, CONTEXT)
    rated, other = turns(session, only(session, "c-feedback"))
    assert (rated.rating, rated.resolved, other.rating) == (5, True, None)


@pytest.mark.parametrize(
    ("text", "rating"),
    [
        ("4/5", 4),
        ("I'd give you 3 out of 5", 3),
        ("10/10 brilliant", 5),
        ("2 stars, the parcel was late", 2),
        ("1 star", 1),
        ("6/5", None),
        ("0/10", None),
        ("order 104257 was late", None),
        ("the parcel was late", None),
    ],
)
def test_rating_in(text: str, rating: int | None) -> None:
    assert rating_in(text) == rating


def test_malformed_events_are_skipped(session: Session) -> None:
    script = Script("c-odd").session().user("hi", "greet")
    odd = [
        {"event": "user", "text": "no sender"},
        {"sender_id": "c-odd", "event": "user", "timestamp": "noon", "text": "x"},
        {"sender_id": "c-odd", "event": "slot", "name": "verification_failures",
         "value": float("nan")},
    ]  # fmt: skip
    assert record_events(session, [*script.events, *odd], CONTEXT) == 7
    assert only(session, "c-odd").messages == 2


def test_the_response_names_exist_in_the_domain() -> None:
    domain = yaml.safe_load(Path(PROJECT_ROOT / "domain.yml").read_text())
    responses = set(domain["responses"])
    named = {
        *recorder.COMPLETIONS,
        *recorder.ANSWERS,
        recorder.KB_UNKNOWN,
        recorder.VERIFICATION_LOCKED,
    }
    assert named <= responses
    actions = set(domain["actions"])
    assert {recorder.FALLBACK_ACTION, recorder.STOP_ACTION} <= actions
    assert set(recorder.VERIFIED_SLOTS) | {"handoff_ticket"} <= set(domain["slots"])
    intents = set(domain["intents"])
    assert (recorder.NOT_A_REQUEST - {"nlu_fallback"}) <= intents
