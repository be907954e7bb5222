"""What the phone IVR says itself: greeting, menus, reprompts, apologies, goodbyes.

The assistant's own words come from its responses (the `channel: voice` variants in
domain.yml); these are the channel's, spoken when it answers without the assistant.
"""

from __future__ import annotations

from channels.voice.speech import spell_digits

GREETING = (
    "Hi, thanks for calling the demo shop. I'm Switchboard, the automated assistant."
)
MAIN_MENU_PROMPT = (
    "Press 1 for order status, 2 to report a problem, 3 for account and "
    "registration, 0 for an agent, or just tell me what you need."
)
MAIN_MENU_SHORT = (
    "Press 1 for orders, 2 for a problem, 3 for your account, or 0 for an agent."
)
ACCOUNT_MENU_PROMPT = (
    "Press 1 to create an account, 2 for help signing in or resetting your "
    "password, or 3 to change or delete your account. Press 0 for an agent."
)
ACCOUNT_MENU_SHORT = (
    "Press 1 to create an account, 2 for sign-in help, or 3 to change your account."
)
DIDNT_CATCH = "Sorry, I didn't catch that."
NOT_AN_OPTION = "Sorry, that isn't one of the options."
ANYTHING_ELSE = "Is there anything else I can help with? Press 0 for an agent."
READBACK_QUESTION = "Press 1 if that's right, or 2 to try again."
TRY_AGAIN = "OK, let's try again."
AGENT_OFFER = (
    "I still can't hear you. Press 0 to talk to a member of our team, "
    "or tell me what you need."
)
NO_INPUT_GOODBYE = "I'm going to hang up now. Please call again any time. Goodbye."
DELAY = (
    "Sorry, I'm taking longer than usual. Please stay on the line, "
    "or press 0 to talk to a person."
)
STILL_WAITING = "Still working on it. Stay on the line, or press 0 for a person."
ERROR = (
    "Sorry, something went wrong on our side. Press 0 to talk to a member of our "
    "team, or tell me again what you need."
)
PUTTING_THROUGH = "Putting you through to a member of our team now."
CALLBACK = (
    "A member of our team will call you back on this number within one business day."
)
CALLBACK_NO_NUMBER = (
    "I can't see the number you're calling from, so please call us again, or use "
    "the chat on our website."
)
CALLBACK_AFTER_HOURS = (
    "Our team is away right now and back {back}. A member of our team will call you "
    "back on this number within one business day."
)
CALLBACK_AFTER_HOURS_NO_NUMBER = (
    "Our team is away right now and back {back}. I can't see the number you're "
    "calling from, so please call us again then, or use the chat on our website."
)
QUEUE_WAITING = (
    "Thanks for holding: a member of our team will be with you as soon as they can. "
    "To go back to the automated assistant instead, press star or say assistant."
)
# After leaving the agents' queue for the assistant.
BACK_WITHDRAWN = (
    "OK, you're back with the assistant, and your request for a person is withdrawn."
)
BACK_KEPT = (
    "OK, you're back with the assistant. A member of our team still has your "
    "request and may call you back."
)
BACK_UNCLAIMED = (
    "Sorry, no one could take your call yet, so you're back with the assistant. "
    "Your request stays open, and a member of our team will get back to you."
)
BACK = "OK, you're back with the assistant."
BACK_PROMPT = "What can I help you with? You can also press 0 for an agent."
NOBODY_FREE = "Sorry, nobody could take your call just now."
UNAVAILABLE = "Sorry, we're having technical trouble. Please call again later."
OUTAGE = "Sorry, we're having technical trouble. Please call us back later on {number}."
GOODBYE = "Thank you for calling. Goodbye."


def readback_prompt(spoken: str) -> str:
    """Read a number back and ask whether it is right."""
    return f"I heard {spoken}. {READBACK_QUESTION}"


def outage_message(shop_number: str | None) -> str:
    """The last words of a call that keeps failing: call back later, on this number."""
    if not shop_number:
        return UNAVAILABLE
    return OUTAGE.format(number=spell_digits(shop_number))
