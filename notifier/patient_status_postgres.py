"""Patient status changes (``schedule.change_status`` is the rule): leaving ``admitted`` cancels
the queued messages in the same commit, and a death alerts the attending doctor."""

from __future__ import annotations

from datetime import datetime

import asyncpg

from notifier.alerts_postgres import add_alert
from notifier.consent_postgres import cancel_pending, close_consents
from notifier.errors import InvalidInput, PatientExists, PatientNotFound
from notifier.patients_postgres import Patient, PatientLookup, patient_from_row
from notifier.schedule import PatientStatus, StatusChange, change_status
from notifier.schema_postgres import Conn


class PatientStatusStore(PatientLookup):
    """Admission, discharge, transfer and death of ICU patients."""

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
        new: bool = False,
    ) -> tuple[Patient, StatusChange]:
        """Record a status; leaving ``admitted`` cancels queued messages in the same commit.

        ``new``: an admission of a patient this hospital does not have yet, refused with
        ``patient_exists`` when it has (a desk's admission must not rename a patient).
        """
        async with self.pool.acquire() as conn, conn.transaction():
            old = await _lock_patient(conn, patient_id)
            if new and old is not None and old["clinic"] == clinic:
                raise PatientExists("this hospital already has a patient with this id")
            unknown = old is None
            if old is not None and old["clinic"] != clinic:
                await _leave_first_hospital(conn, old, status, by, now)
                old = None  # an admission here, with no previous status
            change = change_status(PatientStatus(old["status"]) if old else None, status)
            if unknown and not label:
                raise InvalidInput("a patient is admitted with the label the message gives")
            patient = await _upsert(
                conn, patient_id, clinic, status, by, now, attending_doctor, label
            )
            await _consequences(conn, patient, change, now)
        return patient, change


async def _lock_patient(conn: Conn, patient_id: str) -> asyncpg.Record | None:
    # Lock outbox rows before the patient row, the order a claiming worker uses too.
    await conn.execute(
        "SELECT id FROM sms_outbox WHERE patient_id = $1 AND state = 'pending' FOR UPDATE",
        patient_id,
    )
    row: asyncpg.Record | None = await conn.fetchrow(
        "SELECT * FROM sms_patients WHERE patient_id = $1 FOR UPDATE", patient_id
    )
    return row


async def _leave_first_hospital(
    conn: Conn, old: asyncpg.Record, status: PatientStatus, by: str, now: datetime
) -> None:
    """Another hospital's ICU admits the patient: end the first hospital's consents.

    A patient id is city-wide. Another hospital's ICU may admit a patient whom the first one
    discharged or transferred; the first hospital's consents end then, since a relative agreed
    to hear from the ICU that asked them.
    """
    if old["status"] == PatientStatus.ADMITTED.value or status != PatientStatus.ADMITTED:
        raise PatientNotFound("no such ICU patient in this clinic")
    await close_consents(conn, old["patient_id"], by, now)


async def _upsert(
    conn: Conn,
    patient_id: str,
    clinic: str,
    status: PatientStatus,
    by: str,
    now: datetime,
    attending_doctor: str | None,
    label: str | None,
) -> Patient:
    """Write the patient row and its history entry."""
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
    assert row is not None  # INSERT ... RETURNING always yields the row
    return patient_from_row(row)


async def _consequences(conn: Conn, patient: Patient, change: StatusChange, now: datetime) -> None:
    """What the change sets off: queued messages cancelled, the attending doctor alerted."""
    status = patient.status
    if change.stop_sending:
        await cancel_pending(conn, now, f"patient {status.value}", patient_id=patient.patient_id)
    if change.alert_attending:
        await add_alert(
            conn,
            kind="patient_deceased",
            key=patient.patient_id,
            clinic=patient.clinic,
            patient_id=patient.patient_id,
            doctor=patient.attending_doctor,
            message=(
                "The patient has died. Automatic SMS to the relatives stopped at once; "
                "please inform them personally."
            ),
            now=now,
        )
