"""Replies from relatives: each provider message once, and a STOP withdraws consent.

A STOP from a number with an active consent for an admitted patient withdraws every active
consent of that number (a relative of two patients means both), cancels what is still pending
for them and queues exactly one confirmation, all in one commit. The confirmation is an outbox
row (``kind = 'stop_confirmation'``, keyed by the reply), so the worker sends it exactly once
with the daily messages' machinery. A number that is not subscribed changes nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime
from enum import StrEnum

import asyncpg

from notifier.consent_postgres import cancel_pending, consent_event
from notifier.crypto import PhoneCipher
from notifier.outbox import STOP_CONFIRMATION
from notifier.replies import Confirmation
from notifier.schedule import PatientStatus
from notifier.schema_postgres import Conn

STOPPED_BY = "relative:sms"


class Outcome(StrEnum):
    STOPPED = "stopped"
    NOT_SUBSCRIBED = "not_subscribed"
    IGNORED = "ignored"  # not a STOP
    DUPLICATE = "duplicate"  # this provider message was handled before


class Inbox:
    """Incoming SMS over an asyncpg pool: each reply is one transaction."""

    def __init__(self, pool: asyncpg.Pool, cipher: PhoneCipher) -> None:
        self.pool = pool
        self.cipher = cipher

    async def receive(
        self,
        *,
        provider: str,
        provider_id: str,
        phone: str | None,
        stop: bool,
        now: datetime,
        confirm: Callable[[str], Confirmation],
        today: Callable[[str], date],
    ) -> Outcome:
        """Handle one reply; ``confirm(language)`` composes the answer, ``today(clinic)`` dates
        it. A provider retrying the same message gets ``DUPLICATE`` and nothing happens."""
        fp = self.cipher.fingerprint(phone or "")
        async with self.pool.acquire() as conn, conn.transaction():
            inbox_id = await conn.fetchval(
                """
                INSERT INTO sms_inbox (provider, provider_id, phone_fp, outcome, received_at)
                VALUES ($1, $2, $3, 'ignored', $4)
                ON CONFLICT (provider, provider_id) DO NOTHING RETURNING id
                """,
                provider,
                provider_id,
                fp,
                now,
            )
            if inbox_id is None:
                return Outcome.DUPLICATE
            outcome = Outcome.IGNORED
            if stop:
                outcome = Outcome.NOT_SUBSCRIBED
                if phone is not None and await _stop(conn, fp, inbox_id, now, confirm, today):
                    outcome = Outcome.STOPPED
            await conn.execute(
                "UPDATE sms_inbox SET outcome = $2 WHERE id = $1", inbox_id, outcome.value
            )
        return outcome


async def _stop(
    conn: Conn,
    fp: bytes,
    inbox_id: int,
    now: datetime,
    confirm: Callable[[str], Confirmation],
    today: Callable[[str], date],
) -> bool:
    """Withdraw the number's consents and queue the confirmation; False if not subscribed."""
    # The lock order of a doctor's revoke and a status change: pending outbox rows, then the
    # relatives; the other way round the two could deadlock.
    await conn.execute(
        """
        SELECT o.id FROM sms_outbox o JOIN sms_relatives r ON r.id = o.relative_id
        WHERE r.phone_fp = $1 AND r.active AND o.state = 'pending' FOR UPDATE OF o
        """,
        fp,
    )
    # A second STOP racing this one waits here, then finds no active row (re-checked on lock).
    rows = await conn.fetch(
        """
        SELECT r.id, r.patient_id, r.language, p.clinic, p.status
        FROM sms_relatives r JOIN sms_patients p USING (patient_id)
        WHERE r.phone_fp = $1 AND r.active ORDER BY r.id FOR UPDATE OF r
        """,
        fp,
    )
    admitted = [r for r in rows if r["status"] == PatientStatus.ADMITTED]
    if not admitted:
        return False  # nobody sends this number anything: nothing to stop, nothing to answer
    for row in rows:
        await conn.execute("UPDATE sms_relatives SET active = false WHERE id = $1", row["id"])
        await consent_event(conn, row["id"], "stopped_by_reply", STOPPED_BY, now)
        await cancel_pending(conn, now, "stopped by the relative's reply", relative_id=row["id"])
    first = admitted[0]
    answer = confirm(first["language"])
    outbox_id = await conn.fetchval(
        """
        INSERT INTO sms_outbox (patient_id, relative_id, local_date, state, kind, reply_to,
            body, parts, next_attempt_at, created_at, updated_at)
        VALUES ($1, $2, $3, 'pending', $4, $5, $6, $7, $8, $8, $8) RETURNING id
        """,
        first["patient_id"],
        first["id"],
        today(first["clinic"]),
        STOP_CONFIRMATION,
        inbox_id,
        answer.text,
        answer.segments.count,
        now,
    )
    await conn.execute(
        "INSERT INTO sms_outbox_history (outbox_id, state, event, detail, at)"
        " VALUES ($1, 'pending', 'created', 'stop confirmation', $2)",
        outbox_id,
        now,
    )
    return True
