"""The expected wait: a few quick visits early in the day do not promise a crowd no wait."""

from __future__ import annotations

from engine.model.eta import (
    DEFAULT_SERVICE_MINUTES,
    booked_wait_minutes,
    expected_wait_minutes,
    mean_service_seconds,
)


def test_no_visits_yet_uses_the_norm() -> None:
    assert expected_wait_minutes(2, 0, 0, 1) == 2 * DEFAULT_SERVICE_MINUTES
    assert expected_wait_minutes(4, 0, 0, 2) == 2 * DEFAULT_SERVICE_MINUTES


def test_a_few_quick_visits_do_not_make_eleven_people_wait_zero_minutes() -> None:
    """Three visits of 6 s each (marked done at once): the norm still weighs in."""
    wait = expected_wait_minutes(11, 3, 18, 1)
    assert wait is not None and wait > 11 * 5


def test_a_days_worth_of_visits_decides_the_pace() -> None:
    """200 visits of 10 minutes: the mean is within a few seconds of 10 minutes."""
    assert abs(mean_service_seconds(200, 200 * 600) - 600) < 15
    assert expected_wait_minutes(6, 200, 200 * 600, 2) in (30, 31)


def test_no_visit_counts_as_shorter_than_a_minute() -> None:
    assert mean_service_seconds(100_000, 100_000) == 60


def test_nobody_on_duty_is_no_estimate_and_a_booking_waits_for_its_slot() -> None:
    assert expected_wait_minutes(3, 10, 6000, 0) is None
    assert booked_wait_minutes(slot_time=30 * 60_000, now=0) == 30
