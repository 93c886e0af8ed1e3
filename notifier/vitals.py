"""ICU observations: the model, plausibility limits and staleness. Pure: data in, data out."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, fields
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Literal

from notifier.errors import ImplausibleValue, InvalidInput


class Dynamics(StrEnum):
    POSITIVE = "positive"
    NEGATIVE = "negative"
    UNCHANGED = "unchanged"


@dataclass(frozen=True, slots=True)
class Observation:
    """One recording at the bedside; a field left ``None`` was not measured this time."""

    measured_at: datetime
    temperature: float | None = None
    pulse: int | None = None
    blood_pressure: tuple[int, int] | None = None
    spo2: int | None = None
    heart_rate: int | None = None
    respiratory_rate: int | None = None
    conscious: bool | None = None
    ventilator: bool | None = None
    dynamics: Dynamics | None = None


FIELDS: tuple[str, ...] = tuple(f.name for f in fields(Observation) if f.name != "measured_at")

# (low, high, unit): outside these a value is a typing error, not a patient (ICU extremes incl.)
LIMITS: Mapping[str, tuple[float, float, str]] = {
    "temperature": (25.0, 45.0, "°C"),
    "pulse": (20, 300, "/min"),
    "systolic": (40, 300, "mmHg"),
    "diastolic": (20, 200, "mmHg"),
    "spo2": (30, 100, "%"),
    "heart_rate": (20, 300, "/min"),
    "respiratory_rate": (4, 80, "/min"),
}

FUTURE_TOLERANCE = timedelta(minutes=5)


def _check(name: str, value: float) -> None:
    low, high, unit = LIMITS[name]
    if isinstance(value, float) and not math.isfinite(value):
        raise ImplausibleValue(f"{name} must be a finite number", field=name)
    if not low <= value <= high:
        # The value itself is left out on purpose: this message may be logged upstream.
        raise ImplausibleValue(
            f"{name} is outside the plausible range {low:g}-{high:g} {unit}", field=name
        )


def validate(obs: Observation, now: datetime) -> Observation:
    """Refuse impossible values and future times; return ``obs`` unchanged when plausible."""
    if obs.measured_at.tzinfo is None:
        raise InvalidInput("measured_at must carry a time zone offset")
    if obs.measured_at > now + FUTURE_TOLERANCE:
        raise InvalidInput("measured_at is in the future")
    if all(getattr(obs, name) is None for name in FIELDS):
        raise InvalidInput("an observation needs at least one value")
    for name in ("temperature", "pulse", "spo2", "heart_rate", "respiratory_rate"):
        value = getattr(obs, name)
        if value is not None:
            _check(name, value)
    if obs.blood_pressure is not None:
        systolic, diastolic = obs.blood_pressure
        _check("systolic", systolic)
        _check("diastolic", diastolic)
        if diastolic >= systolic:
            raise ImplausibleValue(
                "diastolic pressure must be lower than systolic", field="blood_pressure"
            )
    return obs


@dataclass(frozen=True, slots=True)
class Reading:
    value: object
    measured_at: datetime


State = Literal["ok", "stale", "missing"]


@dataclass(frozen=True, slots=True)
class Assessed:
    state: State
    value: object = None
    measured_at: datetime | None = None


def merge(observations: Iterable[Observation]) -> dict[str, Reading]:
    """The latest reading of each field over many partial observations."""
    latest: dict[str, Reading] = {}
    for obs in observations:
        for name in FIELDS:
            value = getattr(obs, name)
            if value is None:
                continue
            seen = latest.get(name)
            if seen is None or obs.measured_at > seen.measured_at:
                latest[name] = Reading(value, obs.measured_at)
    return latest


def assess(
    readings: Mapping[str, Reading], now: datetime, stale_after: timedelta
) -> dict[str, Assessed]:
    """Every field marked ok, stale (older than ``stale_after``) or missing."""
    result: dict[str, Assessed] = {}
    for name in FIELDS:
        reading = readings.get(name)
        if reading is None:
            result[name] = Assessed("missing")
        elif now - reading.measured_at > stale_after:
            result[name] = Assessed("stale", reading.value, reading.measured_at)
        else:
            result[name] = Assessed("ok", reading.value, reading.measured_at)
    return result
