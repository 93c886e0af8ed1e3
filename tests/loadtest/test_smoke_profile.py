"""`loadtest smoke` end to end against a running engine: invariants hold, and catch a plant."""

from __future__ import annotations

import asyncio
import dataclasses
import itertools
import random
import tracemalloc
from array import array
from pathlib import Path

import pytest
from hdrh.histogram import HdrHistogram

from loadtest import invariants
from loadtest.invariants import Acknowledged, Journaled, TicketNumbers
from loadtest.openloop import arrivals, schedule
from loadtest.profiles import PROFILES
from loadtest.push_servers import start_push
from loadtest.recorder import (
    MAX_MICROSECONDS,
    LatencySeries,
    Recorder,
    _histogram,
    record_many,
)
from loadtest.run import ScreenSetup, run_profile
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


async def test_a_run_with_screens_checks_them_by_their_tails(
    engine_server: EngineServer,
    admin_token: str,
    redis_url: str,
    database_url: str,
    tmp_path: Path,
) -> None:
    """Screens that keep only their newest offset: every one joined and had every event."""
    profile = dataclasses.replace(PROFILES["smoke"], seconds=6, clinics=2, screens=(2, 1, 1))
    push = await asyncio.to_thread(start_push, 1, redis_url, database_url)
    try:
        data = await run_profile(
            profile, url=engine_server.url, token=admin_token, database_url=database_url,
            out_dir=tmp_path, quiet=True, screens=ScreenSetup(push, redis_url, generators=1),
        )  # fmt: skip
    finally:
        await asyncio.to_thread(push.stop)
    assert data["violations"] == []
    assert data["screens"]["opened"] == 8
    assert data["screens"]["frames"]["event"] > 50
    assert data["screens"]["event_to_screen_ms"]["count"] == data["screens"]["frames"]["event"]


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


def test_compact_checks_catch_what_the_full_lists_caught() -> None:
    """Numbers as bits, acknowledgements until the journal is read: each violation still fails."""
    numbers = TicketNumbers()
    for day, number in [("d1", "Т-001"), ("d1", "Т-002"), ("d2", "Т-001"), ("d1", "Х-001")]:
        numbers.add("c", day, number)
    numbers.add("c", "d1", "Т-01")  # not the engine's form: kept as text, not bit 1
    assert numbers.violations() == []
    numbers.add("c", "d1", "Т-002")
    numbers.add("c", "d1", "Т-002")
    numbers.add("c", "d1", "Т-01")
    assert [v.detail for v in numbers.violations()] == ["c d1 Т-002 x3", "c d1 Т-01 x2"]

    check = Journaled()
    early, late, lost = (Acknowledged("c", "ticket", i, "Т-001", "d") for i in ("t1", "t2", "t3"))
    check.read("c", "t1", now=0.0)  # read before it was acknowledged
    check.acknowledged(early)
    check.acknowledged(late)  # acknowledged before it was read
    check.acknowledged(lost)  # never journaled
    check.read("c", "t2", now=1.0)
    assert [v.detail for v in check.violations()] == ["c ticket t3"]
    check.read("c", "t4", now=2.0)
    check.forget(before=3.0)
    assert not check.unclaimed
    check.acknowledged(Acknowledged("c", "ticket", "t4"))  # its entry was forgotten: it waits
    assert [v.detail for v in check.violations()] == ["c ticket t3", "c ticket t4"]
    assert [v.detail for v in check.violations(found={("c", "t4")})] == ["c ticket t3"]


def test_the_recorder_keeps_per_second_figures_in_bounded_memory() -> None:
    """Twenty minutes of seconds, five requests each, cost the recorder a few megabytes at most
    (a histogram a second held 149 KB a second: 179 MB here)."""
    recorder = Recorder(started=0.0)
    tracemalloc.start()
    try:
        for second in range(1200):
            for k in range(5):
                at = second + k / 5
                recorder.record("take_ticket", at, at, at + 0.003 * (k + 1), "ok")
        held = tracemalloc.get_traced_memory()[0]
    finally:
        tracemalloc.stop()
    assert held < 8_000_000, f"{held / 1e6:.1f} MB for 1,200 seconds"


def test_per_second_percentiles_are_those_of_a_histogram_a_second() -> None:
    """Each second's p50/p99, kept after its values are dropped, equal its own HdrHistogram's."""
    rng = random.Random(3)
    recorder = Recorder(started=0.0, by_second=LatencySeries(open_seconds=40))
    per_second: dict[int, HdrHistogram] = {}
    for second in range(300):
        for _ in range(rng.randint(0, 6)):
            latency = rng.expovariate(1 / 0.02)
            recorder.record("op", second + 0.5, second + 0.5, second + 0.5 + latency, "ok")
            micros = max(1, min(MAX_MICROSECONDS, int(latency * 1e6)))
            per_second.setdefault(second, _histogram()).record_value(micros)
        assert len(recorder.by_second.open) <= 41
    expected = [
        (s, h.get_value_at_percentile(50), h.get_value_at_percentile(99))
        for s, h in sorted(per_second.items())
    ]
    assert recorder.by_second.points() == expected
    recorder.record("op", 10.5, 10.5, 11.0, "ok")  # a second long closed: counted, not plotted
    assert recorder.by_second.late == 1 and recorder.by_op["op"].get_total_count() > 300


def test_record_many_counts_as_record_value_does() -> None:
    """The vectorised fold gives the same histogram as recording one value at a time."""
    rng = random.Random(5)
    values = [rng.choice([0, 1, 2047, 2048, 4097]) for _ in range(50)]
    values += [int(rng.lognormvariate(9, 2)) for _ in range(20_000)] + [MAX_MICROSECONDS * 2]
    one, many = _histogram(), _histogram()
    for v in values:
        one.record_value(max(1, min(MAX_MICROSECONDS, v)))
    record_many(many, array("q", values))
    assert list(one.counts) == list(many.counts)
    assert one.get_total_count() == many.get_total_count()
    for p in (0, 50, 99, 99.9, 100):
        assert one.get_value_at_percentile(p) == many.get_value_at_percentile(p)
    assert (one.get_min_value(), one.get_max_value()) == (
        many.get_min_value(),
        many.get_max_value(),
    )


def test_the_schedule_is_drawn_as_needed() -> None:
    """A day's schedule is a generator with the list's values, not a list of millions."""
    profile = dataclasses.replace(PROFILES["soak"], seconds=24 * 3600)
    drawn = schedule(profile, 7)
    assert list(itertools.islice(drawn, 1000)) == arrivals(
        dataclasses.replace(profile, max_requests=1000), 7
    )
