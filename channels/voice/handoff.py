"""Getting a caller to a person: a transfer while the team works, else a call back.

A transfer dials the agents' phone or joins their Twilio queue (`AGENT_PHONE_NUMBER`,
`AGENT_QUEUE_NAME`). With neither, outside opening hours (nobody would answer), or
when a transfer finds nobody, the caller is promised a call back under the
conversation's handoff ticket (`bot.services.handoff.ensure_ticket`).
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Sequence

from sqlalchemy.orm import Session
from twilio.twiml.voice_response import VoiceResponse

from bot.models import Channel, TicketCategory
from bot.services import handoff
from bot.services import tickets as ticket_service
from bot.services.customers import find_by_phone
from bot.services.hours import OpeningHours, describe_opening
from channels.common import Transactions
from channels.voice.ivr import Call
from channels.voice.prompts import NOBODY_FREE, UNAVAILABLE
from channels.voice.twiml import (
    AgentRoute,
    CallUrls,
    build_callback_response,
    build_hangup_response,
    build_transfer_response,
)

logger = logging.getLogger(__name__)


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
