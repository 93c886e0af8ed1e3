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
