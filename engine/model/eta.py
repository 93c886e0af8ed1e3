"""The expected wait: people ahead times the mean service time, shared by doctors on duty.

The mean is today's observed visits pulled toward the norm: a morning's first few visits (often
quick ones: a certificate, a no-show marked in a minute) would otherwise promise eleven people a
wait of "0 minutes". The pull weighs as much as PRIOR_VISITS visits, so after a few dozen the
day's own pace decides; and no visit counts as shorter than a minute.
"""

from __future__ import annotations

import math

DEFAULT_SERVICE_MINUTES = 15  # the national norm for a therapist's appointment
PRIOR_VISITS = 5  # how many visits' worth of weight the norm keeps
SHORTEST_VISIT_SECONDS = 60


def mean_service_seconds(served: int, seconds: int) -> float:
    """Today's mean visit, pulled toward the norm while few visits are known."""
    prior = DEFAULT_SERVICE_MINUTES * 60
    mean = (seconds + PRIOR_VISITS * prior) / (served + PRIOR_VISITS)
    return max(mean, SHORTEST_VISIT_SECONDS)


def expected_wait_minutes(ahead: int, served: int, seconds: int, on_duty: int) -> int | None:
    """Minutes until a new patient is called; None when no doctor serves the queue now."""
    if on_duty <= 0:
        return None
    return math.ceil(ahead * mean_service_seconds(served, seconds) / on_duty / 60)


def booked_wait_minutes(
    slot_time: int, now: int, ahead: int = 0, served: int = 0, seconds: int = 0
) -> int:
    """Minutes until a checked-in booked patient is called: they are called at their slot, not
    by the walk-in queue, and later only while booked patients with earlier slots still wait."""
    until_slot = max(0, slot_time - now) / 60_000
    return math.ceil(max(until_slot, ahead * mean_service_seconds(served, seconds) / 60))
