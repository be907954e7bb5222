"""Getting a caller to a person: a transfer while the team works, else a call back.

A transfer dials the agents' phone or joins their Twilio queue (`AGENT_PHONE_NUMBER`,
`AGENT_QUEUE_NAME`). With neither, outside opening hours (nobody would answer), or
when a transfer finds nobody, the caller is promised a call back under the
conversation's handoff ticket (`bot.services.handoff.ensure_ticket`).

A caller waiting in the queue hears how to go back to the assistant (star, or
saying so), and goes back by themselves when their conversation's hold is released
meanwhile (`bot.services.back_to_bot`: nobody claimed it in time, or an agent
handed it back).
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Sequence

from sqlalchemy.orm import Session
from twilio.twiml.voice_response import VoiceResponse

from bot.models import Channel, TicketCategory
from bot.services import back_to_bot, handoff, queue
from bot.services import tickets as ticket_service
from bot.services.assistant_request import asks_for_the_assistant
from bot.services.customers import find_by_phone
from bot.services.hours import OpeningHours, describe_opening
from channels.common import Transactions
from channels.voice.ivr import Call
from channels.voice.prompts import (
    BACK,
    BACK_KEPT,
    BACK_UNCLAIMED,
    BACK_WITHDRAWN,
    NOBODY_FREE,
    UNAVAILABLE,
)
from channels.voice.twiml import (
    AgentRoute,
    CallUrls,
    build_callback_response,
    build_hangup_response,
    build_leave_queue_response,
    build_queue_wait_response,
    build_transfer_response,
)

logger = logging.getLogger(__name__)


# The transcript line for a caller who left the queue with the key.
STAR_PRESSED = "[pressed * to go back to the assistant]"
RETURN_KEY = "*"


def back_from_queue(returned: back_to_bot.Returned | None) -> str:
    """What a caller who asked to leave the queue hears (None: nobody held the call)."""
    if returned is None:
        return BACK
    return BACK_WITHDRAWN if returned.withdrawn else BACK_KEPT


def released_notice(session: Session, conversation_id: str) -> str | None:
    """What to tell a waiting caller whose hold was released; None: keep waiting.

    A caller transferred without a handoff ticket (the channel's own transfer) has
    no hold to lose, and waits.
    """
    ticket = back_to_bot.released_ticket(session, conversation_id)
    if ticket is None:
        return None
    return BACK_UNCLAIMED if ticket.status in queue.OPEN_STATUSES else BACK


def callback_ticket(
    session: Session,
    conversation_id: str,
    caller: str | None,
    caller_verified: bool = False,
) -> str:
    """The call's handoff ticket, opened here when the assistant couldn't do it.

    `caller` (From) is always the number to call back: a call back reaches the real
    owner of the number, whoever placed the call. Only a verified number links the
    ticket to that number's customer.
    """

    def new_ticket() -> ticket_service.TicketRequest:
        return ticket_service.TicketRequest(
            channel=Channel.VOICE,
            category=TicketCategory.HANDOFF,
            subject="Call handed off to a person",
            description="The caller asked for a person while the assistant was "
            "unavailable.",
            customer=find_by_phone(session, caller)
            if caller and caller_verified
            else None,
            conversation_id=conversation_id,
            contact=caller,
            handed_off=True,
        )

    # The assistant's ticket may have no contact (it had no vouched number).
    return handoff.ensure_ticket(
        session, conversation_id, new_ticket, contact=caller
    ).reference


class CallHandoff:
    """Transfers callers to the agents, or promises them a call back."""

    def __init__(
        self,
        route: AgentRoute,
        hours: OpeningHours,
        clock: Callable[[], dt.datetime],
        db: Transactions,
    ) -> None:
        self.route = route
        self.hours = hours
        self.clock = clock
        self._db = db

    async def hand_off(
        self, call: Call, speech: Sequence[str], urls: CallUrls
    ) -> VoiceResponse:
        """Transfer to the agents, or promise a call back under a handoff ticket.

        Outside opening hours nobody would answer a transfer: the caller is told
        when the team is back and gets a call back then.
        """
        back = self.back_at()
        if self.route.live and back is None:
            return build_transfer_response(speech, self.route, urls)
        return await self.call_back(call, speech, back)

    def back_at(self) -> str | None:
        """When the team is back ("tomorrow at 8 am"), or None while it is working.

        Hours that never open (an empty OPENING_HOURS) promise nothing, like the
        assistant's handoff message.
        """
        now = self.clock()
        if self.hours.is_open(now):
            return None
        opening = self.hours.next_opening(now)
        return describe_opening(opening, now) if opening is not None else None

    async def call_back(
        self, call: Call, speech: Sequence[str], back: str | None = None
    ) -> VoiceResponse:
        """Promise a call back (after `speech`), with the call's handoff ticket."""
        try:
            await self._db(
                lambda s: callback_ticket(
                    s, call.conversation_id, call.caller, call.caller_verified
                )
            )
        except Exception:
            logger.exception("could not open a handoff ticket for call %s", call.sid)
            return build_hangup_response([*speech, UNAVAILABLE])
        return build_callback_response(
            speech, caller_known=call.caller is not None, back=back
        )

    async def in_queue(
        self, call: Call, urls: CallUrls, answered: bool
    ) -> VoiceResponse:
        """A webhook of a caller in the agents' queue: hold music, or leave it.

        `answered`: the caller's own keys or speech (first delivery). "*" or asking
        for the assistant leaves the queue and withdraws or keeps the request
        (`back_to_bot.customer_returns`); so does a hold released meanwhile.
        """
        wants_back = call.digits == RETURN_KEY or (
            not call.digits and asks_for_the_assistant(call.speech)
        )
        if answered and wants_back:
            said = call.speech or STAR_PRESSED
            returned = await self._db(
                lambda s: back_to_bot.customer_returns(s, call.conversation_id, said)
            )
            return build_leave_queue_response((back_from_queue(returned),))
        notice = await self._db(lambda s: released_notice(s, call.conversation_id))
        if notice is not None:
            return build_leave_queue_response((notice,))
        return build_queue_wait_response(urls)

    async def after_transfer(self, call: Call, params: dict[str, str]) -> VoiceResponse:
        """Twilio's report on a <Dial>/<Enqueue>: done, or nobody answered."""
        dial_status = params.get("DialCallStatus", "")
        queue_result = params.get("QueueResult", "")
        if dial_status in ("completed", "answered") or queue_result in (
            "bridged",
            "hangup",
        ):
            return build_hangup_response(())
        logger.info(
            "transfer of call %s failed (%s)", call.sid, dial_status or queue_result
        )
        return await self.call_back(call, (NOBODY_FREE,))
