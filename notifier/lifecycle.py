"""Everything that affects an outbox row's state lives here: the table, delivery, back-off.

    pending ──claim──▶ sending ──accepted──▶ sent ──delivered──▶ delivered
       ▲  │              │  │                 │
       │  └─cancel─▶ cancelled                └─undelivered──▶ undelivered
       │                 │  └─ambiguous / lease_expired──▶ unknown ──found──▶ sent
       └──not_sent───────┘                                  │
       └──────────────────────────not_found─────────────────┘
    rejected / gave_up ──▶ failed

An ``unknown`` row is never sent again before the provider has said that it does not know it.
The lifecycle speaks only in provider-neutral verdicts (``notifier.gateway``).
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


def advance(state: State | str, event: str) -> State:
    """The next state, or IllegalTransition naming both."""
    current = State(state)
    try:
        return TRANSITIONS[current][event]
    except KeyError:
        raise IllegalTransition(f"outbox row cannot take {event!r} in state {current}") from None


class Delivery(StrEnum):
    """How far a sent message got, in no provider's words; the audit shows these names."""

    QUEUED = "queued"
    AT_OPERATOR = "at_operator"
    DELIVERED = "delivered"
    READ = "read"
    LINK_OPENED = "link_opened"
    EXPIRED = "expired"
    UNDELIVERABLE = "undeliverable"
    INVALID_NUMBER = "invalid_number"
    PROHIBITED = "prohibited"
    NO_FUNDS = "no_funds"
    UNAVAILABLE = "unavailable"


D = Delivery
DELIVERED_OK = frozenset({D.DELIVERED, D.READ, D.LINK_OPENED})
DELIVERED_FAIL = frozenset(
    {D.EXPIRED, D.UNDELIVERABLE, D.INVALID_NUMBER, D.PROHIBITED, D.NO_FUNDS, D.UNAVAILABLE}
)
_RANK = {D.QUEUED: 0, D.AT_OPERATOR: 1, D.READ: 3, D.LINK_OPENED: 3} | dict.fromkeys(
    (DELIVERED_OK | DELIVERED_FAIL) - {D.READ, D.LINK_OPENED}, 2
)

# The number each status is stored as in sms_outbox.delivery_status: a storage format, frozen
# because rows hold it. The numbers were first SMSC's own, so older rows keep their meaning.
STORED: dict[Delivery, int] = {
    D.QUEUED: -1,
    D.AT_OPERATOR: 0,
    D.DELIVERED: 1,
    D.READ: 2,
    D.EXPIRED: 3,
    D.LINK_OPENED: 4,
    D.UNDELIVERABLE: 20,
    D.INVALID_NUMBER: 22,
    D.PROHIBITED: 23,
    D.NO_FUNDS: 24,
    D.UNAVAILABLE: 25,
}
FROM_STORED: dict[int, Delivery] = {code: status for status, code in STORED.items()}


def moves_forward(old: Delivery | None, new: Delivery | None) -> bool:
    """A delivery status only moves forward; nothing follows a failure or an unknown status."""
    if new is None:
        return False
    if old is None:
        return True
    if old in DELIVERED_FAIL:
        return False
    return _RANK[new] > _RANK[old]


def delivery_event(status: Delivery) -> str:
    if status in DELIVERED_OK:
        return "delivered"
    if status in DELIVERED_FAIL:
        return "undelivered"
    return "progress"


def backoff(attempt: int, base: timedelta, cap: timedelta) -> timedelta:
    """Exponential back-off: base, 2*base, 4*base ... capped."""
    return min(cap, base * (2 ** max(0, attempt - 1)))
