"""What to do with a bare piece of information given outside any form."""

from __future__ import annotations

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, FollowupAction, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict


class ActionRouteInform(Action):
    """An order number starts a status check, a ticket reference a ticket check."""

    def name(self) -> str:
        return "action_route_inform"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        entities = {e.get("entity") for e in tracker.latest_message.get("entities", [])}
        if "ticket_reference" in entities:
            return [FollowupAction("ticket_status_form")]
        if "order_number" in entities:
            return [SlotSet("order_request", "status"), FollowupAction("order_form")]
        dispatcher.utter_message(response="utter_how_can_help")
        return []
