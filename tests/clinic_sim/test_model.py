"""The simulated day: reproducible, faithful to queueing theory, and showing what it claims."""

from __future__ import annotations

import ast
import json
from pathlib import Path

import pytest

from clinic_sim.config import FLAT, DayConfig, DoctorSpec, ServiceSpec, ServiceTime, polyclinic_day
from clinic_sim.erlang import erlang_c, mmc_mean_wait
from clinic_sim.model import simulate
from clinic_sim.patients import plan_day

PURE = ("config.py", "patients.py", "model.py", "results.py", "erlang.py", "whatif.py")
IO_MODULES = {"asyncio", "httpx", "starlette", "redis", "asyncpg", "socket", "engine"}


def test_same_seed_gives_the_same_day() -> None:
    """Two runs of one config and seed agree on every visit and every doctor's load."""
    config = polyclinic_day(season=1.8)
    assert simulate(config, 7) == simulate(config, 7)


def test_another_seed_gives_another_day() -> None:
    """A different seed draws different patients and so different waits."""
    config = polyclinic_day()
    a, b = simulate(config, 1), simulate(config, 2)
    assert a.visits != b.visits
    assert a.waits().mean != b.waits().mean


def test_mmc_mean_wait_matches_erlang_c() -> None:
    """Poisson arrivals, exponential visits, 3 doctors at 70% load: the mean wait and the share
    who wait are Erlang C's, within 10% and 0.03 (about 70,000 patients; ~3 standard errors)."""
    servers, mean_service, rate, minutes = 3, 15.0, 0.14, 500_000.0
    config = DayConfig(
        services=(ServiceSpec("therapy", rate * minutes, ServiceTime(mean_service, 1.0, "gamma")),),
        doctors=tuple(DoctorSpec(f"d{i}", ("therapy",), 0, minutes) for i in range(servers)),
        close=minutes,
        profile=FLAT,
        booking_fill=0.0,
        walk_in_no_show=0.0,
        priority_share=0.0,
        delayed_intake=0.0,
    )
    result = simulate(config, 0)
    waits = [v.wait for v in result.visits if v.wait is not None]
    expected = mmc_mean_wait(rate, mean_service, servers)
    assert len(waits) > 65_000
    assert abs(result.waits().mean - expected) / expected < 0.10
    share_waiting = sum(1 for w in waits if w > 1e-9) / len(waits)
    assert abs(share_waiting - erlang_c(servers, rate * mean_service)) < 0.03


def test_erlang_c_textbook_value() -> None:
    """Erlang C for 2 servers at offered load 1 is 1/3 (Kleinrock's worked case)."""
    assert erlang_c(2, 1.0) == pytest.approx(1 / 3)


def test_ordinary_day_meets_the_city_figures() -> None:
    """An ordinary day: walk-ins near 40% of the flow, most bookings seen within 20 minutes."""
    shares, kpis = [], []
    for seed in range(10):
        result = simulate(polyclinic_day(), seed)
        shares.append(result.walk_in_share)
        kpis.append(result.booked_on_time_share or 0.0)
    assert 0.33 < sum(shares) / 10 < 0.47
    assert sum(kpis) / 10 > 0.8


def test_respiratory_season_lengthens_walk_in_waits() -> None:
    """At twice the walk-ins, the walk-ins' 90th-percentile wait grows and doctors work harder."""
    calm, peak = simulate(polyclinic_day(), 3), simulate(polyclinic_day(season=2.0), 3)
    assert peak.waits("walk_in").p90 > calm.waits("walk_in").p90 + 30
    busy = sum(d.utilisation for d in peak.doctors) / len(peak.doctors)
    assert busy > sum(d.utilisation for d in calm.doctors) / len(calm.doctors)
    assert all(0.0 <= d.utilisation <= 1.0 + 1e-9 for d in peak.doctors)


def test_morning_peak_brings_most_walk_ins_before_noon() -> None:
    """The non-homogeneous arrivals put more walk-ins in 08-10 than in 16-18."""
    walk_ins = [p for p in plan_day(polyclinic_day(), 0) if p.kind == "walk_in"]
    assert sum(p.arrival < 120 for p in walk_ins) > 2 * sum(
        480 <= p.arrival < 600 for p in walk_ins
    )


def test_breaks_delayed_intake_and_no_shows_happen() -> None:
    """Each doctor with a long shift takes a break; some visits are suspended; some never come."""
    result = simulate(polyclinic_day(), 0)
    assert all(d.breaks == 1 for d in result.doctors)
    assert result.count("no_show") > 0 and result.count("absent") > 0
    planned = plan_day(polyclinic_day(), 0)
    assert any(p.delay for p in planned)
    delayed = {p.id for p in planned if p.delay and not p.absent}
    spans = [
        v.finished - v.called
        for v in result.visits
        if v.patient in delayed and v.finished and v.called
    ]
    assert spans and min(spans) >= 10  # suspended for at least the shortest delay


def test_histogram_counts_every_wait() -> None:
    """The wait histogram's bins add up to the number of waits, percentiles in order."""
    stats = simulate(polyclinic_day(season=1.5), 4).waits()
    assert sum(n for _, n in stats.histogram) == stats.count > 0
    assert stats.p50 <= stats.p90 <= stats.p95 <= stats.p99 <= stats.max


def test_pure_core_imports_no_io() -> None:
    """The simulation core imports no asyncio, HTTP, Redis, PostgreSQL or engine I/O module:
    of the engine, only its pure rules (``engine.model``)."""
    root = Path(__file__).parents[2] / "clinic_sim"
    for name in PURE:
        tree = ast.parse((root / name).read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            outside = [n for n in names if not n.startswith("engine.model")]
            assert not {n.split(".")[0] for n in outside} & IO_MODULES, (name, names)


def test_simulate_command_prints_the_summary() -> None:
    """`clinicq simulate` prints the day's summary as JSON, the same for the same seed."""
    from click.testing import CliRunner

    from clinic_sim.cli import simulate as command

    first = CliRunner().invoke(command, ["--season", "1.5", "--seed", "2"])
    assert first.exit_code == 0, first.output
    summary = json.loads(first.output)
    assert summary["waits"]["walk_in"]["count"] > 0 and 0 < summary["booked_within_kpi_share"] <= 1
    assert CliRunner().invoke(command, ["--season", "1.5", "--seed", "2"]).output == first.output
