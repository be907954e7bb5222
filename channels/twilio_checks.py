"""What a signed Twilio webhook must look like before the channels act on it.

Twilio signs the URL followed by every field's name and value, sorted by name, with
no separator. Moving a boundary keeps the signature: ``CallSid=CA…`` plus
``CallStatus=ringing`` signs exactly like ``CallSid=CA…CallStatusringing`` with
CallStatus left out. So every field the channels decide on must have the exact
format Twilio documents (a Sid that swallowed its neighbour no longer does), and
replays are recognised by the signature, which every such variant shares.
"""

from __future__ import annotations

import hashlib
import re

from sanic.request import Request

from bot.settings import ACCOUNT_SID

SIGNATURE_HEADER = "X-Twilio-Signature"

MESSAGE_SID = re.compile(r"(SM|MM)[0-9a-f]{32}")
CALL_SID = re.compile(r"CA[0-9a-f]{32}")
E164 = re.compile(r"\+[1-9][0-9]{6,14}")
# Twilio's names are letters, digits and a few joiners ("SipHeader_X-Id"); one
# starting with anything else ("?noinput") could only come from a moved boundary.
FIELD_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_.\-]{0,63}")
NUM_MEDIA = re.compile(r"[0-9]{1,2}")
KEYED_DIGITS = re.compile(r"[0-9*#]{0,64}")
DURATION = re.compile(r"[0-9]{1,6}")
# https://www.twilio.com/docs/voice/twiml#callstatus-values (and status callbacks)
CALL_STATUSES = frozenset(
    {
        "queued",
        "initiated",
        "ringing",
        "in-progress",
        "completed",
        "busy",
        "failed",
        "no-answer",
        "canceled",
    }
)
DIAL_CALL_STATUSES = frozenset(
    {"completed", "answered", "busy", "no-answer", "failed", "canceled"}
)
QUEUE_RESULTS = frozenset(
    {
        "bridged",
        "bridging-in-process",
        "error",
        "hangup",
        "leave",
        "redirected",
        "redirected-from-bridged",
        "queue-full",
        "system-shutdown",
    }
)


def signature_digest(request: Request) -> str:
    """A digest of the request's (already validated) Twilio signature.

    The signature covers the URL and every field, and moving a boundary between
    fields leaves it unchanged, so it names the request Twilio sent and all the
    variants a replayer could make of it. A ValueError if there is none.
    """
    signature = request.headers.get(SIGNATURE_HEADER, "")
    if not signature:
        raise ValueError("an unsigned request cannot be de-duplicated")
    return hashlib.sha256(signature.encode()).hexdigest()


def signature_id(request: Request) -> str:
    """The de-duplication id of a signed request (see `signature_digest`)."""
    return f"twilio-signature:{signature_digest(request)}"


def _account_refusal(params: dict[str, str], account_sid: str) -> str | None:
    bad_names = [name for name in params if not FIELD_NAME.fullmatch(name)]
    if bad_names:
        return f"unexpected field name {bad_names[0][:64]!r}"
    account = params.get("AccountSid", "")
    if not ACCOUNT_SID.fullmatch(account):
        return "AccountSid must be AC followed by 32 hex digits"
    if account != account_sid:
        return "AccountSid is not this shop's Twilio account"
    return None


def _optional(params: dict[str, str], name: str, valid: re.Pattern[str]) -> bool:
    return name not in params or bool(valid.fullmatch(params[name]))


def sms_refusal(params: dict[str, str], account_sid: str) -> str | None:
    """Why an inbound SMS webhook cannot be used, or None when it can."""
    refusal = _account_refusal(params, account_sid)
    if refusal:
        return refusal
    sid = params.get("MessageSid", "")
    if not MESSAGE_SID.fullmatch(sid):
        return "MessageSid must be SM or MM followed by 32 hex digits"
    if any(params.get(name, sid) != sid for name in ("SmsSid", "SmsMessageSid")):
        return "SmsSid and SmsMessageSid must equal MessageSid"
    if not E164.fullmatch(params.get("From", "")):
        return "From must be an E.164 phone number"
    if not _optional(params, "NumMedia", NUM_MEDIA):
        return "NumMedia must be a number"
    return None


def call_refusal(params: dict[str, str], account_sid: str) -> str | None:
    """Why a voice webhook or status callback cannot be used, or None when it can."""
    refusal = _account_refusal(params, account_sid)
    if refusal:
        return refusal
    if not CALL_SID.fullmatch(params.get("CallSid", "")):
        return "CallSid must be CA followed by 32 hex digits"
    if params.get("CallStatus") not in CALL_STATUSES:
        return "CallStatus must be one of Twilio's call statuses"
    if not _optional(params, "Digits", KEYED_DIGITS):
        return "Digits must be keypad keys"
    if not _optional(params, "CallDuration", DURATION):
        return "CallDuration must be a number of seconds"
    if params.get("DialCallStatus", "completed") not in DIAL_CALL_STATUSES:
        return "DialCallStatus must be one of Twilio's dial statuses"
    if params.get("QueueResult", "bridged") not in QUEUE_RESULTS:
        return "QueueResult must be one of Twilio's queue results"
    return None
