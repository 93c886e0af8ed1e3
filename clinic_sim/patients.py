"""The day's patients, drawn up front: who comes when, for what, and how their visit will go.

Every random attribute of a patient is drawn here, from streams named by seed and purpose, so
two runs with the same seed see the same patients whatever the roster (common random numbers):
a what-if compares rosters, not luck. The simulator and the live driver share this plan.
"""

from __future__ import annotations

from dataclasses import dataclass
from random import Random
from typing import Literal, NamedTuple

from clinic_sim.config import DayConfig


@dataclass(frozen=True, slots=True)
class Patient:
    """One visit. ``absent``: a walk-in who left before the call, or a booking never kept.

    ``delay``: minutes in delayed intake (the visit is suspended halfway, then resumed).
    """

    id: int
    kind: Literal["walk_in", "booked"]
    service: str
    arrival: float
    consult: float
    priority: str = ""
    slot: float | None = None
    doctor: str | None = None
    absent: bool = False
    delay: float | None = None


def stream(seed: int, purpose: str) -> Random:
    """An independent random stream; str seeds hash the same in every process (no PYTHONHASHSEED)."""
    return Random(f"clinic_sim:{seed}:{purpose}")


class _Draft(NamedTuple):
    arrival: float
    name: str  # names the patient's own random stream
    service: str
    kind: Literal["walk_in", "booked"] = "walk_in"
    priority: str = ""
    slot: float | None = None
    doctor: str | None = None


def plan_day(config: DayConfig, seed: int) -> list[Patient]:
    """Everyone who takes a ticket or holds a booking today, in arrival order."""
    drafts = [
        _Draft(-w.waited, f"initial:{i}", w.service, priority=w.priority)
        for i, w in enumerate(config.initial)
    ]
    segments = config.rate_segments()
    weight = sum((end - start) * mult for start, end, mult in segments)
    for service in config.services:
        if service.walk_ins_per_day <= 0 or weight <= 0:
            continue
        per_minute = service.walk_ins_per_day * config.season / weight
        rng = stream(seed, f"arrivals:{service.id}")
        n = 0
        for start, end, mult in segments:
            if mult <= 0:
                continue
            # Poisson within each constant-rate piece; memorylessness makes restarting exact.
            t = start + rng.expovariate(per_minute * mult)
            while t < end:
                drafts.append(_Draft(t, f"walk_in:{service.id}:{n}", service.id))
                n += 1
                t += rng.expovariate(per_minute * mult)
    for doctor in config.doctors:
        rng = stream(seed, f"bookings:{doctor.id}")
        for k, slot in enumerate(doctor.slots()):
            booked = rng.random() < config.booking_fill
            offset = rng.uniform(*config.booked_arrival)
            if booked:
                name = f"booked:{doctor.id}:{k}"
                drafts.append(
                    _Draft(slot + offset, name, doctor.slot_service, "booked", "", slot, doctor.id)
                )
    drafts.sort(key=lambda d: (d.arrival, d.name))
    return [_visit(config, seed, i, d) for i, d in enumerate(drafts)]


def _visit(config: DayConfig, seed: int, index: int, d: _Draft) -> Patient:
    """Draw the visit's own attributes from a stream named after the patient, not the order."""
    rng = stream(seed, f"visit:{d.name}")
    consult = config.service(d.service).service_time.sample(rng)
    booked = d.kind == "booked"
    absent = rng.random() < (config.booked_no_show if booked else config.walk_in_no_show)
    delay = rng.uniform(*config.delay_minutes) if rng.random() < config.delayed_intake else None
    priority = d.priority
    if not booked and not d.name.startswith("initial") and rng.random() < config.priority_share:
        priority = rng.choice(config.priority_categories)
    return Patient(
        id=index,
        kind=d.kind,
        service=d.service,
        arrival=d.arrival,
        consult=consult,
        priority=priority,
        slot=d.slot,
        doctor=d.doctor,
        absent=absent,
        delay=delay,
    )
