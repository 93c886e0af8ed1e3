"""The one way an outbox row changes state: along ``lifecycle.TRANSITIONS``, with history."""

from __future__ import annotations

from datetime import datetime

from notifier.lifecycle import State, advance
from notifier.schema_postgres import Conn

_FIELDS = frozenset(
    {
        "next_attempt_at",
        "lease_until",
        "claim_token",
        "sent_at",
        "delivery_status",
        "next_poll_at",
        "polls",
        "last_error",
        "body",
        "parts",
        "attempts",
    }
)


async def move(
    conn: Conn,
    outbox_id: int,
    current: str,
    event: str,
    now: datetime,
    detail: str | None = None,
    **fields: object,
) -> State:
    new = advance(current, event)
    unknown = set(fields) - _FIELDS
    if unknown:
        raise ValueError(f"not an outbox column: {sorted(unknown)}")
    names = ["state", "updated_at", *fields]
    sets = ", ".join(f"{name} = ${i + 2}" for i, name in enumerate(names))
    await conn.execute(
        f"UPDATE sms_outbox SET {sets} WHERE id = $1", outbox_id, new.value, now, *fields.values()
    )
    await conn.execute(
        "INSERT INTO sms_outbox_history (outbox_id, state, event, detail, at)"
        " VALUES ($1, $2, $3, $4, $5)",
        outbox_id,
        new.value,
        event,
        detail,
        now,
    )
    return new
