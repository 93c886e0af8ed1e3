"""The short soak: a clinic lives eight simulated days on the real stores; the state Redis holds
for it (keys, bookings, tickets, the stream) is flat after the booking window fills. The CPU per
operation is reported, not asserted: timing on a shared machine is for the long run."""

from __future__ import annotations

import pytest

from loadtest.soak_days import WARMUP_DAYS, run_days, verdict

pytestmark = pytest.mark.integration


async def test_eight_days_leave_redis_holding_the_same(redis_url: str, database_url: str) -> None:
    samples = await run_days(redis_url, database_url, days=8, visits=20, bookings=12)
    report = verdict(samples)
    assert report["state_flat"], report["growth"]
    steady = samples[WARMUP_DAYS:]
    for name in ("redis_keys", "res", "slots", "tickets", "events"):
        assert len({getattr(s, name) for s in steady}) == 1, (
            name,
            [getattr(s, name) for s in samples],
        )
    assert samples[-1].journal_rows > samples[WARMUP_DAYS].journal_rows  # the journal keeps all
