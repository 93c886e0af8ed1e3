"""The transactional outbox: one row per (patient, relative, local date), claimed with
``SELECT ... FOR UPDATE SKIP LOCKED`` and moved only along ``lifecycle.TRANSITIONS``.

A claim commits ``sending`` (with a lease and a fresh token) *before* the HTTP call, so a crash
mid-send leaves evidence: once the lease expires the row becomes ``unknown`` and the provider is
asked about our id before anything is sent again. Results are recorded only by the token holder.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta

import asyncpg

from notifier.crypto import PhoneCipher
from notifier.lifecycle import (
    FROM_STORED,
    STORED,
    Delivery,
    State,
    advance,
    delivery_event,
    moves_forward,
)
from notifier.schedule import PatientStatus, Plan
from notifier.store_postgres import Conn, add_alert, obs_from_row
from notifier.vitals import Observation


@dataclass(frozen=True, slots=True)
class DueRow:
    """What ``prepare`` sees of a pending row, inside the claiming transaction."""

    outbox_id: int
    patient_id: str
    clinic: str
    patient_label: str
    patient_status: PatientStatus
    relative_active: bool
    bad_number: bool
    language: str
    local_date: date
    attempts: int
    body: str | None
    parts: int | None
    observations: tuple[Observation, ...]


@dataclass(frozen=True, slots=True)
class Send:
    body: str
    parts: int


@dataclass(frozen=True, slots=True)
class Hold:
    until: datetime


@dataclass(frozen=True, slots=True)
class Cancel:
    reason: str


@dataclass(frozen=True, slots=True)
class Reject:
    reason: str


Decision = Send | Hold | Cancel | Reject
Prepare = Callable[[DueRow], Decision]


@dataclass(frozen=True, slots=True)
class Claim:
    """A row this worker owns until ``lease_until``: ``send`` it, or ``check`` its status."""

    kind: str
    outbox_id: int
    token: uuid.UUID
    phone: str
    body: str
    attempts: int
    patient_id: str
    clinic: str
    patient_status: PatientStatus

    @property
    def message_id(self) -> int:
        return (
            self.outbox_id
        )  # our id at the provider: stable across retries, so a status check finds it


@dataclass(frozen=True, slots=True)
class PollClaim:
    outbox_id: int
    token: uuid.UUID
    phone: str
    delivery_status: int | None
    polls: int

    @property
    def message_id(self) -> int:
        return self.outbox_id


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


async def _move(
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


class Outbox:
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
                ON CONFLICT (patient_id, relative_id, local_date) DO NOTHING
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
        claims: list[Claim] = []
        async with self.pool.acquire() as conn, conn.transaction():
            rows = await conn.fetch(
                """
                SELECT o.id, o.state, o.attempts, o.body, o.parts, o.local_date, o.patient_id,
                       p.clinic, p.label, p.status, r.active, r.bad_number, r.language,
                       r.phone_enc
                FROM sms_outbox o
                JOIN sms_patients p ON p.patient_id = o.patient_id
                JOIN sms_relatives r ON r.id = o.relative_id
                WHERE (o.state IN ('pending', 'unknown') AND o.next_attempt_at <= $1)
                   OR (o.state = 'sending' AND o.lease_until <= $1)
                ORDER BY o.next_attempt_at, o.id
                LIMIT $2
                FOR UPDATE OF o SKIP LOCKED
                """,
                now,
                limit,
            )
            for row in rows:
                state = row["state"]
                token = uuid.uuid4()
                if state == State.SENDING:
                    # The previous holder died (or hung) mid-send: SMSC may have the message.
                    state = await _move(conn, row["id"], state, "lease_expired", now)
                if state == State.UNKNOWN:
                    await conn.execute(
                        "UPDATE sms_outbox SET next_attempt_at = $2, claim_token = $3"
                        " WHERE id = $1",
                        row["id"],
                        now + lease,
                        token,
                    )
                    claims.append(self._claim("check", row, token))
                    continue
                observations: tuple[Observation, ...] = ()
                if row["body"] is None:
                    obs = await conn.fetch(
                        "SELECT measured_at, vals::text AS vals FROM sms_observations"
                        " WHERE patient_id = $1 ORDER BY measured_at DESC LIMIT 200",
                        row["patient_id"],
                    )
                    observations = tuple(obs_from_row(o["measured_at"], o["vals"]) for o in obs)
                decision = prepare(
                    DueRow(
                        outbox_id=row["id"],
                        patient_id=row["patient_id"],
                        clinic=row["clinic"],
                        patient_label=row["label"],
                        patient_status=PatientStatus(row["status"]),
                        relative_active=row["active"],
                        bad_number=row["bad_number"],
                        language=row["language"],
                        local_date=row["local_date"],
                        attempts=row["attempts"],
                        body=row["body"],
                        parts=row["parts"],
                        observations=observations,
                    )
                )
                if isinstance(decision, Hold):
                    await _move(conn, row["id"], state, "hold", now, next_attempt_at=decision.until)
                elif isinstance(decision, Cancel):
                    await _move(conn, row["id"], state, "cancel", now, decision.reason)
                elif isinstance(decision, Reject):
                    await _move(
                        conn, row["id"], state, "reject", now, decision.reason,
                        last_error=decision.reason,
                    )  # fmt: skip
                    await add_alert(
                        conn,
                        kind="message_rejected",
                        key=str(row["id"]),
                        clinic=row["clinic"],
                        patient_id=row["patient_id"],
                        message=f"Daily SMS not sent: {decision.reason}",
                        now=now,
                    )
                else:
                    await _move(
                        conn, row["id"], state, "claim", now,
                        body=decision.body, parts=decision.parts,
                        attempts=row["attempts"] + 1, lease_until=now + lease,
                        claim_token=token,
                    )  # fmt: skip
                    claims.append(self._claim("send", row, token, body=decision.body, bump=1))
        return claims

    def _claim(
        self, kind: str, row: asyncpg.Record, token: uuid.UUID, *, body: str = "", bump: int = 0
    ) -> Claim:
        return Claim(
            kind=kind,
            outbox_id=row["id"],
            token=token,
            phone=self.cipher.decrypt(row["phone_enc"]),
            body=body or row["body"] or "",
            attempts=row["attempts"] + bump,
            patient_id=row["patient_id"],
            clinic=row["clinic"],
            patient_status=PatientStatus(row["status"]),
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
            await _move(conn, claim.outbox_id, row["state"], event, now, detail, **fields)
        return True

    async def still_wanted(self, claim: Claim) -> bool:
        """Last look before send.php: the patient is still admitted and consent still active."""
        row = await self.pool.fetchrow(
            """
            SELECT p.status, r.active, r.bad_number, o.claim_token FROM sms_outbox o
            JOIN sms_patients p ON p.patient_id = o.patient_id
            JOIN sms_relatives r ON r.id = o.relative_id WHERE o.id = $1
            """,
            claim.outbox_id,
        )
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
                        self.cipher.decrypt(row["phone_enc"]),
                        row["delivery_status"],
                        row["polls"],
                    )
                )
        return claims

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
            row = await conn.fetchrow(
                "SELECT state, claim_token, delivery_status, polls FROM sms_outbox"
                " WHERE id = $1 FOR UPDATE",
                claim.outbox_id,
            )
            if row is None or row["claim_token"] != claim.token:
                return False
            old = row["delivery_status"]
            if status is None or not moves_forward(FROM_STORED.get(old), status):
                await conn.execute(
                    "UPDATE sms_outbox SET next_poll_at = $2, polls = polls + 1 WHERE id = $1",
                    claim.outbox_id,
                    next_poll,
                )
                return False
            event = delivery_event(status)
            final = event != "progress"
            await _move(
                conn, claim.outbox_id, row["state"], event, now, detail,
                delivery_status=STORED[status], next_poll_at=None if final else next_poll,
                polls=row["polls"] + 1,
            )  # fmt: skip
        return True

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
