"""What-if: from a clinic's live board, the waits ahead with and without a roster change.

The board (``GET /board``) gives each queue's waiting count and longest wait, and each doctor's
status, queues, patient in hand and patients in delayed intake. From it we build the rest of the
day as a ``DayConfig``: the waiting patients (their tickets spread evenly over the longest wait),
doctors on duty free once their patient in hand is done (half a visit from now), doctors on a
break back after ``break_minutes``. Both rosters run with the same seeds, so they meet the same
patients and visit lengths (common random numbers); we report the mean over ``runs`` days.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from statistics import fmean
from typing import Any

from clinic_sim.config import (
    DEFAULT_SERVICE_MINUTES,
    FLAT,
    SERVICE_NORMS,
    DayConfig,
    DoctorSpec,
    ServiceSpec,
    ServiceTime,
    Waiting,
)
from clinic_sim.model import simulate

HORIZON_MINUTES = 24 * 60.0
MIN_SERVED_FOR_MEAN = 3  # a doctor's own mean visit length counts once it rests on this many
RESUME_AFTER_MINUTES = 10.0


@dataclass(frozen=True, slots=True)
class RosterChange:
    """Move a doctor to other queues and/or change their status (``None``: leave as is)."""

    doctor: str
    services: tuple[str, ...] | None = None
    status: str | None = None


@dataclass(frozen=True, slots=True)
class QueueForecast:
    service: str
    name: str
    waiting: int
    doctors: int  # on duty or on a break for this queue
    mean_wait_minutes: float | None  # from now until the call, over the patients waiting now
    longest_wait_minutes: float | None  # None: nobody serves this queue, the wait has no end


@dataclass(frozen=True, slots=True)
class Forecast:
    queues: tuple[QueueForecast, ...]

    @property
    def longest_wait_minutes(self) -> float | None:
        """The longest wait ahead of anyone waiting now, over all queues (None: unbounded)."""
        values = [q.longest_wait_minutes for q in self.queues if q.waiting]
        if any(v is None for v in values):
            return None
        return max((v for v in values if v is not None), default=0.0)

    def to_json(self) -> dict[str, Any]:
        return {
            "longest_wait_minutes": _round(self.longest_wait_minutes),
            "queues": [
                {
                    "service": q.service,
                    "name": q.name,
                    "waiting": q.waiting,
                    "doctors": q.doctors,
                    "mean_wait_minutes": _round(q.mean_wait_minutes),
                    "longest_wait_minutes": _round(q.longest_wait_minutes),
                }
                for q in self.queues
            ],
        }


@dataclass(frozen=True, slots=True)
class Prediction:
    change: RosterChange
    before: Forecast
    after: Forecast
    summary: str
    runs: int
    seed: int

    def to_json(self) -> dict[str, Any]:
        return {
            "change": {
                "doctor": self.change.doctor,
                "services": list(self.change.services) if self.change.services else None,
                "status": self.change.status,
            },
            "before": self.before.to_json(),
            "after": self.after.to_json(),
            "summary": self.summary,
            "runs": self.runs,
            "seed": self.seed,
        }


def _round(value: float | None) -> int | None:
    return None if value is None else math.ceil(value - 1e-9)


def apply_change(board: Mapping[str, Any], change: RosterChange) -> dict[str, Any]:
    """A copy of the board with one doctor's services and/or status replaced."""
    doctors = []
    for d in board["doctors"]:
        if d["id"] == change.doctor:
            d = dict(d)
            if change.services is not None:
                d["services"] = list(change.services)
            if change.status is not None:
                d["status"] = change.status
        doctors.append(d)
    return {**board, "doctors": doctors}


def service_times(board: Mapping[str, Any]) -> dict[str, ServiceTime]:
    """Each queue's visit length: its doctors' live mean where they have one, else the norm."""
    out = {}
    for q in board["queues"]:
        seen = [
            (d["served"], d["mean_service_minutes"])
            for d in board["doctors"]
            if q["service"] in d["services"]
            and d.get("mean_service_minutes")
            and d.get("served", 0) >= MIN_SERVED_FOR_MEAN
        ]
        if seen:
            mean = sum(n * m for n, m in seen) / sum(n for n, _ in seen)
        else:
            mean = SERVICE_NORMS.get(q["service"], DEFAULT_SERVICE_MINUTES)
        out[q["service"]] = ServiceTime(max(1.0, mean), 0.5)
    return out


