"""Account help: password resets, sign-in problems, changes and deletion."""

from __future__ import annotations

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.common import settings
from actions.validation import latest_intent

# Requests the bot can only explain; a person must carry them out.
NEEDS_A_PERSON = {"account_problem", "update_account", "delete_account"}


class ActionAccountHelp(Action):
    """Explains the self-service step for the account request, or offers a person."""

    def name(self) -> str:
        return "action_account_help"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        intent = latest_intent(tracker) or "account_problem"
        if intent not in NEEDS_A_PERSON | {"reset_password"}:
            intent = "account_problem"
        dispatcher.utter_message(
            response=f"utter_{intent}", reset_url=settings().password_reset_url
        )
        # For NEEDS_A_PERSON intents, a rule follows with action_offer_human.
        return []
