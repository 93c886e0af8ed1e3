"""`loadtest smoke` end to end against a running engine: invariants hold, and catch a plant."""

from __future__ import annotations

import asyncio
import dataclasses
from pathlib import Path

import pytest

from loadtest import invariants
from loadtest.invariants import Acknowledged
from loadtest.openloop import arrivals
from loadtest.profiles import PROFILES
from loadtest.run import run_profile
from tests.support import EngineServer

pytestmark = pytest.mark.integration


async def test_smoke_profile_passes_its_invariants(
    engine_server: EngineServer, admin_token: str, database_url: str, tmp_path: Path
) -> None:
    """A short smoke run: every acknowledged ticket and slot is unique and journaled."""
    profile = dataclasses.replace(PROFILES["smoke"], seconds=6)
    data = await run_profile(
        profile,
        url=engine_server.url,
        token=admin_token,
        database_url=database_url,
        out_dir=tmp_path,
        quiet=True,
    )
    assert data["violations"] == []
    assert data["acknowledged"]["tickets"] > 20
    assert sum(op["errors"] for op in data["operations"].values()) == 0
    page = await asyncio.to_thread(Path(data["report"]["html"]).read_text)
    assert page.count("<svg") == 3


async def test_a_planted_duplicate_fails_the_run(
    engine_server: EngineServer, admin_token: str, database_url: str, tmp_path: Path
) -> None:
    """The same run with a duplicate number planted among the acknowledgements is a violation."""
    profile = dataclasses.replace(PROFILES["smoke"], seconds=3)
    data = await run_profile(
        profile, url=engine_server.url, token=admin_token, database_url=database_url,
        out_dir=tmp_path, quiet=True, plant_duplicate=True,
    )  # fmt: skip
    kinds = {v["invariant"] for v in data["violations"]}
    assert kinds == {"ticket number issued twice", "acknowledged but not journaled"}


def test_invariants_catch_each_kind_of_violation() -> None:
    """Each check flags its own violation and passes clean data."""
    t1 = Acknowledged("c", "ticket", "t1", "Т-001", "2026-11-26")
    t2 = Acknowledged("c", "ticket", "t2", "Т-001", "2026-11-27")
    assert invariants.no_number_twice([t1, t2]) == []
    assert (
        len(
            invariants.no_number_twice(
                [t1, t2, Acknowledged("c", "ticket", "t3", "Т-001", "2026-11-26")]
            )
        )
        == 1
    )
    r1, r2 = (
        Acknowledged("c", "reservation", "r1", slot="s"),
        Acknowledged("c", "reservation", "r2", slot="s"),
    )
    assert len(invariants.no_slot_twice([r1, r2], cancelled=set())) == 1
    assert invariants.no_slot_twice([r1, r2], cancelled={"r1"}) == []
    assert len(invariants.all_journaled([t1, r1], {("c", "t1")})) == 1
    assert invariants.screens_in_order({"c#1": [3, 4, 5]}, {"c": [1, 2, 3, 4, 5]}) == []
    assert len(invariants.screens_in_order({"c#1": [3, 5]}, {"c": [1, 2, 3, 4, 5]})) == 1


def test_arrivals_are_open_loop_seeded_and_bounded() -> None:
    """The schedule depends only on the seed, rises in a spike, and never passes its bounds."""
    profile = PROFILES["spike"]
    first, again = arrivals(profile, 7), arrivals(profile, 7)
    assert first == again and first != arrivals(profile, 8)
    assert all(0 < t < profile.seconds for t in first)
    in_spike = sum(1 for t in first if 60 <= t < 120)
    assert in_spike > 5 * sum(1 for t in first if t < 60)
    assert len(arrivals(dataclasses.replace(profile, max_requests=100), 7)) == 100
