"""A reservation's lifecycle, as one table.

Everything that affects a reservation's state machine lives here: ``TRANSITIONS[state][action]``
is the state a reservation moves to, and a move not in the table is refused with the code in
``REFUSALS`` (``reservation_closed`` once nothing more can happen to it).

    reserve ──> held ──confirm──> confirmed ──check_in──> checked_in
                 │                   │
                 ├──cancel───────────┴──cancel──> cancelled
                 └──expire: the hold ran out and another patient took the slot──> expired
    move: to another slot, in the same state (held or confirmed).

A hold whose time is up but whose slot nobody has taken yet is still stored as ``held``; it reads
as expired (``Reservation.state_at``) and is refused as ``hold_expired`` whatever is asked of it.
"""

from __future__ import annotations

from enum import StrEnum

from engine.model import lifecycle
from engine.model.errors import DecisionError


class State(StrEnum):
    HELD = "held"
    CONFIRMED = "confirmed"
    CHECKED_IN = "checked_in"
    CANCELLED = "cancelled"
    EXPIRED = "expired"


class Action(StrEnum):
    CONFIRM = "confirm"
    CANCEL = "cancel"
    MOVE = "move"
    CHECK_IN = "check_in"
    EXPIRE = "expire"


S, A = State, Action

TRANSITIONS: dict[State, dict[Action, State]] = {
    S.HELD: {A.CONFIRM: S.CONFIRMED, A.CANCEL: S.CANCELLED, A.MOVE: S.HELD, A.EXPIRE: S.EXPIRED},
    S.CONFIRMED: {A.CANCEL: S.CANCELLED, A.MOVE: S.CONFIRMED, A.CHECK_IN: S.CHECKED_IN},
    S.CHECKED_IN: {},
    S.CANCELLED: {},
    S.EXPIRED: {},
}

# The states in which a reservation holds its slot (a held one only until its hold ends).
HOLDS_SLOT = frozenset({S.HELD, S.CONFIRMED, S.CHECKED_IN})

CLOSED = ("reservation_closed", "the reservation is {state}")
# Why a move the table lacks is refused: (code, message), ``{state}`` standing for the state.
REFUSALS: dict[str, dict[str, tuple[str, str]]] = {
    S.HELD: {A.CHECK_IN: ("not_confirmed", "only a confirmed booking can check in")},
    S.CONFIRMED: {A.CONFIRM: ("not_held", "the reservation is {state}")},
    S.CHECKED_IN: {
        A.CONFIRM: ("not_held", "the reservation is {state}"),
        A.CANCEL: ("checked_in", "the patient has checked in: cancel the ticket instead"),
        A.MOVE: ("checked_in", "the patient has already checked in"),
        A.CHECK_IN: ("already_checked_in", "the patient has already checked in"),
    },
    S.CANCELLED: {a: CLOSED for a in A},
    S.EXPIRED: {a: CLOSED for a in A},
}


class IllegalReservationMove(DecisionError):
    def __init__(self, state: str, action: str) -> None:
        default = ("illegal_transition", "a {state} reservation cannot " + action)
        code, message = REFUSALS.get(state, {}).get(action, default)
        super().__init__(code, message.replace("{state}", state))


def next_state(state: str, action: Action) -> State:
    """The state after ``action``; raise the table's refusal if it has no such move."""
    return lifecycle.next_state(TRANSITIONS, state, action, IllegalReservationMove)


def tables_for_lua() -> tuple[dict[str, dict[str, str]], dict[str, dict[str, list[str]]]]:
    """The transitions and the refusals as plain strings, for the Lua prelude."""
    return lifecycle.for_lua(TRANSITIONS, str), lifecycle.for_lua(REFUSALS, list)
