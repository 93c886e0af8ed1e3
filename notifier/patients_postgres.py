"""ICU patients: the record and the lookup every other part of the store guards with."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import asyncpg

from notifier.crypto import PhoneCipher
from notifier.errors import PatientNotFound
from notifier.schedule import PatientStatus


@dataclass(frozen=True, slots=True)
class Patient:
    patient_id: str
    clinic: str
    label: str
    attending_doctor: str | None
    status: PatientStatus


@dataclass(frozen=True, slots=True)
class PatientSummary:
    """A line of the ICU's list: the patient, who hears daily, and when vitals were last taken."""

    patient: Patient
    updated_at: datetime
    relatives: int  # consents in force
    observed_at: datetime | None


def patient_from_row(row: asyncpg.Record) -> Patient:
    return Patient(
        row["patient_id"],
        row["clinic"],
        row["label"],
        row["attending_doctor"],
        PatientStatus(row["status"]),
    )


class PatientLookup:
    """The base of each part of ``SmsStore``: the pool, the phone cipher, a patient by id."""

    def __init__(self, pool: asyncpg.Pool, cipher: PhoneCipher) -> None:
        self.pool = pool
        self.cipher = cipher

    async def get_patient(self, patient_id: str, clinic: str | None = None) -> Patient:
        row = await self.pool.fetchrow(
            "SELECT * FROM sms_patients WHERE patient_id = $1", patient_id
        )
        if row is None or (clinic is not None and row["clinic"] != clinic):
            raise PatientNotFound("no such ICU patient in this clinic")
        return patient_from_row(row)

    async def patients(self, clinic: str, limit: int = 500) -> list[PatientSummary]:
        """The clinic's ICU patients: the admitted first, then the latest changed."""
        rows = await self.pool.fetch(
            """
            SELECT p.*,
                (SELECT count(*) FROM sms_relatives r WHERE r.patient_id = p.patient_id
                    AND r.active AND NOT r.bad_number) AS relatives,
                (SELECT max(measured_at) FROM sms_observations o
                    WHERE o.patient_id = p.patient_id) AS observed_at
            FROM sms_patients p WHERE p.clinic = $1
            ORDER BY p.status <> 'admitted', p.updated_at DESC LIMIT $2
            """,
            clinic,
            limit,
        )
        return [
            PatientSummary(patient_from_row(r), r["updated_at"], r["relatives"], r["observed_at"])
            for r in rows
        ]
