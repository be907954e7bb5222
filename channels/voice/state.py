"""Per-call state of the phone IVR, kept in the database.

Each webhook of a call may reach a different Rasa instance behind a load balancer,
so nothing a later step needs lives in process memory: what the caller was last
asked (to reprompt or repeat it), a number waiting for the caller's confirmation,
and the replies of an assistant turn that took longer than the webhook could wait.

Until the schema has a table of its own for calls (`voice_calls`: call_sid, caller,
conversation_id, state and pending turn as JSON, started_at, ended_at, end_status),
the state is stored as JSON in `channel_choices`, under keys that cannot collide
with a conversation id:

* ``voice-call:<CallSid>``: the `CallState`; written only by the call's webhooks,
  which Twilio sends one at a time, and by its status callback. What is known about
  the call itself (when it started, whether the caller's number was attested, how
  it ended) is set once and kept by every later save.
* ``voice-pending:<CallSid>``: the `PendingTurn`, written by the webhook that starts
  a turn and, when that webhook stopped waiting, by the turn itself.

The numbered choices of the call stay where every channel keeps them, under the
conversation id (``voice:<CallSid>``), through `bot.services.messaging`.
"""

from __future__ import annotations

import enum
import json
import time
from dataclasses import asdict, dataclass, field, replace
from typing import Any

from sqlalchemy.orm import Session

from bot.models import ChannelChoice

CALL_PREFIX = "voice-call:"
PENDING_PREFIX = "voice-pending:"


class Phase(str, enum.Enum):
    """What the caller's next input answers."""

    MENU = "menu"
    ACCOUNT_MENU = "account_menu"
    READBACK = "readback"
    CONVERSATION = "conversation"


class GatherKind(str, enum.Enum):
    """How a prompt listens: one key (menus), a choice, or free input."""

    KEY = "key"
    CHOICES = "choices"
    OPEN = "open"


class TurnStatus(str, enum.Enum):
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"


@dataclass(frozen=True)
class Readback:
    """A number heard from the caller, read back before it goes to the assistant."""

    text: str  # what the assistant gets once the caller confirms
    spoken: str  # how it is read back: "1 0 4 2 5 7"


@dataclass(frozen=True)
class CallState:
    phase: Phase = Phase.MENU
    gather: GatherKind = GatherKind.KEY
    prompt: str = ""  # everything said at the last prompt (for "repeat")
    reprompt: str = ""  # the shorter version, after silence
    silences: int = 0  # prompts in a row that got no input
    waits: int = 0  # webhooks in a row spent waiting for a slow turn
    readback: Readback | None = None
    resume_phase: Phase = Phase.CONVERSATION  # where "try again" goes back to
    # About the call itself, kept by `save_state` once stored:
    ended: str | None = None  # Twilio's final CallStatus
    started_at: float = field(default_factory=time.time)  # first webhook (epoch s)
    caller_attested: bool = False  # STIR/SHAKEN full attestation of `From`

    def to_json(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, raw: str) -> CallState:
        data: dict[str, Any] = json.loads(raw)
        readback = data.get("readback")
        return cls(
            phase=Phase(data.get("phase", Phase.MENU)),
            gather=GatherKind(data.get("gather", GatherKind.KEY)),
            prompt=str(data.get("prompt", "")),
            reprompt=str(data.get("reprompt", "")),
            silences=int(data.get("silences", 0)),
            waits=int(data.get("waits", 0)),
            readback=Readback(**readback) if isinstance(readback, dict) else None,
            resume_phase=Phase(data.get("resume_phase", Phase.CONVERSATION)),
            ended=data.get("ended"),
            # A state without a start time is from before it was recorded: old.
            started_at=float(data.get("started_at", 0.0)),
            caller_attested=bool(data.get("caller_attested", False)),
        )

    def evolve(self, **changes: Any) -> CallState:
        return replace(self, **changes)

    def keeping_call_facts(self, earlier: CallState) -> CallState:
        """This prompt state with the call's start, attestation and end kept."""
        return replace(
            self,
            started_at=earlier.started_at,
            caller_attested=earlier.caller_attested or self.caller_attested,
            ended=earlier.ended or self.ended,
        )


@dataclass(frozen=True)
class PendingTurn:
    """An assistant turn started by one webhook and answered at a later one."""

    turn_id: str
    status: TurnStatus = TurnStatus.RUNNING
    started_at: float = field(default_factory=time.time)
    asked_for_agent: bool = False
    replies: list[dict[str, Any]] = field(default_factory=list)

    def to_json(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, raw: str) -> PendingTurn:
        data: dict[str, Any] = json.loads(raw)
        return cls(
            turn_id=str(data["turn_id"]),
            status=TurnStatus(data.get("status", TurnStatus.RUNNING)),
            started_at=float(data.get("started_at", 0.0)),
            asked_for_agent=bool(data.get("asked_for_agent", False)),
            replies=list(data.get("replies") or []),
        )


def _get(session: Session, key: str) -> str | None:
    row = session.get(ChannelChoice, key)
    return row.payloads if row is not None else None


def _put(session: Session, key: str, value: str) -> None:
    row = session.get(ChannelChoice, key)
    if row is None:
        session.add(ChannelChoice(conversation_id=key, payloads=value))
    else:
        row.payloads = value
    session.flush()


def _delete(session: Session, key: str) -> None:
    row = session.get(ChannelChoice, key)
    if row is not None:
        session.delete(row)
        session.flush()


def load_call(
    session: Session, call_sid: str
) -> tuple[CallState | None, PendingTurn | None]:
    """The call's state (None before its first webhook) and its pending turn."""
    state = _get(session, CALL_PREFIX + call_sid)
    pending = _get(session, PENDING_PREFIX + call_sid)
    return (
        CallState.from_json(state) if state is not None else None,
        PendingTurn.from_json(pending) if pending is not None else None,
    )


def load_pending(session: Session, call_sid: str) -> PendingTurn | None:
    pending = _get(session, PENDING_PREFIX + call_sid)
    return PendingTurn.from_json(pending) if pending is not None else None


def save_state(session: Session, call_sid: str, state: CallState) -> None:
    """Store the call's state; its start, attestation and end stay as first stored."""
    earlier = _get(session, CALL_PREFIX + call_sid)
    if earlier is not None:
        state = state.keeping_call_facts(CallState.from_json(earlier))
    _put(session, CALL_PREFIX + call_sid, state.to_json())


def start_turn(session: Session, call_sid: str, turn: PendingTurn) -> None:
    _put(session, PENDING_PREFIX + call_sid, turn.to_json())


def finish_turn(session: Session, call_sid: str, turn: PendingTurn) -> bool:
    """Store a late turn's outcome, unless the call has given up on that turn."""
    current = load_pending(session, call_sid)
    if current is None or current.turn_id != turn.turn_id:
        return False
    _put(session, PENDING_PREFIX + call_sid, turn.to_json())
    return True


def clear_turn(session: Session, call_sid: str) -> None:
    _delete(session, PENDING_PREFIX + call_sid)


def end_call(
    session: Session, call_sid: str, conversation_id: str, status: str
) -> None:
    """Record how the call ended and drop what only a live call needs."""
    state = _get(session, CALL_PREFIX + call_sid)
    ended = (CallState.from_json(state) if state else CallState()).evolve(
        ended=status, readback=None
    )
    save_state(session, call_sid, ended)
    _delete(session, PENDING_PREFIX + call_sid)
    _delete(session, conversation_id)  # the numbered choices
