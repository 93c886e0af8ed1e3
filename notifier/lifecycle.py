"""Everything that affects an outbox row's state lives here: the table, SMSC codes, back-off.

    pending ──claim──▶ sending ──accepted──▶ sent ──delivered──▶ delivered
       ▲  │              │  │                 │
       │  └─cancel─▶ cancelled                └─undelivered──▶ undelivered
       │                 │  └─ambiguous / lease_expired──▶ unknown ──found──▶ sent
       └──not_sent───────┘                                  │
       └──────────────────────────not_found─────────────────┘
    rejected / gave_up ──▶ failed

An ``unknown`` row is never sent again before status.php has said that SMSC does not know it.
"""

from __future__ import annotations

from datetime import timedelta
from enum import StrEnum

from notifier.errors import IllegalTransition


class State(StrEnum):
    PENDING = "pending"
    SENDING = "sending"
    UNKNOWN = "unknown"
    SENT = "sent"
    DELIVERED = "delivered"
    UNDELIVERED = "undelivered"
    FAILED = "failed"
    CANCELLED = "cancelled"


S = State
TRANSITIONS: dict[State, dict[str, State]] = {
    S.PENDING: {"claim": S.SENDING, "hold": S.PENDING, "cancel": S.CANCELLED, "reject": S.FAILED},
    S.SENDING: {
        "accepted": S.SENT,
        "not_sent": S.PENDING,
        "ambiguous": S.UNKNOWN,
        "lease_expired": S.UNKNOWN,
        "rejected": S.FAILED,
        "gave_up": S.FAILED,
        # Only the claim holder, before it calls send.php (the patient left or consent ended).
        "withdraw": S.CANCELLED,
    },
    S.UNKNOWN: {
        "found": S.SENT,
        "not_found": S.PENDING,
        "check_failed": S.UNKNOWN,
        "cancel": S.CANCELLED,
        "gave_up": S.FAILED,
    },
    S.SENT: {"progress": S.SENT, "delivered": S.DELIVERED, "undelivered": S.UNDELIVERED},
    S.DELIVERED: {"progress": S.DELIVERED},
    S.UNDELIVERED: {},
    S.FAILED: {},
    S.CANCELLED: {},
}

ACTIVE = frozenset({S.PENDING, S.SENDING, S.UNKNOWN})
STOPPABLE = frozenset({S.PENDING})  # sending/unknown rows may already be at SMSC


def advance(state: State | str, event: str) -> State:
    """The next state, or IllegalTransition naming both."""
    current = State(state)
    try:
        return TRANSITIONS[current][event]
    except KeyError:
        raise IllegalTransition(f"outbox row cannot take {event!r} in state {current}") from None


class Verdict(StrEnum):
    RETRY = "retry"  # certainly not sent: send again after back-off
    AMBIGUOUS = "ambiguous"  # maybe sent: ask status.php before any new send
    BAD_NUMBER = "bad_number"  # no retry; the relative's number is marked bad
    PERMANENT = "permanent"  # no retry; raise an alert


# SMSC.ru send.php error codes (https://smsc.ru/api/http/send/sms/).
SEND_ERRORS: dict[int, Verdict] = {
    1: Verdict.PERMANENT,  # parameter error: our bug
    2: Verdict.PERMANENT,  # wrong login or password
    3: Verdict.PERMANENT,  # not enough money
    4: Verdict.RETRY,  # IP blocked for a while after errors
    5: Verdict.PERMANENT,  # bad date format
    6: Verdict.BAD_NUMBER,  # message forbidden (text or sender name)
    7: Verdict.BAD_NUMBER,  # bad phone number format
    8: Verdict.BAD_NUMBER,  # cannot be delivered to this number
    # Too many identical requests: the earlier identical one may have been accepted, so the
    # retry goes through status.php first rather than straight to send.php.
    9: Verdict.AMBIGUOUS,
}
ALERTING = frozenset({1, 2, 3, 5})


def classify_send_error(code: int) -> Verdict:
    return SEND_ERRORS.get(code, Verdict.PERMANENT)


# SMSC.ru status.php message statuses.
DELIVERY_NAMES: dict[int, str] = {
    -3: "not_found",
    -1: "queued",
    0: "at_operator",
    1: "delivered",
    2: "read",
    3: "expired",
    4: "link_opened",
    20: "undeliverable",
    22: "invalid_number",
    23: "prohibited",
    24: "no_funds",
    25: "unavailable",
}
DELIVERED_OK = frozenset({1, 2, 4})
DELIVERED_FAIL = frozenset({3, 20, 22, 23, 24, 25})
BAD_NUMBER_STATUSES = frozenset({22})


def _rank(status: int) -> int:
    if status in (2, 4):
        return 3
    if status in DELIVERED_OK or status in DELIVERED_FAIL:
        return 2
    return {-1: 0, 0: 1}.get(status, -1)


def is_final(status: int) -> bool:
    return status in DELIVERED_OK or status in DELIVERED_FAIL


def moves_forward(old: int | None, new: int) -> bool:
    """A delivery status only moves forward; nothing follows a failure."""
    if old is None:
        return _rank(new) >= 0
    if old in DELIVERED_FAIL:
        return False
    return _rank(new) > _rank(old)


def delivery_event(status: int) -> str:
    if status in DELIVERED_OK:
        return "delivered"
    if status in DELIVERED_FAIL:
        return "undelivered"
    return "progress"


def backoff(attempt: int, base: timedelta, cap: timedelta) -> timedelta:
    """Exponential back-off: base, 2*base, 4*base ... capped."""
    return min(cap, base * (2 ** max(0, attempt - 1)))
