"""Ticket numbers restart at each clinic's own local midnight (an injected clock)."""

from __future__ import annotations

import uuid

import pytest

from engine import commands as c
from engine.clinic import parse_clinic
from engine.errors import NotFound
from engine.service import Engine
from tests.support import Clock, clinic_config

pytestmark = pytest.mark.integration


async def _clinic(engine: Engine, zone: str) -> str:
    clinic_id = f"mid-{uuid.uuid4().hex[:6]}"
    await engine.put_clinic(parse_clinic(clinic_config(clinic_id, timezone=zone)))  # type: ignore[arg-type]
    return clinic_id


async def _number(engine: Engine, clinic: str) -> str:
    result = await engine.execute(clinic, c.Issue("therapy"))
    return str(result["ticket"].number)


@pytest.mark.parametrize("zone", ["Europe/Moscow", "Asia/Vladivostok"])
async def test_numbers_restart_at_local_midnight(engine: tuple[Engine, Clock], zone: str) -> None:
    """Т-001, Т-002 before midnight; Т-001 again after it; yesterday's open tickets expire."""
    e, clock = engine
    clinic = await _clinic(e, zone)
    clock.set("2026-11-26T23:58:00", zone)
    assert [await _number(e, clinic), await _number(e, clinic)] == ["Т-001", "Т-002"]
    clock.set("2026-11-27T00:00:01", zone)
    result = await e.execute(clinic, c.Issue("therapy"))
    assert result["ticket"].number == "Т-001"
    assert result["ahead"] == 0
    assert result["ticket"].day == "2026-11-27"
    with pytest.raises(NotFound):
        await e.ticket(clinic, "t2")
    bodies = await e.journal.bodies(clinic)
    assert any('"kind":"day_opened"' in b and '"2026-11-27"' in b for b in bodies)


async def test_each_clinic_keeps_its_own_midnight(engine: tuple[Engine, Clock]) -> None:
    """At Moscow's midnight a Vladivostok clinic (7 hours ahead) is mid-morning: no reset there."""
    e, clock = engine
    moscow, vladivostok = await _clinic(e, "Europe/Moscow"), await _clinic(e, "Asia/Vladivostok")
    clock.set("2026-11-26T23:30:00", "Europe/Moscow")
    assert await _number(e, moscow) == "Т-001"
    assert await _number(e, vladivostok) == "Т-001"  # 06:30 on the 27th there
    clock.set("2026-11-27T00:30:00", "Europe/Moscow")
    assert await _number(e, moscow) == "Т-001"
    assert await _number(e, vladivostok) == "Т-002"


async def test_a_lagging_clock_never_moves_the_day_back(engine: tuple[Engine, Clock]) -> None:
    """A worker whose clock is a little behind, just past midnight, neither resets nor rewinds."""
    e, clock = engine
    clinic = await _clinic(e, "Europe/Moscow")
    clock.set("2026-11-27T00:00:05", "Europe/Moscow")
    assert await _number(e, clinic) == "Т-001"
    clock.set("2026-11-26T23:59:59", "Europe/Moscow")
    result = await e.execute(clinic, c.Issue("therapy"))
    assert (result["ticket"].number, result["ticket"].day) == ("Т-002", "2026-11-27")
