"""Claiming ready outbox rows: lock them with ``FOR UPDATE SKIP LOCKED`` and take each one step.

A claim commits ``sending`` (with a lease and a fresh token) *before* the HTTP call, so a crash
mid-send leaves evidence: a ``sending`` row whose lease ran out becomes ``unknown``, and an
``unknown`` row is claimed to ``check`` with the provider, never to send.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

import asyncpg

from notifier.alerts_postgres import add_alert
from notifier.crypto import PhoneCipher
from notifier.lifecycle import State
from notifier.observations_postgres import obs_from_row
from notifier.outbox import (
    DAILY,
    Cancel,
    Claim,
    Decision,
    DueRow,
    Hold,
    Prepare,
    Reject,
    Send,
)
from notifier.outbox_moves_postgres import move
from notifier.schedule import PatientStatus
from notifier.schema_postgres import Conn
from notifier.vitals import Observation


async def claim_ready(
    conn: Conn,
    cipher: PhoneCipher,
    now: datetime,
    *,
    limit: int,
    lease: timedelta,
    prepare: Prepare,
) -> list[Claim]:
    """Inside the caller's transaction: lock ready rows (skipping rows another worker holds)."""
    claims = []
    for row in await _lock_ready(conn, now, limit):
        claim = await _take(conn, cipher, row, now, lease, prepare)
        if claim is not None:
            claims.append(claim)
    return claims


async def _lock_ready(conn: Conn, now: datetime, limit: int) -> list[asyncpg.Record]:
    rows: list[asyncpg.Record] = await conn.fetch(
        """
        SELECT o.id, o.kind, o.state, o.attempts, o.body, o.parts, o.local_date, o.patient_id,
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
    return rows


async def _take(
    conn: Conn,
    cipher: PhoneCipher,
    row: asyncpg.Record,
    now: datetime,
    lease: timedelta,
    prepare: Prepare,
) -> Claim | None:
    """One row one step: a claim to check or to send, or None when it was held or closed."""
    state = row["state"]
    token = uuid.uuid4()
    if state == State.SENDING:
        # The previous holder died (or hung) mid-send: the provider may have the message.
        state = await move(conn, row["id"], state, "lease_expired", now)
    if state == State.UNKNOWN:
        await conn.execute(
            "UPDATE sms_outbox SET next_attempt_at = $2, claim_token = $3 WHERE id = $1",
            row["id"],
            now + lease,
            token,
        )
        return _claim(cipher, "check", row, token)
    decision: Decision
    if row["kind"] == DAILY:
        decision = prepare(await _due_row(conn, row))
    else:
        # A reply's confirmation was composed with the reply and goes at once, quiet hours or
        # not: the relative has just written to us and waits for the answer.
        decision = Send(row["body"], row["parts"])
    if not isinstance(decision, Send):
        await _settle(conn, row, state, decision, now)
        return None
    await move(
        conn, row["id"], state, "claim", now,
        body=decision.body, parts=decision.parts,
        attempts=row["attempts"] + 1, lease_until=now + lease, claim_token=token,
    )  # fmt: skip
    return _claim(cipher, "send", row, token, body=decision.body, bump=1)


async def _due_row(conn: Conn, row: asyncpg.Record) -> DueRow:
    """What ``prepare`` sees; observations only for a first try (a retry resends its body)."""
    observations: tuple[Observation, ...] = ()
    if row["body"] is None:
        obs = await conn.fetch(
            "SELECT measured_at, vals::text AS vals FROM sms_observations"
            " WHERE patient_id = $1 ORDER BY measured_at DESC LIMIT 200",
            row["patient_id"],
        )
        observations = tuple(obs_from_row(o["measured_at"], o["vals"]) for o in obs)
    return DueRow(
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


async def _settle(
    conn: Conn, row: asyncpg.Record, state: str, decision: Hold | Cancel | Reject, now: datetime
) -> None:
    """Record a decision not to send now: hold until later, cancel, or reject with an alert."""
    if isinstance(decision, Hold):
        await move(conn, row["id"], state, "hold", now, next_attempt_at=decision.until)
    elif isinstance(decision, Cancel):
        await move(conn, row["id"], state, "cancel", now, decision.reason)
    else:
        await move(
            conn, row["id"], state, "reject", now, decision.reason, last_error=decision.reason
        )
        await add_alert(
            conn,
            kind="message_rejected",
            key=str(row["id"]),
            clinic=row["clinic"],
            patient_id=row["patient_id"],
            message=f"Daily SMS not sent: {decision.reason}",
            now=now,
        )


def _claim(
    cipher: PhoneCipher,
    kind: str,
    row: asyncpg.Record,
    token: uuid.UUID,
    *,
    body: str = "",
    bump: int = 0,
) -> Claim:
    return Claim(
        kind=kind,
        outbox_id=row["id"],
        token=token,
        phone=cipher.decrypt(row["phone_enc"]),
        body=body or row["body"] or "",
        attempts=row["attempts"] + bump,
        patient_id=row["patient_id"],
        clinic=row["clinic"],
        patient_status=PatientStatus(row["status"]),
    )
