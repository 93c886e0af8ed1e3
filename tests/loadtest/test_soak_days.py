"""The short soak: two clinics live eight simulated days on the real stores, with a push process
serving their screens. After the booking window fills, the state Redis holds for them (keys,
bookings, tickets, the stream) is the same every day, and so are the bytes Redis sends per
operation: the cost that grew when every board read every reservation ever made. The CPU series
are reported, not asserted: timing on a shared machine is for the long run (`make soak`)."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.embedded import EmbeddedRedis
from loadtest.soak_days import STATE, WARMUP_DAYS, Soak, run_days, verdict

pytestmark = pytest.mark.integration


async def test_eight_days_leave_redis_holding_the_same(tmp_path: Path, database_url: str) -> None:
    # A Redis of its own: the bytes it sends are this soak's alone.
    redis = EmbeddedRedis(tmp_path / "redis").start()
    try:
        soak = Soak(days=8, clinics=2, visits=20, bookings=12, board_reads=5, push=1, screens=2)
        samples, missed = await run_days(redis.url, database_url, soak)
    finally:
        redis.stop()
    report = verdict(samples)
    assert report["state_flat"], report["growth"]
    steady = samples[WARMUP_DAYS:]
    for name in STATE:
        assert len({getattr(s, name) for s in steady}) == 1, (
            name,
            [getattr(s, name) for s in samples],
        )
    assert abs(report["growth"]["redis_bytes_out_per_op"]) <= 0.10, report["growth"]
    assert samples[-1].journal_rows > samples[WARMUP_DAYS].journal_rows  # the journal keeps all
    assert missed == []  # every screen got every event of its clinic, once and in order
    assert all(s.frames > 0 for s in samples)
