"""Relatives' consent with its history; revoking it (or the patient moving to another hospital)
cancels the messages still pending for them in the same commit.

Phone numbers are stored AES-GCM encrypted with a keyed fingerprint (to find duplicates) and a
precomputed mask; the clear number only exists in memory while a message is being sent.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from notifier.errors import ConsentConflict, PatientNotFound, RelativeNotFound
from notifier.patients_postgres import PatientLookup
from notifier.phones import mask
from notifier.schedule import PatientStatus
from notifier.schema_postgres import Conn


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


class ConsentStore(PatientLookup):
    """Relatives and their consent."""

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
            await consent_event(conn, rel_id, "granted", by, now)
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
            await consent_event(conn, relative_id, "revoked", by, now)
            await cancel_pending(conn, now, "consent revoked", relative_id=relative_id)
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


async def consent_event(conn: Conn, relative_id: int, action: str, by: str, now: datetime) -> None:
    await conn.execute(
        "INSERT INTO sms_consent_history (relative_id, action, changed_by, changed_at)"
        " VALUES ($1, $2, $3, $4)",
        relative_id,
        action,
        by,
        now,
    )


async def cancel_pending(
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


async def close_consents(conn: Conn, patient_id: str, by: str, now: datetime) -> None:
    """End every active consent for a patient (the patient moved to another hospital's ICU)."""
    rows = await conn.fetch(
        "UPDATE sms_relatives SET active = false WHERE patient_id = $1 AND active RETURNING id",
        patient_id,
    )
    for row in rows:
        await consent_event(conn, row["id"], "revoked", by, now)
        await cancel_pending(conn, now, "patient moved to another hospital", relative_id=row["id"])
