"""Two ICU patients for the demo clinic, so that the desk has something to show at first run:
one with fresh vitals and a relative who reads Russian, one whose values are a day old and whose
relative reads English. Seeded once; a clinic with ICU patients is left alone."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta

from notifier.schedule import PatientStatus
from notifier.store_postgres import SmsStore
from notifier.vitals import Dynamics, Observation

# (id, label, relative's phone, relation, language, hours since the vitals, the vitals)
PATIENTS = (
    ("ИБ-2041", "Смирнова А.П.", "+79160000001", "дочь", "ru", 2,
     Observation(datetime.min, temperature=37.4, pulse=88, blood_pressure=(124, 78), spo2=96,
                 heart_rate=88, respiratory_rate=18, conscious=True, ventilator=False,
                 dynamics=Dynamics.POSITIVE)),
    ("ИБ-2042", "Кузнецов В.И.", "+79160000002", "son", "en", 26,
     Observation(datetime.min, temperature=38.1, pulse=104, blood_pressure=(98, 60), spo2=91,
                 conscious=False, ventilator=True, dynamics=Dynamics.UNCHANGED)),
)  # fmt: skip


async def seed_icu_demo(store: SmsStore, clinic: str, doctor: str, now: datetime) -> int:
    """Admit the demo's ICU patients unless the clinic has any; returns how many were added."""
    if await store.patients(clinic, limit=1):
        return 0
    by = f"icu_doctor:{doctor}"
    for patient_id, label, phone, relation, language, hours, vitals in PATIENTS:
        since = now - timedelta(days=2)
        await store.set_status(patient_id, clinic=clinic, status=PatientStatus.ADMITTED, by=by,
                               now=since, attending_doctor=doctor, label=label)  # fmt: skip
        await store.add_relative(patient_id, clinic=clinic, phone=phone, relation=relation,
                                 language=language, by=by, now=since)  # fmt: skip
        measured = replace(vitals, measured_at=now - timedelta(hours=hours))
        await store.add_observation(patient_id, measured, clinic=clinic, by=by, now=now)
    return len(PATIENTS)
