"""Hospitals' schedules from the clinics' configurations in PostgreSQL (the engine's
``clinics`` table, the one place a clinic's configuration is kept).

The worker keeps every hospital's schedule in memory and reads only what changed since its last
look, each pass; the desk's API reads its own hospital's at each request, so a change shows at
once there and in the worker by its next pass.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

import asyncpg

from engine.clinic import Clinic, stored_clinic
from engine.errors import ValidationFailed
from notifier.hospitals import schedule_of
from notifier.settings import HospitalSchedule

log = logging.getLogger(__name__)
# A change is read again for this long: ``updated_at`` is its transaction's start, and a
# transaction may commit a while after a later one began.
OVERLAP = timedelta(minutes=5)


def _clinic(row: asyncpg.Record) -> Clinic | None:
    try:
        return stored_clinic(row["config"].encode())
    except ValidationFailed:
        log.warning("clinic %s: configuration unreadable; default ICU schedule", row["id"])
        return None


class Hospitals:
    """``schedule_for(clinic)`` from memory, kept current by ``refresh()``."""

    def __init__(self, pool: asyncpg.Pool, default: HospitalSchedule) -> None:
        self.pool = pool
        self.default = default
        self._known: dict[str, HospitalSchedule] = {}
        self._seen: datetime | None = None

    def schedule_for(self, clinic: str) -> HospitalSchedule:
        return self._known.get(clinic, self.default)

    async def refresh(self) -> None:
        since = self._seen - OVERLAP if self._seen else None
        rows = await self.pool.fetch(
            "SELECT id, config, updated_at FROM clinics "
            "WHERE $1::timestamptz IS NULL OR updated_at > $1",
            since,
        )
        for row in rows:
            self._known[row["id"]] = schedule_of(_clinic(row), self.default)
            if self._seen is None or row["updated_at"] > self._seen:
                self._seen = row["updated_at"]

    async def fetch(self, clinic: str) -> tuple[Clinic | None, HospitalSchedule]:
        """One hospital's configuration and schedule as stored now."""
        row = await self.pool.fetchrow("SELECT id, config FROM clinics WHERE id = $1", clinic)
        found = _clinic(row) if row else None
        return found, schedule_of(found, self.default)
