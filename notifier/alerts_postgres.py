"""Alerts for people (doctors, administrators), raised once per (kind, key)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from notifier.patients_postgres import PatientLookup
from notifier.schema_postgres import Conn


@dataclass(frozen=True, slots=True)
class Alert:
    id: int
    kind: str
    clinic: str | None
    patient_id: str | None
    doctor: str | None
    message: str
    created_at: datetime


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


class AlertStore(PatientLookup):
    """The alerts raised so far."""

    async def alerts(self, clinic: str | None = None, limit: int = 1000) -> list[Alert]:
        """A clinic's alerts and the ones of no clinic (the SMSC account's balance), oldest
        first; the latest ``limit``."""
        rows = await self.pool.fetch(
            "SELECT * FROM (SELECT * FROM sms_alerts"
            " WHERE $1::text IS NULL OR clinic = $1 OR clinic IS NULL ORDER BY id DESC LIMIT $2)"
            " latest ORDER BY id",
            clinic,
            limit,
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
