"""What a simulated day produced: every visit, every doctor's load, and the figures drawn from them.

A wait is minutes from the ticket (or, for a booking, from the appointed time or the arrival,
whichever is later) to the call. The city KPI is the share of kept bookings called within
``kpi_minutes`` (20) of that moment; a booking never called counts against it.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

HISTOGRAM_BIN_MINUTES = 5.0


@dataclass(frozen=True, slots=True)
class Visit:
    patient: int
    kind: Literal["walk_in", "booked"]
    service: str
    priority: str
    arrival: float
    slot: float | None
    outcome: Literal["served", "no_show", "unserved", "absent"]
    doctor: str | None = None
    called: float | None = None
    finished: float | None = None

    @property
    def ready(self) -> float:
        """When the clinic owed this patient a call: the ticket, or the appointment if later."""
        return max(self.arrival, self.slot) if self.slot is not None else self.arrival

    @property
    def wait(self) -> float | None:
        return None if self.called is None else max(0.0, self.called - self.ready)


@dataclass(frozen=True, slots=True)
class DoctorLoad:
    id: str
    services: tuple[str, ...]
    on_duty: float  # minutes available: from shift start to leaving, less breaks
    busy: float  # minutes with a patient, or waiting for a called one
    served: int
    breaks: int
    left: float

    @property
    def utilisation(self) -> float:
        return self.busy / self.on_duty if self.on_duty > 0 else 0.0


@dataclass(frozen=True, slots=True)
class WaitStats:
    count: int
    mean: float
    p50: float
    p90: float
    p95: float
    p99: float
    max: float
    histogram: tuple[tuple[float, int], ...] = field(default=())  # (bin start minute, count)

    @classmethod
    def of(cls, waits: Iterable[float], bin_minutes: float = HISTOGRAM_BIN_MINUTES) -> WaitStats:
        data = sorted(waits)
        if not data:
            return cls(0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0)
        bins: dict[float, int] = {}
        for w in data:
            start = math.floor(w / bin_minutes) * bin_minutes
            bins[start] = bins.get(start, 0) + 1
        return cls(
            count=len(data),
            mean=sum(data) / len(data),
            p50=percentile(data, 50),
            p90=percentile(data, 90),
            p95=percentile(data, 95),
            p99=percentile(data, 99),
            max=data[-1],
            histogram=tuple(sorted(bins.items())),
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "count": self.count,
            **{k: round(getattr(self, k), 1) for k in ("mean", "p50", "p90", "p95", "p99", "max")},
            "histogram": [{"from": start, "count": n} for start, n in self.histogram],
        }


def percentile(data: Sequence[float], q: float) -> float:
    """The q-th percentile of sorted ``data``, linearly interpolated between ranks."""
    if not data:
        return 0.0
    pos = (len(data) - 1) * q / 100
    lo = math.floor(pos)
    hi = min(lo + 1, len(data) - 1)
    return data[lo] + (data[hi] - data[lo]) * (pos - lo)


@dataclass(frozen=True, slots=True)
class DayResult:
    seed: int
    visits: tuple[Visit, ...]
    doctors: tuple[DoctorLoad, ...]
    kpi_minutes: float = 20.0

    def waits(
        self, kind: str | None = None, service: str | None = None, *, since: float | None = None
    ) -> WaitStats:
        """Waits of the patients called (not no-shows), optionally of one kind or service."""
        return WaitStats.of(
            v.wait
            for v in self.visits
            if v.wait is not None
            and v.outcome == "served"
            and (kind is None or v.kind == kind)
            and (service is None or v.service == service)
            and (since is None or v.arrival >= since)
        )

    @property
    def booked_on_time_share(self) -> float | None:
        """The city KPI: kept bookings called within ``kpi_minutes`` of their time (None: none)."""
        kept = [
            v for v in self.visits if v.kind == "booked" and v.outcome in ("served", "unserved")
        ]
        if not kept:
            return None
        on_time = sum(1 for v in kept if v.wait is not None and v.wait <= self.kpi_minutes)
        return on_time / len(kept)

    @property
    def walk_in_share(self) -> float:
        """Walk-ins among everyone who came (tickets plus kept bookings)."""
        came = [v for v in self.visits if v.outcome != "absent"]
        return sum(1 for v in came if v.kind == "walk_in") / len(came) if came else 0.0

    def count(self, outcome: str) -> int:
        return sum(1 for v in self.visits if v.outcome == outcome)

    def summary(self) -> dict[str, Any]:
        """The figures a report shows, as JSON-ready values."""
        kpi = self.booked_on_time_share
        return {
            "seed": self.seed,
            "patients": len(self.visits),
            "served": self.count("served"),
            "no_shows": self.count("no_show"),
            "unserved": self.count("unserved"),
            # Booked patients who never came to the clinic (so never took a place in a queue).
            "absent": self.count("absent"),
            "walk_in_share": round(self.walk_in_share, 3),
            "booked_within_kpi_share": None if kpi is None else round(kpi, 3),
            "kpi_minutes": self.kpi_minutes,
            "waits": {
                "all": self.waits().to_json(),
                "walk_in": self.waits("walk_in").to_json(),
                "booked": self.waits("booked").to_json(),
            },
            "doctors": [
                {
                    "id": d.id,
                    "services": list(d.services),
                    "served": d.served,
                    "utilisation": round(d.utilisation, 3),
                    "on_duty_minutes": round(d.on_duty, 1),
                }
                for d in self.doctors
            ],
        }