def config_from_board(
    board: Mapping[str, Any],
    times: Mapping[str, ServiceTime],
    *,
    arrivals_per_hour: Mapping[str, float] | None = None,
    arrival_minutes: float = 60.0,
    break_minutes: float = 15.0,
) -> DayConfig:
    """The rest of the day from the board's moment (minute 0), until every queue is empty."""
    initial: list[Waiting] = []
    for q in board["queues"]:
        n, longest = int(q["waiting"]), float(q.get("longest_wait_minutes") or 0)
        initial += [
            Waiting(q["service"], longest * (n - 1 - i) / (n - 1) if n > 1 else longest)
            for i in range(n)
        ]
    doctors = []
    for d in board["doctors"]:
        if d["status"] not in ("on_duty", "break") or not d["services"]:
            continue
        mean = times.get(d["services"][0], ServiceTime()).mean
        in_hand = d.get("current") is not None
        doctors.append(
            DoctorSpec(
                d["id"],
                tuple(d["services"]),
                start=break_minutes if d["status"] == "break" else 0.0,
                end=HORIZON_MINUTES,
                busy_for=mean / 2 if in_hand else 0.0,
                suspended=tuple((RESUME_AFTER_MINUTES, mean / 2) for _ in d.get("suspended") or ()),
            )
        )
    rates = arrivals_per_hour or {}
    services = tuple(
        ServiceSpec(
            q["service"],
            rates.get(q["service"], 0.0) * arrival_minutes / 60,
            times.get(q["service"], ServiceTime()),
        )
        for q in board["queues"]
    )
    return DayConfig(
        services=services,
        doctors=tuple(doctors),
        close=arrival_minutes,
        profile=FLAT,
        booking_fill=0.0,
        walk_in_no_show=0.03,
        priority_share=0.0,
        initial=tuple(initial),
    )


def forecast(board: Mapping[str, Any], config: DayConfig, seeds: Sequence[int]) -> Forecast:
    """Mean over ``seeds`` of each queue's waits ahead, for the patients waiting now."""
    per_queue: dict[str, tuple[list[float], list[float]]] = {
        q["service"]: ([], []) for q in board["queues"]
    }
    unbounded: set[str] = set()
    for seed in seeds:
        result = simulate(config, seed)
        for q in board["queues"]:
            service = q["service"]
            now_waiting = [v for v in result.visits if v.service == service and v.arrival <= 0]
            if any(v.called is None for v in now_waiting):
                unbounded.add(service)
                continue
            ahead = [v.called for v in now_waiting if v.called is not None]
            if ahead:
                per_queue[service][0].append(fmean(ahead))
                per_queue[service][1].append(max(ahead))
    queues = []
    for q in board["queues"]:
        means, longest = per_queue[q["service"]]
        doctors = sum(
            1
            for d in board["doctors"]
            if d["status"] in ("on_duty", "break") and q["service"] in d["services"]
        )
        bounded = q["service"] not in unbounded
        queues.append(
            QueueForecast(
                service=q["service"],
                name=q.get("name", q["service"]),
                waiting=int(q["waiting"]),
                doctors=doctors,
                mean_wait_minutes=fmean(means) if bounded and means else (0.0 if bounded else None),
                longest_wait_minutes=fmean(longest)
                if bounded and longest
                else (0.0 if bounded else None),
            )
        )
    return Forecast(tuple(queues))


def predict(
    board: Mapping[str, Any],
    change: RosterChange,
    *,
    runs: int = 30,
    seed: int = 0,
    arrivals_per_hour: Mapping[str, float] | None = None,
) -> Prediction:
    """The waits ahead now and after ``change``, simulated on the same patients."""
    times = service_times(board)
    seeds = range(seed, seed + runs)
    changed = apply_change(board, change)
    before = forecast(
        board, config_from_board(board, times, arrivals_per_hour=arrivals_per_hour), seeds
    )
    after = forecast(
        changed, config_from_board(changed, times, arrivals_per_hour=arrivals_per_hour), seeds
    )
    return Prediction(change, before, after, describe(board, change, before, after), runs, seed)


def describe(
    board: Mapping[str, Any], change: RosterChange, before: Forecast, after: Forecast
) -> str:
    """One line for the dashboard: "move Dr X to therapy: the longest wait falls from 48 to 19"."""
    doctor: Mapping[str, Any] = next((d for d in board["doctors"] if d["id"] == change.doctor), {})
    name = doctor.get("name") or change.doctor
    names = {q["service"]: q.get("name", q["service"]) for q in board["queues"]}
    actions = []
    if change.services is not None:
        actions.append(
            "move Dr " + name + " to " + ", ".join(names.get(s, s) for s in change.services)
        )
    if change.status is not None:
        actions.append(
            {
                "on_duty": "put Dr {} on duty",
                "break": "send Dr {} on a break",
                "off": "take Dr {} off duty",
            }.get(change.status, "set Dr {} to " + change.status).format(name)
        )
    both = [
        (q.longest_wait_minutes, r.longest_wait_minutes)
        for q, r in zip(before.queues, after.queues, strict=True)
        if q.waiting and q.longest_wait_minutes is not None and r.longest_wait_minutes is not None
    ]
    parts = []
    if both:
        a = math.ceil(max(x for x, _ in both) - 1e-9)
        b = math.ceil(max(y for _, y in both) - 1e-9)
        if a == b:
            parts.append(f"the longest wait stays at {a} minutes")
        else:
            parts.append(
                f"the longest wait {'falls' if b < a else 'rises'} from {a} to {b} minutes"
            )
    for q, r in zip(before.queues, after.queues, strict=True):
        if q.waiting and q.longest_wait_minutes is not None and r.longest_wait_minutes is None:
            parts.append(f"{q.name} ({q.waiting} waiting) is left with no doctor")
        if q.waiting and q.longest_wait_minutes is None and r.longest_wait_minutes is not None:
            parts.append(
                f"{q.name} gets a doctor: longest wait {_round(r.longest_wait_minutes)} minutes"
            )
    return " and ".join(actions) + ": " + ("; ".join(parts) or "no one is waiting")
