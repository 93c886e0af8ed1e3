"""The memory benchmark runs end to end on the real stores and says what it measured: a push
process's RSS at each step of open screens, and Redis's and the journal's bytes per clinic.
The figures themselves are for docs/PERFORMANCE.md, not asserted here."""

from __future__ import annotations

import pytest

from loadtest import memory_bench
from loadtest.soak_days import Soak

pytestmark = pytest.mark.integration


def test_sockets_are_measured_at_each_step(redis_url: str, database_url: str) -> None:
    steps = memory_bench.measure_sockets(redis_url, database_url, [10, 30], clinics=3)
    assert [s.sockets for s in steps] == [0, 10, 30]
    assert all(s.rss_bytes > s.uss_bytes > 0 for s in steps)


def test_a_clinics_days_are_measured_in_redis_and_in_the_journal(
    redis_url: str, database_url: str
) -> None:
    soak = Soak(days=4, clinics=2, doctors=3, visits=10, bookings=6, board_reads=0)
    found = memory_bench.measure_clinics(redis_url, database_url, soak)
    assert len(found["bytes_per_clinic_by_day"]) == 4
    assert found["stream_bytes_per_clinic"] > 0
    assert found["journal_rows_per_clinic_day"] > 10  # a day's walk-ins, calls and bookings
    assert found["journal_disk_bytes_per_clinic_year"] > 0


def test_slope_is_the_least_squares_one() -> None:
    assert memory_bench.slope([0, 1, 2, 3], [5, 7, 9, 11]) == pytest.approx(2.0)
    assert memory_bench.slope([0, 10, 20], [100, 100, 100]) == 0.0
