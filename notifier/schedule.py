"""When today's message is due: hospital time zone, send time, quiet hours, patient status. Pure.

The message for local date D becomes due at D's send time and stays open until D+1's send time.
A due moment inside quiet hours is held until the quiet hours end: never dropped.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from enum import StrEnum

from notifier.errors import IllegalTransition
from notifier.settings import HospitalSchedule


class PatientStatus(StrEnum):
    ADMITTED = "admitted"
    DISCHARGED = "discharged"
    TRANSFERRED = "transferred"
    DECEASED = "deceased"


@dataclass(frozen=True, slots=True)
class Plan:
    local_date: date
    not_before: datetime


@dataclass(frozen=True, slots=True)
class StatusChange:
    """What a status change does to the sending; a death alerts the attending doctor."""

    old: PatientStatus | None
    new: PatientStatus
    stop_sending: bool
    alert_attending: bool


def in_quiet_hours(local: time, sched: HospitalSchedule) -> bool:
    start, end = sched.quiet_start, sched.quiet_end
    if start == end:
        return False
    if start < end:
        return start <= local < end
    return local >= start or local < end


def release(at: datetime, sched: HospitalSchedule) -> datetime:
    """``at`` itself, or the end of the quiet hours it falls in (same night, next morning)."""
    local = at.astimezone(sched.zone)
    if not in_quiet_hours(local.timetz().replace(tzinfo=None), sched):
        return at
    end = datetime.combine(local.date(), sched.quiet_end, sched.zone)
    if end <= local:
        end = datetime.combine(local.date() + timedelta(days=1), sched.quiet_end, sched.zone)
    return end


def slot(now: datetime, sched: HospitalSchedule) -> tuple[date, datetime]:
    """The local date whose message is open at ``now``, and its nominal due moment."""
    local = now.astimezone(sched.zone)
    day = local.date()
    if local.timetz().replace(tzinfo=None) < sched.send_at:
        day -= timedelta(days=1)
    return day, datetime.combine(day, sched.send_at, sched.zone)


def plan(
    now: datetime,
    sched: HospitalSchedule,
    status: PatientStatus,
    consent_since: datetime,
) -> Plan | None:
    """The message to enqueue at ``now``, or None (patient gone, or consent given after due)."""
    if status is not PatientStatus.ADMITTED:
        return None
    day, due = slot(now, sched)
    if consent_since > due:
        return None  # the first message goes at the next send time, not at once
    return Plan(day, release(due, sched))


_ALLOWED: dict[PatientStatus | None, frozenset[PatientStatus]] = {
    # A patient the ICU never had is admitted first: it cannot be discharged, or die, here.
    None: frozenset({PatientStatus.ADMITTED}),
    PatientStatus.ADMITTED: frozenset(PatientStatus),
    PatientStatus.DISCHARGED: frozenset({PatientStatus.DISCHARGED, PatientStatus.ADMITTED}),
    PatientStatus.TRANSFERRED: frozenset({PatientStatus.TRANSFERRED, PatientStatus.ADMITTED}),
    PatientStatus.DECEASED: frozenset({PatientStatus.DECEASED}),
}


def change_status(old: PatientStatus | None, new: PatientStatus) -> StatusChange:
    """Validate a status change; anything but ``admitted`` stops the sending at once."""
    if new not in _ALLOWED[old]:
        raise IllegalTransition(f"a patient cannot go from {old} to {new}")
    return StatusChange(
        old=old,
        new=new,
        stop_sending=new is not PatientStatus.ADMITTED,
        alert_attending=new is PatientStatus.DECEASED and old is not PatientStatus.DECEASED,
    )
