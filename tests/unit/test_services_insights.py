"""The Insights definitions and figures, on rows recorded from Rasa's events."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from bot import clock
from bot.insights.events import record_events
from bot.insights.schema import InsightConversation
from bot.models import Channel, Ticket, TicketCategory, TicketStatus
from bot.services import insights
from bot.services.insights import Filters
from tests.unit.insights_events import CONTEXT, START, Script

DAY = dt.date(2026, 11, 20)  # START's day in New York
JANE_PHONE = "+14155550134"
MINUTE = dt.timedelta(minutes=1)


def record(session: Session, *scripts: Script) -> None:
    record_events(session, [e for script in scripts for e in script.events], CONTEXT)


def the_mix() -> list[Script]:
    """The e2e mix: 2 order checks, 2 questions (1 unknown), an SMS handoff, 1 left.

    The registration is left after its first question.
    """
    return [
        Script("mix-order-1").session().order_status(),
        Script("mix-order-2").session().order_status("sam.lee@example.com"),
        Script("mix-kb", channel="webchat").session().faq("can I return an item?"),
        Script("mix-unknown").session().faq("do you sell used cars?", found=False),
        Script("mix-sms", channel="sms").session().ask_for_person("T-SMS001"),
        Script("mix-registration").session().start_registration(),
    ]


def outcome_of(session: Session, sender: str, now: dt.datetime) -> str:
    return str(
        session.scalar(
            select(insights.outcome(now)).where(
                InsightConversation.conversation_id == sender
            )
        )
    )


def test_the_known_mix_once_every_conversation_ended(session: Session) -> None:
    record(session, *the_mix())
    now = START + dt.timedelta(hours=2)
    totals = insights.totals(session, Filters(DAY, DAY), now)
    assert totals.conversations == 6
    assert totals.outcomes == {
        "contained": 3, "handed_off": 1, "abandoned": 1, "unresolved": 1, "open": 0,
    }  # fmt: skip
    assert totals.messages == 8 and totals.fallbacks == 0
    rates = totals.rates
    assert rates["containment"] == pytest.approx(3 / 6)
    assert rates["handoff"] == pytest.approx(1 / 6)
    assert rates["abandonment"] == pytest.approx(1 / 6)
    assert rates["fallback"] == 0
    assert rates["verification_failure"] == 0
    assert rates["first_contact_resolution"] == pytest.approx(3 / 6)
    assert rates["repeat_contact"] == 0


def test_conversations_still_going_are_open(session: Session) -> None:
    scripts = the_mix()
    record(session, *scripts)
    ended = max(script.at for script in scripts)
    now = ended + 5 * MINUTE
    assert outcome_of(session, "mix-registration", now) == "open"  # a form waits
    assert outcome_of(session, "mix-unknown", now) == "open"  # may ask again
    assert outcome_of(session, "mix-order-1", now) == "contained"
    later = ended + insights.SESSION_IDLE + MINUTE
    assert outcome_of(session, "mix-registration", later) == "abandoned"
    assert outcome_of(session, "mix-unknown", later) == "unresolved"


def test_a_new_session_ends_the_conversation_at_once(session: Session) -> None:
    script = Script("new-session").session().start_registration()
    script.wait(minutes=61).session().user("hi", "greet")
    record(session, script)
    first, second = session.scalars(
        select(InsightConversation)
        .where(InsightConversation.conversation_id == "new-session")
        .order_by(InsightConversation.id)
    )
    now = script.at + MINUTE
    assert (first.closed, second.closed) == (True, False)
    rows = session.execute(
        select(InsightConversation.id, insights.outcome(now)).where(
            InsightConversation.conversation_id == "new-session"
        )
    ).all()
    assert dict(rows) == {first.id: "abandoned", second.id: "open"}


def test_a_person_within_24_hours_means_not_contained(session: Session) -> None:
    answered = Script("p-answered").session().order_status()  # Jane
    person = Script("p-person", channel="sms", at=answered.at + dt.timedelta(hours=23))
    person.session().signed_user("a person please", "request_human", phone=JANE_PHONE)
    person.action("action_handoff").slot("handoff_ticket", "T-PERS01")
    record(session, answered, person)
    now = person.at + dt.timedelta(hours=2)
    assert outcome_of(session, "p-answered", now) == "unresolved"
    assert outcome_of(session, "p-person", now) == "handed_off"


def test_a_person_a_day_and_more_later_leaves_it_contained(session: Session) -> None:
    answered = Script("q-answered").session().order_status()
    person = Script("q-person", channel="sms", at=answered.at + dt.timedelta(hours=25))
    person.session().signed_user("a person please", "request_human", phone=JANE_PHONE)
    person.action("action_handoff").slot("handoff_ticket", "T-PERS02")
    record(session, answered, person)
    assert outcome_of(session, "q-answered", person.at) == "contained"


def test_settled_outcomes_are_stored_once_nothing_can_change_them(
    session: Session,
) -> None:
    scripts = the_mix()
    record(session, *scripts)
    ended = max(script.at for script in scripts)
    with clock.frozen_at(ended + dt.timedelta(hours=23)):
        assert insights.settle_outcomes(session) == 0
    # Recorded up to `ended` only: a clock a week on settles no later than that.
    with clock.frozen_at(ended + dt.timedelta(days=7)):
        assert insights.settle_outcomes(session) == 0
    late = Script("mix-late", at=ended + dt.timedelta(hours=25)).session()
    record(session, late.user("hi", "greet"))
    with clock.frozen_at(late.at + MINUTE):
        assert insights.settle_outcomes(session) == 6
        assert insights.settle_outcomes(session) == 0
    stored = dict(
        session.execute(
            select(InsightConversation.conversation_id, InsightConversation.outcome)
        ).all()
    )
    assert stored["mix-registration"] == "abandoned"
    assert stored["mix-order-1"] == "contained"
    assert stored["mix-late"] is None
    # The stored outcome is the outcome from now on.
    session.execute(
        update(InsightConversation)
        .where(InsightConversation.conversation_id == "mix-order-1")
        .values(person_later_at=late.at)
    )
    assert outcome_of(session, "mix-order-1", late.at) == "contained"


def test_the_channel_and_day_filters(session: Session) -> None:
    yesterday = Script("f-yesterday", at=START - dt.timedelta(days=1)).session()
    record(session, *the_mix(), yesterday.order_status())
    now = START + dt.timedelta(hours=2)
    sms = insights.totals(session, Filters(DAY, DAY, "sms"), now)
    assert (sms.conversations, sms.outcomes["handed_off"]) == (1, 1)
    two_days = insights.totals(session, Filters(DAY - dt.timedelta(days=1), DAY), now)
    assert two_days.conversations == 7
    assert (
        insights.totals(
            session,
            Filters(DAY + dt.timedelta(days=1), DAY + dt.timedelta(days=1)),
            now,
        ).rates["containment"]
        is None
    )


def test_filters_refuse_nonsense() -> None:
    with pytest.raises(ValueError, match="ends before"):
        Filters(DAY, DAY - dt.timedelta(days=1))
    with pytest.raises(ValueError, match="channel"):
        Filters(DAY, DAY, "fax")
    assert Filters.last_days(7, DAY) == Filters(DAY - dt.timedelta(days=6), DAY)
    with pytest.raises(ValueError):
        Filters.last_days(0, DAY)


def test_fallback_and_verification_failure_rates(session: Session) -> None:
    tries = Script("r-tries").session().order_status(ok=False)
    tries.user("jane.doe@example.com", "inform").action("order_form")
    tries.slot("verified_order", "104257").slot(
        "verified_contact", "jane.doe@example.com"
    )
    confused = (
        Script("r-confused", channel="sms").session().fallback().user("hi", "greet")
    )
    record(session, tries, confused)
    totals = insights.totals(session, Filters(DAY, DAY), START + dt.timedelta(hours=2))
    assert (totals.verifications, totals.verification_failures) == (1, 1)
    assert totals.rates["verification_failure"] == pytest.approx(0.5)
    assert totals.rates["fallback"] == pytest.approx(1 / 5)
    channels = insights.report(session, Filters(DAY, DAY), START).channels
    assert [(c.channel, c.messages, c.fallbacks) for c in channels] == [
        ("rest", 3, 0),
        ("sms", 2, 1),
    ]
    assert channels[1].fallback_rate == pytest.approx(0.5)


def test_repeat_contacts_and_first_contact_resolution(session: Session) -> None:
    first = Script("fcr-1").session().order_status()  # Jane, contained...
    again = Script("fcr-2", at=first.at + dt.timedelta(days=2)).session()
    again.order_status()  # ...but back two days later: not resolved first time
    handed = Script("fcr-3", channel="sms").session().ask_for_person("T-FCR001")
    unresolved = Script("fcr-4", channel="sms").session().ask_for_person("T-FCR002")
    record(session, first, again, handed, unresolved)
    for reference, status in (
        ("T-FCR001", TicketStatus.RESOLVED),
        ("T-FCR002", TicketStatus.NEW),
    ):
        session.add(
            Ticket(
                reference=reference,
                channel=Channel.SMS,
                category=TicketCategory.HANDOFF,
                subject="handoff",
                status=status,
            )
        )
    session.flush()
    filters = Filters(DAY, DAY + dt.timedelta(days=2))
    totals = insights.totals(session, filters, again.at + dt.timedelta(hours=2))
    assert totals.conversations == 4 and totals.repeat_contacts == 1
    # fcr-2 (contained, nobody came back) and fcr-3 (its ticket resolved).
    assert totals.resolved_first_contact == 2
    assert totals.rates["first_contact_resolution"] == pytest.approx(2 / 4)
    assert totals.rates["repeat_contact"] == pytest.approx(1 / 4)


def test_the_charts_figures(session: Session) -> None:
    scripts = the_mix()
    scripts.append(
        Script("ch-feedback").session()
        .user("great, 5 stars", "give_feedback").action("action_record_feedback")
        .bot("utter_thanks_for_feedback")
        .user("the courier was rude 2/5", "give_feedback")
        .user("thanks anyway", "give_feedback")
    )  # fmt: skip
    scripts.append(
        Script("ch-unknown-again").session().faq("Do you sell used cars? ", found=False)
    )
    record(session, *scripts)
    report = insights.report(session, Filters(DAY, DAY), START + dt.timedelta(hours=2))
    assert [(d.day, d.channel, d.conversations) for d in report.days] == [
        (DAY, "rest", 6),
        (DAY, "sms", 1),
        (DAY, "web", 1),
    ]
    rest = report.days[0]
    assert rest.outcomes == {"contained": 3, "abandoned": 1, "unresolved": 2}
    intents = {row.intent: (row.messages, row.resolved) for row in report.intents}
    assert intents == {
        "check_order_status": (2, 2),
        "faq": (3, 1),
        "give_feedback": (3, 1),
        "request_human": (1, 0),
        "register_account": (1, 0),
    }
    assert [
        (f.flow, f.started, f.verified, f.completed, f.handed_off)
        for f in report.funnels
    ] == [("check_order_status", 2, 2, 2, 0), ("register_account", 1, 0, 0, 0)]
    assert report.handoff_reasons == {"asked": 1}
    assert [(q.question, q.asked) for q in report.unanswered] == [
        ("do you sell used cars?", 2)
    ]
    assert report.csat.ratings == 2 and report.csat.satisfied == 1
    assert report.csat.score == pytest.approx(0.5)
    assert report.csat.average == pytest.approx(3.5)
    assert report.csat.unrated_feedback == 1
    segments = {(s.segment, s.conversations, s.handoffs) for s in report.segments}
    assert segments == {("standard", 1, 0), ("vip", 1, 0), ("unknown", 6, 1)}


def test_an_empty_range_has_no_rates(session: Session) -> None:
    report = insights.report(session, Filters(DAY, DAY), START)
    assert report.totals.conversations == 0
    assert set(report.totals.rates.values()) == {None}
    assert report.csat.score is None and report.days == []
