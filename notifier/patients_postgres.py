"""ICU patients: the record and the lookup every other part of the store guards with."""

from __future__ import annotations

from dataclasses import dataclass

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
