"""Help-centre answers from the knowledge base articles."""

from __future__ import annotations

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.common import settings
from knowledge_base import KnowledgeBase, Match, served_knowledge_base

#: The response an article is given in (voice, SMS and web each have their form).
ANSWER_RESPONSE = "utter_faq_answer"


def knowledge_base() -> KnowledgeBase:
    """The articles and their embeddings, built once per action server process."""
    return served_knowledge_base(settings().var_dir)


class ActionAnswerFaq(Action):
    """Answers with the best-matching article, or says honestly it doesn't know."""

    def name(self) -> str:
        return "action_answer_faq"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        question = tracker.latest_message.get("text") or ""
        match = knowledge_base().search(question)
        if match is None:
            dispatcher.utter_message(response="utter_faq_unknown")
            return []
        answer_with(dispatcher, match)
        return []


def answer_with(dispatcher: CollectingDispatcher, match: Match) -> None:
    """Reply with an article: the IVR reads its summary, SMS and web its answer."""
    dispatcher.utter_message(
        response=ANSWER_RESPONSE,
        title=match.article.title,
        body=match.answer,
        summary=match.article.summary,
    )
