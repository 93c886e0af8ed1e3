"""PostgreSQL store for the notifier: schema, patients, consent with history, observations,
alerts and the audit view. The outbox itself lives in ``outbox_postgres``.

Phone numbers are stored AES-GCM encrypted with a keyed fingerprint (to find duplicates) and a
precomputed mask; the clear number only exists in memory while a message is being sent.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

import asyncpg
from asyncpg.pool import PoolConnectionProxy

from notifier.crypto import PhoneCipher
from notifier.errors import ConsentConflict, PatientNotFound, RelativeNotFound
from notifier.lifecycle import FROM_STORED
from notifier.phones import mask
from notifier.schedule import PatientStatus, StatusChange, change_status
from notifier.vitals import Dynamics, Observation

SCHEMA = Path(__file__).with_name("schema.sql")
TABLES = (
    "sms_outbox_history",
    "sms_outbox",
    "sms_alerts",
    "sms_observations",
    "sms_consent_history",
    "sms_relatives",
    "sms_patient_history",
    "sms_patients",
)

Conn = asyncpg.Connection | PoolConnectionProxy
Executor = asyncpg.Pool | Conn


async def init_schema(db: Executor) -> None:
    """Create the sms_ tables if missing; an advisory lock lets many processes start at once."""
    if isinstance(db, asyncpg.Pool):
        async with db.acquire() as conn:
            await init_schema(conn)
        return
    async with db.transaction():
        await db.execute("SELECT pg_advisory_xact_lock(hashtext('clinicq_sms_schema'))")
        await db.execute(SCHEMA.read_text())


@dataclass(frozen=True, slots=True)
class Patient:
    patient_id: str
    clinic: str
    label: str
    attending_doctor: str | None
    status: PatientStatus


@dataclass(frozen=True, slots=True)
class ConsentEvent:
    action: str
    by: str
    at: datetime


@dataclass(frozen=True, slots=True)
class Relative:
    id: int
    patient_id: str
    phone_masked: str
    relation: str
    language: str
    active: bool
    bad_number: bool
    consent_since: datetime
    history: tuple[ConsentEvent, ...] = ()


@dataclass(frozen=True, slots=True)
class Alert:
    id: int
    kind: str
    clinic: str | None
    patient_id: str | None
    doctor: str | None
    message: str
    created_at: datetime


@dataclass(frozen=True, slots=True)
class MessageRecord:
    id: int
    relative_id: int
    phone_masked: str
    relation: str
    local_date: date
    state: str
    delivery: str | None
    parts: int | None
    body: str | None
    sent_at: datetime | None
    created_at: datetime
    history: tuple[tuple[str, str, datetime], ...] = field(default=())


def obs_to_json(obs: Observation) -> str:
    vals: dict[str, Any] = {}
    for name in (
        "temperature",
        "pulse",
        "spo2",
        "heart_rate",
        "respiratory_rate",
        "conscious",
        "ventilator",
    ):
        value = getattr(obs, name)
        if value is not None:
            vals[name] = value
    if obs.blood_pressure is not None:
        vals["blood_pressure"] = list(obs.blood_pressure)
    if obs.dynamics is not None:
        vals["dynamics"] = obs.dynamics.value
    return json.dumps(vals)


def obs_from_row(measured_at: datetime, vals: str) -> Observation:
    data = json.loads(vals)
    bp = data.pop("blood_pressure", None)
    dyn = data.pop("dynamics", None)
    return Observation(
        measured_at=measured_at,
        blood_pressure=tuple(bp) if bp else None,
        dynamics=Dynamics(dyn) if dyn else None,
        **data,
    )


async def add_alert(
    conn: Conn,
    *,
    kind: str,
    key: str,
    message: str,
    now: datetime,
    clinic: str | None = None,
    patient_id: str | None = None,
    doctor: str | None = None,
) -> bool:
    """Insert an alert once per (kind, key); True when it is new."""
    row = await conn.fetchval(
        "INSERT INTO sms_alerts (kind, dedupe_key, clinic, patient_id, doctor, message, created_at)"
        " VALUES ($1,$2,$3,$4,$5,$6,$7) ON CONFLICT (kind, dedupe_key) DO NOTHING RETURNING id",
        kind,
        key,
        clinic,
        patient_id,
        doctor,
        message,
        now,
    )
    return row is not None


class SmsStore:
    """Patients, consent, observations, alerts and audit over an asyncpg pool."""

    def __init__(self, pool: asyncpg.Pool, cipher: PhoneCipher) -> None:
        self.pool = pool
        self.cipher = cipher

    async def truncate(self) -> None:
        """Empty the notifier's tables (tests); other tables are left alone."""
        await self.pool.execute(f"TRUNCATE {', '.join(TABLES)} RESTART IDENTITY")

    @staticmethod
    def _patient(row: asyncpg.Record) -> Patient:
        return Patient(
            row["patient_id"],
            row["clinic"],
            row["label"],
            row["attending_doctor"],
            PatientStatus(row["status"]),
        )

    async def get_patient(self, patient_id: str, clinic: str | None = None) -> Patient:
        row = await self.pool.fetchrow(
            "SELECT * FROM sms_patients WHERE patient_id = $1", patient_id
        )
        if row is None or (clinic is not None and row["clinic"] != clinic):
            raise PatientNotFound("no such ICU patient in this clinic")
        return self._patient(row)

    async def set_status(
        self,
        patient_id: str,
        *,
        clinic: str,
        status: PatientStatus,
        by: str,
        now: datetime,
        attending_doctor: str | None = None,
        label: str | None = None,
    ) -> tuple[Patient, StatusChange]:
        """Record a status; leaving ``admitted`` cancels queued messages in the same commit."""
        async with self.pool.acquire() as conn, conn.transaction():
            # Lock outbox rows before the patient row, the order a claiming worker uses too.
            await conn.execute(
                "SELECT id FROM sms_outbox WHERE patient_id = $1 AND state = 'pending' FOR UPDATE",
                patient_id,
            )
            old = await conn.fetchrow(
                "SELECT * FROM sms_patients WHERE patient_id = $1 FOR UPDATE", patient_id
            )
            if old is not None and old["clinic"] != clinic:
                # A patient id is city-wide. Another hospital's ICU may admit a patient whom the
                # first one discharged or transferred; the first hospital's consents end then,
                # since a relative agreed to hear from the ICU that asked them.
                if (
                    old["status"] == PatientStatus.ADMITTED.value
                    or status != PatientStatus.ADMITTED
                ):
                    raise PatientNotFound("no such ICU patient in this clinic")
                await _close_consents(conn, patient_id, by, now)
                old = None
            change = change_status(PatientStatus(old["status"]) if old else None, status)
            row = await conn.fetchrow(
                """
                INSERT INTO sms_patients
                    (patient_id, clinic, label, attending_doctor, status, updated_by, updated_at)
                VALUES ($1, $2, coalesce($3, ''), $4, $5, $6, $7)
                ON CONFLICT (patient_id) DO UPDATE SET
                    clinic = $2,
                    label = coalesce($3, sms_patients.label),
                    attending_doctor = coalesce($4, sms_patients.attending_doctor),
                    status = $5, updated_by = $6, updated_at = $7
                RETURNING *
                """,
                patient_id,
                clinic,
                label,
                attending_doctor,
                status.value,
                by,
                now,
            )
            await conn.execute(
                "INSERT INTO sms_patient_history (patient_id, status, changed_by, changed_at)"
                " VALUES ($1, $2, $3, $4)",
                patient_id,
                status.value,
                by,
                now,
            )
            if change.stop_sending:
                await _cancel_pending(conn, now, f"patient {status.value}", patient_id=patient_id)
            assert row is not None  # INSERT ... RETURNING always yields the row
            patient = self._patient(row)
            if change.alert_attending:
                await add_alert(
                    conn,
                    kind="patient_deceased",
                    key=patient_id,
                    clinic=clinic,
                    patient_id=patient_id,
                    doctor=patient.attending_doctor,
                    message=(
                        "The patient has died. Automatic SMS to the relatives stopped at once; "
                        "please inform them personally."
                    ),
                    now=now,
                )
        return patient, change

    async def add_relative(
        self,
        patient_id: str,
        *,
        clinic: str,
        phone: str,
        relation: str,
        language: str,
        by: str,
        now: datetime,
    ) -> Relative:
        """Register consent for an E.164 number (re-granting a revoked one keeps its history)."""
        fp = self.cipher.fingerprint(phone)
        async with self.pool.acquire() as conn, conn.transaction():
            patient = await conn.fetchrow(
                "SELECT clinic, status FROM sms_patients WHERE patient_id = $1 FOR SHARE",
                patient_id,
            )
            if patient is None or patient["clinic"] != clinic:
                raise PatientNotFound("no such ICU patient in this clinic")
            if patient["status"] != PatientStatus.ADMITTED:
                raise ConsentConflict("the patient is not in the ICU, so no SMS can be sent")
            existing = await conn.fetchrow(
                "SELECT id, active FROM sms_relatives WHERE patient_id = $1 AND phone_fp = $2"
                " FOR UPDATE",
                patient_id,
                fp,
            )
            if existing is not None and existing["active"]:
                raise ConsentConflict("this number is already registered for the patient")
            enc = self.cipher.encrypt(phone)
            if existing is None:
                rel_id = await conn.fetchval(
                    """
                    INSERT INTO sms_relatives (patient_id, phone_enc, phone_fp, phone_masked,
                        relation, language, active, consent_since)
                    VALUES ($1, $2, $3, $4, $5, $6, true, $7) RETURNING id
                    """,
                    patient_id,
                    enc,
                    fp,
                    mask(phone),
                    relation,
                    language,
                    now,
                )
            else:
                rel_id = existing["id"]
                await conn.execute(
                    """
                    UPDATE sms_relatives SET phone_enc = $2, relation = $3, language = $4,
                        active = true, bad_number = false, consent_since = $5 WHERE id = $1
                    """,
                    rel_id,
                    enc,
                    relation,
                    language,
                    now,
                )
            await _consent_event(conn, rel_id, "granted", by, now)
        return await self.get_relative(patient_id, rel_id, clinic=clinic)

    async def revoke_relative(
        self, patient_id: str, relative_id: int, *, clinic: str, by: str, now: datetime
    ) -> Relative:
        """Revoke consent; queued messages for this relative are cancelled in the same commit."""
        async with self.pool.acquire() as conn, conn.transaction():
            await conn.execute(
                "SELECT id FROM sms_outbox WHERE relative_id = $1 AND state = 'pending' FOR UPDATE",
                relative_id,
            )
            row = await conn.fetchrow(
                """
                SELECT r.active FROM sms_relatives r JOIN sms_patients p USING (patient_id)
                WHERE r.id = $1 AND r.patient_id = $2 AND p.clinic = $3 FOR UPDATE OF r
                """,
                relative_id,
                patient_id,
                clinic,
            )
            if row is None:
                raise RelativeNotFound("no such relative for this patient")
            if not row["active"]:
                raise ConsentConflict("consent was already revoked")
            await conn.execute("UPDATE sms_relatives SET active = false WHERE id = $1", relative_id)
            await _consent_event(conn, relative_id, "revoked", by, now)
            await _cancel_pending(conn, now, "consent revoked", relative_id=relative_id)
        return await self.get_relative(patient_id, relative_id, clinic=clinic)

    async def get_relative(
        self, patient_id: str, relative_id: int, *, clinic: str | None = None
    ) -> Relative:
        found = [r for r in await self.relatives(patient_id, clinic=clinic) if r.id == relative_id]
        if not found:
            raise RelativeNotFound("no such relative for this patient")
        return found[0]

    async def relatives(self, patient_id: str, *, clinic: str | None = None) -> list[Relative]:
        await self.get_patient(patient_id, clinic)
        rows = await self.pool.fetch(
            "SELECT * FROM sms_relatives WHERE patient_id = $1 ORDER BY id", patient_id
        )
        history = await self.pool.fetch(
            """
            SELECT h.* FROM sms_consent_history h JOIN sms_relatives r ON r.id = h.relative_id
            WHERE r.patient_id = $1 ORDER BY h.id
            """,
            patient_id,
        )
        return [
            Relative(
                id=r["id"],
                patient_id=r["patient_id"],
                phone_masked=r["phone_masked"],
                relation=r["relation"],
                language=r["language"],
                active=r["active"],
                bad_number=r["bad_number"],
                consent_since=r["consent_since"],
                history=tuple(
                    ConsentEvent(h["action"], h["changed_by"], h["changed_at"])
                    for h in history
                    if h["relative_id"] == r["id"]
                ),
            )
            for r in rows
        ]

    async def add_observation(
        self, patient_id: str, obs: Observation, *, clinic: str, by: str, now: datetime
    ) -> int:
        await self.get_patient(patient_id, clinic)
        return int(
            await self.pool.fetchval(
                "INSERT INTO sms_observations (patient_id, measured_at, recorded_by, recorded_at,"
                " vals) VALUES ($1, $2, $3, $4, $5::jsonb) RETURNING id",
                patient_id,
                obs.measured_at,
                by,
                now,
                obs_to_json(obs),
            )
        )

    async def observations(self, patient_id: str, limit: int = 200) -> list[Observation]:
        rows = await self.pool.fetch(
            "SELECT measured_at, vals::text AS vals FROM sms_observations WHERE patient_id = $1"
            " ORDER BY measured_at DESC LIMIT $2",
            patient_id,
            limit,
        )
        return [obs_from_row(r["measured_at"], r["vals"]) for r in rows]

    async def alerts(self, clinic: str | None = None) -> list[Alert]:
        rows = await self.pool.fetch(
            "SELECT * FROM sms_alerts WHERE $1::text IS NULL OR clinic = $1 ORDER BY id", clinic
        )
        return [
            Alert(
                r["id"],
                r["kind"],
                r["clinic"],
                r["patient_id"],
                r["doctor"],
                r["message"],
                r["created_at"],
            )
            for r in rows
        ]

    async def messages(self, patient_id: str, *, clinic: str | None = None) -> list[MessageRecord]:
        """Audit: what went to whom (masked), when, and how far delivery got."""
        await self.get_patient(patient_id, clinic)
        rows = await self.pool.fetch(
            """
            SELECT o.*, r.phone_masked, r.relation FROM sms_outbox o
            JOIN sms_relatives r ON r.id = o.relative_id
            WHERE o.patient_id = $1 ORDER BY o.local_date DESC, o.id
            """,
            patient_id,
        )
        history = await self.pool.fetch(
            """
            SELECT h.outbox_id, h.state, h.event, h.at FROM sms_outbox_history h
            JOIN sms_outbox o ON o.id = h.outbox_id WHERE o.patient_id = $1 ORDER BY h.id
            """,
            patient_id,
        )
        return [
            MessageRecord(
                id=r["id"],
                relative_id=r["relative_id"],
                phone_masked=r["phone_masked"],
                relation=r["relation"],
                local_date=r["local_date"],
                state=r["state"],
                delivery=(
                    None
                    if r["delivery_status"] is None
                    else str(FROM_STORED.get(r["delivery_status"], r["delivery_status"]))
                ),
                parts=r["parts"],
                body=r["body"],
                sent_at=r["sent_at"],
                created_at=r["created_at"],
                history=tuple(
                    (h["state"], h["event"], h["at"]) for h in history if h["outbox_id"] == r["id"]
                ),
            )
            for r in rows
        ]


