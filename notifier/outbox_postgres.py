"""The transactional outbox: one row per (patient, relative, local date), moved only along
``lifecycle.TRANSITIONS`` (``outbox_moves_postgres``), claimed by ``outbox_claims_postgres``
and polled for delivery by ``outbox_delivery_postgres``.

Results are recorded only by the holder of the claim token; a row someone else took over is
left alone.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

import asyncpg

from notifier.alerts_postgres import add_alert
from notifier.crypto import PhoneCipher
from notifier.lifecycle import Delivery
from notifier.outbox import DAILY, Claim, PollClaim, Prepare
from notifier.outbox_claims_postgres import claim_ready
from notifier.outbox_delivery_postgres import claim_polls, record_delivery, record_pushed
from notifier.outbox_moves_postgres import move
from notifier.schedule import PatientStatus, Plan


class Outbox:
    """The outbox over an asyncpg pool: each method is one transaction."""

    def __init__(self, pool: asyncpg.Pool, cipher: PhoneCipher) -> None:
        self.pool = pool
        self.cipher = cipher

    async def enqueue_due(
        self, now: datetime, plan: Callable[[str, PatientStatus, datetime], Plan | None]
    ) -> int:
        """Insert today's rows for every active consent; the UNIQUE key makes re-runs no-ops."""
        rows = await self.pool.fetch(
            """
            SELECT r.id, r.patient_id, r.consent_since, p.clinic, p.status
            FROM sms_relatives r JOIN sms_patients p USING (patient_id)
            WHERE r.active AND NOT r.bad_number AND p.status = 'admitted'
            """
        )
        batch = []
        for r in rows:
            decided = plan(r["clinic"], PatientStatus(r["status"]), r["consent_since"])
            if decided is not None:
                batch.append((r["patient_id"], r["id"], decided.local_date, decided.not_before))
        if not batch:
            return 0
        async with self.pool.acquire() as conn, conn.transaction():
            created = await conn.fetch(
                """
                INSERT INTO sms_outbox (patient_id, relative_id, local_date, state,
                    next_attempt_at, created_at, updated_at)
                SELECT p, r, d, 'pending', n, $5, $5
                FROM unnest($1::text[], $2::bigint[], $3::date[], $4::timestamptz[])
                    AS t(p, r, d, n)
                ON CONFLICT (patient_id, relative_id, local_date) WHERE kind = 'daily'
                DO NOTHING
                RETURNING id
                """,
                [b[0] for b in batch],
                [b[1] for b in batch],
                [b[2] for b in batch],
                [b[3] for b in batch],
                now,
            )
            await conn.executemany(
                "INSERT INTO sms_outbox_history (outbox_id, state, event, at)"
                " VALUES ($1, 'pending', 'created', $2)",
                [(c["id"], now) for c in created],
            )
        return len(created)

    async def claim(
        self, now: datetime, *, limit: int, lease: timedelta, prepare: Prepare
    ) -> list[Claim]:
        """Lock ready rows (skipping rows another worker holds) and take each one step."""
        async with self.pool.acquire() as conn, conn.transaction():
            return await claim_ready(
                conn, self.cipher, now, limit=limit, lease=lease, prepare=prepare
            )

    async def record(
        self,
        claim: Claim | PollClaim,
        event: str,
        now: datetime,
        detail: str | None = None,
        **fields: object,
    ) -> bool:
        """Apply ``event`` if this claim still owns the row; False when someone took it over."""
        async with self.pool.acquire() as conn, conn.transaction():
            row = await conn.fetchrow(
                "SELECT state, claim_token FROM sms_outbox WHERE id = $1 FOR UPDATE",
                claim.outbox_id,
            )
            if row is None or row["claim_token"] != claim.token:
                return False
            await move(conn, claim.outbox_id, row["state"], event, now, detail, **fields)
        return True

    async def still_wanted(self, claim: Claim) -> bool:
        """Last look before send.php: the patient is still admitted and consent still active.

        A reply's confirmation goes to a relative who has just withdrawn consent: only the
        claim matters for it."""
        row = await self.pool.fetchrow(
            """
            SELECT p.status, r.active, r.bad_number, o.claim_token, o.kind FROM sms_outbox o
            JOIN sms_patients p ON p.patient_id = o.patient_id
            JOIN sms_relatives r ON r.id = o.relative_id WHERE o.id = $1
            """,
            claim.outbox_id,
        )
        if row is not None and row["kind"] != DAILY:
            return bool(row["claim_token"] == claim.token)
        return (
            row is not None
            and row["claim_token"] == claim.token
            and row["status"] == PatientStatus.ADMITTED
            and row["active"]
            and not row["bad_number"]
        )

    async def mark_bad_number(self, claim: Claim, now: datetime, reason: str) -> None:
        async with self.pool.acquire() as conn, conn.transaction():
            rel = await conn.fetchrow(
                """
                UPDATE sms_relatives r SET bad_number = true FROM sms_outbox o
                WHERE o.id = $1 AND r.id = o.relative_id RETURNING r.id
                """,
                claim.outbox_id,
            )
            if rel is None:
                return
            await conn.execute(
                "INSERT INTO sms_consent_history (relative_id, action, changed_by, changed_at)"
                " VALUES ($1, 'number_bad', 'smsc', $2)",
                rel["id"],
                now,
            )
            doctor = await conn.fetchval(
                "SELECT attending_doctor FROM sms_patients WHERE patient_id = $1",
                claim.patient_id,
            )
            await add_alert(
                conn,
                kind="bad_number",
                key=str(rel["id"]),
                clinic=claim.clinic,
                patient_id=claim.patient_id,
                doctor=doctor,
                message=f"A relative's number cannot receive SMS ({reason}); please check it.",
                now=now,
            )

    async def alert(self, *, kind: str, key: str, message: str, now: datetime, **kw: str) -> bool:
        async with self.pool.acquire() as conn:
            return await add_alert(conn, kind=kind, key=key, message=message, now=now, **kw)

    async def claim_polls(self, now: datetime, *, limit: int, lease: timedelta) -> list[PollClaim]:
        """Sent rows whose delivery status is due for a status poll."""
        async with self.pool.acquire() as conn, conn.transaction():
            return await claim_polls(conn, self.cipher, now, limit=limit, lease=lease)

    async def record_delivery(
        self,
        claim: PollClaim | Claim,
        status: Delivery | None,
        detail: str,
        now: datetime,
        next_poll: datetime | None,
    ) -> bool:
        """Store a delivery status only if it moves forward; a final one ends the polling."""
        async with self.pool.acquire() as conn, conn.transaction():
            return await record_delivery(conn, claim, status, detail, now, next_poll)

    async def record_pushed_delivery(
        self, outbox_id: int, phone: str, status: Delivery, detail: str, now: datetime
    ) -> bool:
        """A delivery report the provider pushed; True when it moved the row forward."""
        fp = self.cipher.fingerprint(phone)
        async with self.pool.acquire() as conn, conn.transaction():
            return await record_pushed(conn, outbox_id, fp, status, detail, now)

    async def next_wakeup(self) -> datetime | None:
        """The earliest moment any row could move on its own."""
        value: datetime | None = await self.pool.fetchval(
            """
            SELECT min(t) FROM (
                SELECT min(next_attempt_at) AS t FROM sms_outbox
                    WHERE state IN ('pending', 'unknown')
                UNION ALL SELECT min(lease_until) FROM sms_outbox WHERE state = 'sending'
                UNION ALL SELECT min(next_poll_at) FROM sms_outbox WHERE state = 'sent'
            ) AS x
            """
        )
        return value

    async def counts(self) -> dict[str, int]:
        rows = await self.pool.fetch("SELECT state, count(*) AS n FROM sms_outbox GROUP BY state")
        return {r["state"]: r["n"] for r in rows}
