"""Whether a customer's message asks for the assistant back ("back to the bot").

While a person holds a conversation the assistant's NLU never sees the customer's
messages (the hold gate diverts them), so this is decided here, by a small grammar,
the same way on every channel and also when the model is down. The whole message
must be the request, give or take a few filler words ("ok", "please", "again"):
"talk to the assistant" and "back to the bot, please" are, while "the bot was no
help" and "I don't want to talk to the bot" are not.
"""

from __future__ import annotations

import re

# Longer messages are never only a request for the assistant.
MAX_LENGTH = 120

_QUALIFIER = r"(?:(?:automated|automatic|virtual|digital|ai|chat|shop|shops|online) )?"
_ARTICLE = r"(?:(?:the|your|a|an|this|that) )?"
# Alone ("bot", "the assistant") only unmistakable words count.
_PLAIN_TARGET = _ARTICLE + _QUALIFIER + r"(?:bot|chatbot|chat bot|assistant)"
_TARGET = (
    _ARTICLE
    + _QUALIFIER
    + r"(?:bot|chatbot|chat bot|robot|assistant|a i|ai|machine|computer)"
    + r"(?: (?:again|instead|back))?"
)
_WANT = (
    r"(?:i want(?: to)?|i wanna|i would like(?: to)?|id like(?: to)?|i need(?: to)?|"
    r"can i|could i|may i|let me|lemme|ill|i will|id rather|i would rather|"
    r"i prefer to)"
)
_ACTION = (
    r"(?:(?:go|get|come|switch|head|move|turn) back to|back to|return to|"
    r"switch to|go to|(?:take|put|send|bring|transfer|move|switch|give) me"
    r"(?: back)? (?:to|through to|with|on)|"
    r"(?:talk|speak|chat|continue|carry on|stay) (?:to|with)|use|have|get|try)"
)
_PERSON = r"(?:person|human|agent|representative|rep|real person|human being|someone)"
_WITHDRAW = (
    r"(?:i )?(?:dont|do not|no longer) (?:need|want)(?: to (?:talk|speak|chat) "
    r"(?:to|with))? (?:a |an |the )?" + _PERSON + r"(?: (?:anymore|any more|now))?|"
    r"no " + _PERSON + r" needed|"
    r"cancel (?:the |my )?(?:request for (?:a |an )?)?" + _PERSON
)
# Before a whole request ("no, back to the bot"); before a bare "bot" only these
# ("no bot" is a refusal, "hi bot" a greeting).
_FILLER = (
    r"(?:ok|okay|k|kk|actually|um|uh|hm|hmm|hi|hey|hello|no|nah|never mind|"
    r"nevermind|forget it|forget that|just|please|pls|plz|so|well|fine|sorry|yes|"
    r"yeah|yep|thanks|thank you|thx|cancel that|oh|alright|all right)"
)
_SOFT_FILLER = r"(?:ok|okay|k|kk|actually|just|please|pls|plz|fine|yes|yeah|yep)"
_TRAILER = (
    r"(?:please|pls|plz|again|instead|now|thanks|thank you|thx|then|for now|"
    r"right now)"
)
_REQUEST = re.compile(
    rf"(?:{_FILLER} )*"
    rf"(?:(?:{_WANT} )?{_ACTION} {_TARGET}|(?:go |get )?back to (?:the )?"
    rf"(?:main )?menu|{_WANT} {_TARGET}|give me {_TARGET}|{_WITHDRAW})"
    rf"(?: {_TRAILER})*"
)
# "Bot?" asks what one is talking to; "bot" or "the assistant, please" asks for it.
_BARE = re.compile(
    rf"(?:{_SOFT_FILLER} )*{_PLAIN_TARGET}(?: (?:again|back))?(?: {_TRAILER})*"
)
_APOSTROPHES = re.compile(r"['’‘`]")
_NOT_WORD = re.compile(r"[^a-z0-9]+")


def normalise(text: str) -> str:
    """Lower case, apostrophes dropped ("don't" -> "dont"), words split by spaces."""
    text = _APOSTROPHES.sub("", text.lower())
    return " ".join(_NOT_WORD.sub(" ", text).split())


def asks_for_the_assistant(text: str) -> bool:
    """Whether `text`, as a whole, asks to leave the person for the assistant."""
    if len(text) > MAX_LENGTH:
        return False
    words = normalise(text)
    if _REQUEST.fullmatch(words):
        return True
    return bool(_BARE.fullmatch(words)) and not text.rstrip().endswith("?")
