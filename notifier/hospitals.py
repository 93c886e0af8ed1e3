"""Each hospital's schedule and wording for the daily message, read from its clinic's
configuration (the ``icu`` section; see ``engine.clinic.Icu``). Pure.

The hospital's time zone is its clinic's. A clinic without an ``icu`` section keeps the
notifier's default send time and quiet hours in its own time zone; an unknown clinic (a patient
registered before its hospital's configuration) gets the default schedule as it is.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from datetime import date, datetime, time, timedelta

from engine.clinic import Clinic
from notifier.compose import Composed, compose
from notifier.schedule import Plan, release
from notifier.settings import HospitalSchedule
from notifier.vitals import Assessed


def schedule_of(clinic: Clinic | None, default: HospitalSchedule) -> HospitalSchedule:
    if clinic is None:
        return default
    icu = clinic.icu
    if icu is None:
        return replace(default, tz=clinic.timezone)
    return HospitalSchedule(
        tz=clinic.timezone,
        send_at=time.fromisoformat(icu.send_at),
        quiet_start=time.fromisoformat(icu.quiet_start),
        quiet_end=time.fromisoformat(icu.quiet_end),
        name=icu.hospital_name or "",
        templates=dict(icu.templates),
    )


def daily_message(
    sched: HospitalSchedule,
    *,
    language: str,
    local_date: date,
    vitals: Mapping[str, Assessed],
    max_segments: int,
    patient: str,
) -> Composed:
    """The day's message as this hospital sends it: its name, its own wording if it has one.
    The sender and the desk's preview both compose through here, so the preview is the text."""
    return compose(
        language=language,
        local_date=local_date,
        vitals=vitals,
        max_segments=max_segments,
        patient=patient,
        hospital=sched.name,
        wording=sched.templates.get(language),
    )


def next_send(now: datetime, sched: HospitalSchedule) -> Plan:
    """The next message after ``now`` (today's or tomorrow's): its date and when it goes, held
    past the quiet hours."""
    day = now.astimezone(sched.zone).date()
    due = datetime.combine(day, sched.send_at, sched.zone)
    if due <= now:
        day += timedelta(days=1)
        due = datetime.combine(day, sched.send_at, sched.zone)
    return Plan(day, release(due, sched))
