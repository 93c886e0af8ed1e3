"""The expected wait: people ahead times the live mean service time, shared by doctors on duty."""

from __future__ import annotations

import math

DEFAULT_SERVICE_MINUTES = 15  # the national norm for a therapist's appointment


def expected_wait_minutes(ahead: int, served: int, seconds: int, on_duty: int) -> int | None:
    """Minutes until a new patient is called; None when no doctor serves the queue now."""
    if on_duty <= 0:
        return None
    mean = seconds / served if served else DEFAULT_SERVICE_MINUTES * 60
    return math.ceil(ahead * mean / on_duty / 60)


def booked_wait_minutes(
    slot_time: int, now: int, ahead: int = 0, served: int = 0, seconds: int = 0
) -> int:
    """Minutes until a checked-in booked patient is called: they are called at their slot, not
    by the walk-in queue, and later only while booked patients with earlier slots still wait."""
    mean = seconds / served if served else DEFAULT_SERVICE_MINUTES * 60
    until_slot = max(0, slot_time - now) / 60_000
    return math.ceil(max(until_slot, ahead * mean / 60))