async def _consent_event(conn: Conn, relative_id: int, action: str, by: str, now: datetime) -> None:
    await conn.execute(
        "INSERT INTO sms_consent_history (relative_id, action, changed_by, changed_at)"
        " VALUES ($1, $2, $3, $4)",
        relative_id,
        action,
        by,
        now,
    )


async def _cancel_pending(
    conn: Conn,
    now: datetime,
    reason: str,
    *,
    patient_id: str | None = None,
    relative_id: int | None = None,
) -> None:
    """pending -> cancelled (see lifecycle.TRANSITIONS); rows already at SMSC are left alone."""
    ids = await conn.fetch(
        """
        UPDATE sms_outbox SET state = 'cancelled', last_error = $4, updated_at = $3
        WHERE state = 'pending' AND ($1::text IS NULL OR patient_id = $1)
          AND ($2::bigint IS NULL OR relative_id = $2)
        RETURNING id
        """,
        patient_id,
        relative_id,
        now,
        reason,
    )
    await conn.executemany(
        "INSERT INTO sms_outbox_history (outbox_id, state, event, detail, at)"
        " VALUES ($1, 'cancelled', 'cancel', $2, $3)",
        [(r["id"], reason, now) for r in ids],
    )


async def _close_consents(conn: Conn, patient_id: str, by: str, now: datetime) -> None:
    """End every active consent for a patient (the patient moved to another hospital's ICU)."""
    rows = await conn.fetch(
        "UPDATE sms_relatives SET active = false WHERE patient_id = $1 AND active RETURNING id",
        patient_id,
    )
    for row in rows:
        await _consent_event(conn, row["id"], "revoked", by, now)
        await _cancel_pending(conn, now, "patient moved to another hospital", relative_id=row["id"])
