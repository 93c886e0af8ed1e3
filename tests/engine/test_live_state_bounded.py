"""Live state is today's state: a clinic that books every day for twelve simulated days holds in
Redis the bookings of the booking window only, and events of yesterday and today only, however
long it has run; a rebuild from the journal arrives at the same state."""

from __future__ import annotations

import uuid
from datetime import date, timedelta

import pytest

from engine import commands as cmd
from engine import keys
from engine.clinic import parse_clinic
from engine.model.booking import slots_for
from engine.model.state import slot_day
from engine.service import Engine
from tests.support import Clock, clinic_config

pytestmark = pytest.mark.integration
DAYS = 12
FIRST = date(2026, 11, 2)  # a Monday


async def _sizes(e: Engine, clinic: str) -> tuple[int, int, int]:
    client = e.store.client
    return (
        await client.hlen(keys.clinic_key(clinic, "res")),
        await client.hlen(keys.clinic_key(clinic, "slots")),
        await client.xlen(keys.events(clinic)),
    )


async def test_a_clinic_that_books_every_day_keeps_only_the_window_and_two_days_of_events(
    engine: tuple[Engine, Clock],
) -> None:
    e, clock = engine
    clinic_id = f"bounded-{uuid.uuid4().hex[:6]}"
    clinic = parse_clinic(clinic_config(clinic_id))  # type: ignore[arg-type]
    await e.put_clinic(clinic)
    sizes = []
    for n in range(DAYS):
        day = FIRST + timedelta(days=n)
        clock.set(f"{day.isoformat()}T08:30:00")
        await e.execute(clinic_id, cmd.Issue("therapy"))  # the day's first command opens it
        # Each day: six bookings for tomorrow, two of them cancelled, and two walk-ins.
        for i, slot in enumerate(slots_for(clinic, day + timedelta(days=1))[:6]):
            made = await e.execute(clinic_id, cmd.Reserve(slot, f"полис {n}-{i}", confirm=True))
            if i % 3 == 0:
                await e.execute(clinic_id, cmd.Cancel(made["reservation"].id))
        await e.execute(clinic_id, cmd.Issue("therapy"))
        sizes.append(await _sizes(e, clinic_id))

    state, _ = await e.store.snapshot(clinic_id)
    today = (FIRST + timedelta(days=DAYS - 1)).isoformat()
    assert {slot_day(r.slot) for r in state.reservations.values()} <= {
        today, (FIRST + timedelta(days=DAYS)).isoformat()}  # fmt: skip
    assert all(slot_day(s) >= today for s in state.slots)
    # Flat from the third day on: yesterday's bookings (served today) and tomorrow's.
    assert len({(res, slots) for res, slots, _ in sizes[2:]}) == 1, sizes
    assert max(events for _, _, events in sizes[2:]) <= 2 * sizes[1][2] + 2, sizes

    # The journal keeps everything; a rebuild from it arrives at the same live state.
    await e.store.client.hdel(keys.meta(clinic_id), "epoch")
    await e.rebuild(clinic_id, full=True)
    rebuilt, _ = await e.store.snapshot(clinic_id)
    assert rebuilt.reservations == state.reservations and rebuilt.slots == state.slots
    journal = await e.pool.fetchval(
        "SELECT count(*) FROM journal WHERE clinic = $1 AND kind = $2",
        clinic_id,
        "slot_reserved",
    )
    assert journal == 6 * DAYS
