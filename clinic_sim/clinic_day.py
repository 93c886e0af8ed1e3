"""A simulated day for a clinic the engine knows: its services, doctors, cabinets and schedules.

Doctors with a schedule get its hours and slots (clamped to the simulated day); doctors without
one serve walk-ins all day. Walk-in volume fills each queue to ``load`` of its doctors' capacity
on an ordinary day, less the bookings; ``season`` then multiplies it.
"""

from __future__ import annotations

from clinic_sim.config import (
    DEFAULT_SERVICE_MINUTES,
    MORNING_PEAK,
    SERVICE_NORMS,
    DayConfig,
    DoctorSpec,
    ServiceSpec,
    ServiceTime,
    midday_break,
)
from engine.clinic import Clinic


def _minutes(hhmm: str) -> int:
    hours, minutes = hhmm.split(":")
    return int(hours) * 60 + int(minutes)


def from_clinic(
    clinic: Clinic,
    *,
    season: float = 1.0,
    load: float = 0.85,
    open_clock: int = 8 * 60,
    close: float = 720.0,
    booking_fill: float = 0.6,
) -> DayConfig:
    """The engine clinic's ordinary day (08:00-20:00 by default) at ``season``."""
    doctors = []
    for d in clinic.doctors:
        start, end, slot = 0.0, close, None
        if d.schedule is not None:
            start = max(0.0, _minutes(d.schedule.start) - open_clock)
            end = min(close, _minutes(d.schedule.end) - open_clock)
            slot = float(d.schedule.slot_minutes)
        if end <= start:
            continue
        booked_service = d.schedule.service if d.schedule else None
        doctors.append(
            DoctorSpec(
                d.id, tuple(d.services), start, end, midday_break(start, end), slot, booked_service
            )
        )
    means = {s.id: SERVICE_NORMS.get(s.id, DEFAULT_SERVICE_MINUTES) for s in clinic.services}
    base = DayConfig(services=(), doctors=tuple(doctors), booking_fill=booking_fill)
    services = []
    for s in clinic.services:
        # A doctor serving several queues is counted as a share of a doctor in each.
        capacity = sum(
            (d.end - d.start - sum(b.minutes for b in d.breaks)) / len(d.services) / means[s.id]
            for d in doctors
            if s.id in d.services
        )
        booked = sum(
            len(d.slots()) * booking_fill * (1 - base.booked_no_show)
            for d in doctors
            if d.slot_service == s.id
        )
        walk_ins = max(0.0, load * capacity - booked)
        services.append(ServiceSpec(s.id, walk_ins, ServiceTime(means[s.id], 0.5)))
    return DayConfig(
        services=tuple(services),
        doctors=tuple(doctors),
        open_clock=open_clock,
        close=close,
        profile=MORNING_PEAK,
        season=season,
        booking_fill=booking_fill,
        priority_run=clinic.policy.priority_run,
        priority_categories=tuple(clinic.policy.priority_categories) or ("veteran",),
    )
