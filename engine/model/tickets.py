"""The ticket's lifecycle, as one table.

Everything that affects a ticket's state machine lives here: ``TRANSITIONS[state][action]`` is the
state a ticket moves to, and any move not in the table raises ``IllegalTransition``.

    waiting ──call──> called ──start──> serving ──complete──> completed
       │                │ │               │  ▲
       │          recall│ └─no_show─> no_show  │suspend/resume ("delayed intake")
       │                ▼                 ▼  │
       └─ transfer: back to waiting    suspended
    cancel from waiting, called, suspended; expire from any open state at local midnight.
"""

from __future__ import annotations

from enum import StrEnum

from engine.model import lifecycle
from engine.model.errors import DecisionError


class State(StrEnum):
    WAITING = "waiting"
    CALLED = "called"
    SERVING = "serving"
    SUSPENDED = "suspended"
    COMPLETED = "completed"
    NO_SHOW = "no_show"
    CANCELLED = "cancelled"
    EXPIRED = "expired"


class Action(StrEnum):
    CALL = "call"
    RECALL = "recall"
    START = "start"
    SUSPEND = "suspend"
    RESUME = "resume"
    COMPLETE = "complete"
    NO_SHOW = "no-show"
    TRANSFER = "transfer"
    CANCEL = "cancel"
    EXPIRE = "expire"


S, A = State, Action

TRANSITIONS: dict[State, dict[Action, State]] = {
    S.WAITING: {
        A.CALL: S.CALLED,
        A.TRANSFER: S.WAITING,
        A.CANCEL: S.CANCELLED,
        A.EXPIRE: S.EXPIRED,
    },
    S.CALLED: {
        A.RECALL: S.CALLED,
        A.START: S.SERVING,
        A.NO_SHOW: S.NO_SHOW,
        A.TRANSFER: S.WAITING,
        A.CANCEL: S.CANCELLED,
        A.EXPIRE: S.EXPIRED,
    },
    S.SERVING: {
        A.SUSPEND: S.SUSPENDED,
        A.COMPLETE: S.COMPLETED,
        A.TRANSFER: S.WAITING,
        A.EXPIRE: S.EXPIRED,
    },
    S.SUSPENDED: {
        A.RESUME: S.SERVING,
        A.TRANSFER: S.WAITING,
        A.CANCEL: S.CANCELLED,
        A.EXPIRE: S.EXPIRED,
    },
    S.COMPLETED: {},
    S.NO_SHOW: {},
    S.CANCELLED: {},
    S.EXPIRED: {},
}

OPEN_STATES = frozenset(s for s, moves in TRANSITIONS.items() if moves)

# Actions a doctor performs on a ticket through the API; call and expire come from elsewhere.
TICKET_ACTIONS = frozenset(
    {A.RECALL, A.START, A.SUSPEND, A.RESUME, A.COMPLETE, A.NO_SHOW, A.TRANSFER, A.CANCEL}
)


class IllegalTransition(DecisionError):
    def __init__(self, state: str, action: str) -> None:
        super().__init__("illegal_transition", f"a {state} ticket cannot {action}")


def next_state(state: str, action: str) -> State:
    """The state after ``action``; raise IllegalTransition if the table has no such move."""
    return lifecycle.next_state(TRANSITIONS, state, action, IllegalTransition)


def transition_table_for_lua() -> dict[str, dict[str, str]]:
    """The same table as plain strings, handed to the Lua scripts so they never restate it."""
    return lifecycle.for_lua(TRANSITIONS, str)


# Why the desk may cancel a ticket: stable codes, said in the registrar's language by the pages.
CANCEL_REASONS = ("patient_left", "patient_request", "duplicate", "wrong_service", "other_reason")
