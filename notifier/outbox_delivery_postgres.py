"""Delivery polling of sent outbox rows: claim the ones due, record a status if it moves forward.

All run inside the caller's transaction; a polled status is recorded only by the poll's token
holder. A status the provider pushes (``record_pushed``) needs no claim: it names the row and
its number, and it too is recorded only if it moves forward.
"""

from __future__ import annotations

import hmac
import uuid
from datetime import datetime, timedelta

from notifier.crypto import PhoneCipher
from notifier.lifecycle import (
    FROM_STORED,
    STORED,
    Delivery,
    State,
    delivery_event,
    moves_forward,
)
from notifier.outbox import Claim, PollClaim
from notifier.outbox_moves_postgres import move
from notifier.schema_postgres import Conn


async def claim_polls(
    conn: Conn, cipher: PhoneCipher, now: datetime, *, limit: int, lease: timedelta
) -> list[PollClaim]:
    """Sent rows whose delivery status is due for a status poll, each under a fresh token."""
    rows = await conn.fetch(
        """
        SELECT o.id, o.delivery_status, o.polls, r.phone_enc FROM sms_outbox o
        JOIN sms_relatives r ON r.id = o.relative_id
        WHERE o.state = 'sent' AND o.next_poll_at <= $1
        ORDER BY o.next_poll_at LIMIT $2
        FOR UPDATE OF o SKIP LOCKED
        """,
        now,
        limit,
    )
    claims = []
    for row in rows:
        token = uuid.uuid4()
        await conn.execute(
            "UPDATE sms_outbox SET next_poll_at = $2, claim_token = $3 WHERE id = $1",
            row["id"],
            now + lease,
            token,
        )
        claims.append(
            PollClaim(
                row["id"],
                token,
                cipher.decrypt(row["phone_enc"]),
                row["delivery_status"],
                row["polls"],
            )
        )
    return claims


async def record_delivery(
    conn: Conn,
    claim: PollClaim | Claim,
    status: Delivery | None,
    detail: str,
    now: datetime,
    next_poll: datetime | None,
) -> bool:
    """Store a delivery status only if it moves forward; a final one ends the polling."""
    row = await conn.fetchrow(
        "SELECT state, claim_token, delivery_status, polls FROM sms_outbox"
        " WHERE id = $1 FOR UPDATE",
        claim.outbox_id,
    )
    if row is None or row["claim_token"] != claim.token:
        return False
    old = FROM_STORED.get(row["delivery_status"])
    if status is None or not moves_forward(old, status):
        await conn.execute(
            "UPDATE sms_outbox SET next_poll_at = $2, polls = polls + 1 WHERE id = $1",
            claim.outbox_id,
            next_poll,
        )
        return False
    event = delivery_event(status)
    final = event != "progress"
    await move(
        conn, claim.outbox_id, row["state"], event, now, detail,
        delivery_status=STORED[status], next_poll_at=None if final else next_poll,
        polls=row["polls"] + 1,
    )  # fmt: skip
    return True


async def record_pushed(
    conn: Conn, outbox_id: int, phone_fp: bytes, status: Delivery, detail: str, now: datetime
) -> bool:
    """A delivery report the provider sent us: stored if the row is ``sent`` or ``delivered``,
    its number is the report's, and the status moves forward; anything else is ignored.

    A report for a row not yet recorded as sent (the provider answered faster than our worker
    wrote ``accepted``) is left to the poll, which asks again later."""
    row = await conn.fetchrow(
        """
        SELECT o.state, o.delivery_status, r.phone_fp FROM sms_outbox o
        JOIN sms_relatives r ON r.id = o.relative_id WHERE o.id = $1 FOR UPDATE OF o
        """,
        outbox_id,
    )
    if row is None or not hmac.compare_digest(bytes(row["phone_fp"]), phone_fp):
        return False
    if row["state"] not in (State.SENT, State.DELIVERED):
        return False
    if not moves_forward(FROM_STORED.get(row["delivery_status"]), status):
        return False
    event = delivery_event(status)
    if row["state"] == State.DELIVERED:
        event = "progress"  # delivered, then read: still delivered, with a better status
    fields: dict[str, object] = {"delivery_status": STORED[status]}
    if event != "progress":
        fields["next_poll_at"] = None  # final: the fallback poll has nothing left to ask
    await move(conn, outbox_id, row["state"], event, now, detail, **fields)
    return True
