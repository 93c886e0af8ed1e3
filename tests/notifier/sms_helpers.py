"""Helpers shared by the notifier tests: time unit, key, seeded patient, state listing."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta

import asyncpg

from notifier.schedule import PatientStatus
from notifier.settings import NotifierSettings
from notifier.store_postgres import SmsStore
from notifier.vitals import Dynamics, Observation

UNIT = 0.4  # seconds: the one time unit the test timeouts scale with
KEY = bytes(range(32))
CALLBACK_SECRET = "cb-" + "x7Kq" * 10  # the path segment of the SMSC callbacks under test
PHONES = [f"+7916555{i:04d}" for i in range(1, 40)]
VITALS = {"temperature": 38.7, "pulse": 137, "bp": (143, 91), "spo2": 91, "hr": 139, "rr": 27}


def shifted(start: datetime) -> Callable[[], datetime]:
    """A clock that starts at ``start`` and then runs at real speed."""
    origin = time.monotonic()
    return lambda: start + timedelta(seconds=time.monotonic() - origin)


def with_schedule(settings: NotifierSettings, **kw: object) -> NotifierSettings:
    return replace(settings, default_schedule=replace(settings.default_schedule, **kw))


@dataclass
class Seeded:
    patient_id: str
    clinic: str
    relative_ids: list[int]
    phones: list[str]


def past() -> datetime:
    return datetime.now(UTC) - timedelta(days=3)


async def seed(
    store: SmsStore,
    *,
    relatives: int = 1,
    patient_id: str = "p1",
    clinic: str = "c1",
    language: str = "ru",
    phones: list[str] | None = None,
    when: datetime | None = None,
) -> Seeded:
    """An admitted patient with fresh vitals and ``relatives`` consents given days ago."""
    when = when or past()
    phones = phones or PHONES[:relatives]
    await store.set_status(
        patient_id,
        clinic=clinic,
        status=PatientStatus.ADMITTED,
        by="icu_doctor:d1",
        now=when,
        attending_doctor="d1",
        label="Иванов И.И." if language == "ru" else "I. Ivanov",
    )
    ids = []
    for phone in phones:
        rel = await store.add_relative(
            patient_id,
            clinic=clinic,
            phone=phone,
            relation="daughter",
            language=language,
            by="icu_doctor:d1",
            now=when,
        )
        ids.append(rel.id)
    await store.add_observation(
        patient_id,
        Observation(
            measured_at=datetime.now(UTC) - timedelta(minutes=30),
            temperature=VITALS["temperature"],
            pulse=VITALS["pulse"],
            blood_pressure=VITALS["bp"],
            spo2=VITALS["spo2"],
            heart_rate=VITALS["hr"],
            respiratory_rate=VITALS["rr"],
            conscious=True,
            ventilator=False,
            dynamics=Dynamics.POSITIVE,
        ),
        clinic=clinic,
        by="icu_doctor:d1",
        now=datetime.now(UTC),
    )
    return Seeded(patient_id, clinic, ids, phones)


async def states(pool: asyncpg.Pool) -> list[str]:
    return [r["state"] for r in await pool.fetch("SELECT state FROM sms_outbox ORDER BY id")]
