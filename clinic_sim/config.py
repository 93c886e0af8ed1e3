"""What a simulated polyclinic day is made of: services, doctors, arrivals and behaviour, as data.

Times are minutes after the clinic opens (``open_clock`` is that moment on the local clock).
Everything here is frozen plain data; ``simulate(config, seed)`` in ``model.py`` runs it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from random import Random
from typing import Literal

DEFAULT_SERVICE_MINUTES = 15.0  # the national norm for a therapist's appointment
SERVICE_NORMS = {"therapy": 15.0, "surgery": 20.0, "analysis": 5.0}

# Walk-in arrivals relative to the day's mean, piecewise constant: (from minute after 08:00,
# multiplier). The busiest hour (09-10) carries ~16% of the day, near the city's ~15%.
MORNING_PEAK: tuple[tuple[float, float], ...] = (
    (0, 1.6),
    (60, 1.9),
    (120, 1.5),
    (180, 1.1),
    (240, 0.8),
    (360, 0.7),
    (480, 0.8),
    (600, 0.5),
)
FLAT: tuple[tuple[float, float], ...] = ((0, 1.0),)


@dataclass(frozen=True, slots=True)
class ServiceTime:
    """Minutes a consultation takes: a mean, a coefficient of variation and a distribution.

    A gamma with ``cv=1`` is the exponential of queueing textbooks; ``cv=0`` is a fixed time.
    """

    mean: float = DEFAULT_SERVICE_MINUTES
    cv: float = 0.5
    kind: Literal["lognormal", "gamma"] = "lognormal"

    def sample(self, rng: Random) -> float:
        if self.cv <= 0:
            return self.mean
        if self.kind == "gamma":
            shape = 1.0 / self.cv**2
            return rng.gammavariate(shape, self.mean / shape)
        sigma2 = math.log1p(self.cv**2)
        return rng.lognormvariate(math.log(self.mean) - sigma2 / 2, math.sqrt(sigma2))


@dataclass(frozen=True, slots=True)
class ServiceSpec:
    """A queue: its walk-in volume on an ordinary day and how long a visit takes."""

    id: str
    walk_ins_per_day: float = 0.0
    service_time: ServiceTime = field(default_factory=ServiceTime)


@dataclass(frozen=True, slots=True)
class Break:
    start: float  # taken once the patient in hand is done
    minutes: float = 15.0


@dataclass(frozen=True, slots=True)
class DoctorSpec:
    """A doctor's shift, queues, breaks and bookable slots (``slot_minutes=None``: walk-ins only).

    ``busy_for`` and ``suspended`` describe a doctor caught mid-day (what-if): minutes until the
    patient in hand is done, and (ready at, minutes left) for each patient in delayed intake.
    """

    id: str
    services: tuple[str, ...]
    start: float = 0.0
    end: float = 720.0
    breaks: tuple[Break, ...] = ()
    slot_minutes: float | None = None
    booked_service: str | None = None
    busy_for: float = 0.0
    suspended: tuple[tuple[float, float], ...] = ()

    @property
    def slot_service(self) -> str:
        return self.booked_service or self.services[0]

    def slots(self) -> list[float]:
        """Start times of the bookable slots, skipping any that overlap a break."""
        if not self.slot_minutes:
            return []
        found, t = [], self.start
        while t + self.slot_minutes <= self.end + 1e-9:
            if not any(
                t < b.start + b.minutes and b.start < t + self.slot_minutes for b in self.breaks
            ):
                found.append(t)
            t += self.slot_minutes
        return found


@dataclass(frozen=True, slots=True)
class Waiting:
    """A walk-in already in the queue when the simulation starts (what-if)."""

    service: str
    waited: float
    priority: str = ""


@dataclass(frozen=True, slots=True)
class DayConfig:
    """One clinic day. ``season`` multiplies walk-ins (1.5-2 at the respiratory peak)."""

    services: tuple[ServiceSpec, ...]
    doctors: tuple[DoctorSpec, ...]
    open_clock: int = 8 * 60
    close: float = 720.0  # the last walk-in ticket is taken before this minute
    profile: tuple[tuple[float, float], ...] = MORNING_PEAK
    season: float = 1.0
    booking_fill: float = 0.85  # share of slots booked
    booked_no_show: float = 0.08  # booked and never came
    booked_arrival: tuple[float, float] = (-15.0, 5.0)  # arrival vs the appointed time, uniform
    walk_in_no_show: float = 0.05  # took a ticket, left before being called
    priority_share: float = 0.08
    priority_categories: tuple[str, ...] = ("veteran", "disabled", "pregnant", "child")
    priority_run: int = 2
    delayed_intake: float = 0.1  # share of visits suspended once, mid-visit
    delay_minutes: tuple[float, float] = (10.0, 20.0)
    recall_minutes: float = 2.0  # a doctor's wait for a called patient who never comes
    overtime: bool = True  # doctors on shift at closing serve everyone who took a ticket
    initial: tuple[Waiting, ...] = ()
    kpi_minutes: float = 20.0

    def service(self, service_id: str) -> ServiceSpec:
        return next(s for s in self.services if s.id == service_id)

    def rate_segments(self) -> list[tuple[float, float, float]]:
        """(from, to, multiplier) of the arrival profile, cut at ``close``."""
        starts = [p for p in self.profile if p[0] < self.close]
        return [
            (start, starts[i + 1][0] if i + 1 < len(starts) else self.close, mult)
            for i, (start, mult) in enumerate(starts)
        ]


def midday_break(start: float, end: float) -> tuple[Break, ...]:
    """A 15-minute break in the middle of shifts of four hours or more."""
    if end - start < 240:
        return ()
    return (Break(start + round((end - start) / 2 / 15) * 15, 15.0),)


def polyclinic_day(*, season: float = 1.0, walk_in_share: float = 0.4) -> DayConfig:
    """A typical city polyclinic 08:00-20:00: therapists on two shifts (one duty doctor each) and
    surgeons; walk-ins are ``walk_in_share`` of the flow on an ordinary day (the city's
    figure: up to 40%)."""
    doctors = [
        DoctorSpec("ter-1", ("therapy",), 0, 360, midday_break(0, 360), slot_minutes=15),
        DoctorSpec("ter-2", ("therapy",), 0, 360, midday_break(0, 360), slot_minutes=15),
        DoctorSpec("ter-duty-am", ("therapy",), 0, 360, midday_break(0, 360)),
        DoctorSpec("ter-3", ("therapy",), 360, 720, midday_break(360, 720), slot_minutes=15),
        DoctorSpec("ter-4", ("therapy",), 360, 720, midday_break(360, 720), slot_minutes=15),
        DoctorSpec("ter-duty-pm", ("therapy",), 360, 720, midday_break(360, 720)),
        DoctorSpec("surg-1", ("surgery",), 60, 360, midday_break(60, 360), slot_minutes=20),
        DoctorSpec("surg-2", ("surgery",), 360, 720, midday_break(360, 720)),
    ]
    base = DayConfig(services=(), doctors=tuple(doctors))
    booked = {s: 0.0 for s in SERVICE_NORMS}
    for d in doctors:
        booked[d.slot_service] += len(d.slots()) * base.booking_fill * (1 - base.booked_no_show)
    ratio = walk_in_share / (1 - walk_in_share)
    services = (
        ServiceSpec("therapy", booked["therapy"] * ratio, ServiceTime(15.0, 0.5)),
        ServiceSpec("surgery", booked["surgery"] * ratio, ServiceTime(20.0, 0.5)),
    )
    return DayConfig(services=services, doctors=tuple(doctors), season=season)
