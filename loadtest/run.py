"""Run a load profile against an engine, check the invariants, write the report.

Without ``--url`` the harness starts its own engine (two workers) on embedded servers. Traffic
goes to the given base URL only, which must be on loopback; every loop is bounded in count and
time by the profile.
"""

from __future__ import annotations

import asyncio
import os
import resource
import shutil
import signal
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import asyncpg
import psutil
import uvloop
from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

from engine.auth import create_token
from engine.journal_postgres import apply_schema
from loadtest import invariants, report
from loadtest.bench import serve
from loadtest.http import LeanClient
from loadtest.journal_reader import JournalReader
from loadtest.openloop import drive, schedule
from loadtest.ports import Ports
from loadtest.processes import ChildServer
from loadtest.profiles import Profile
from loadtest.push_servers import ServerSet, newest, start_push
from loadtest.recorder import Recorder
from loadtest.scenario import Scenario
from loadtest.screens import Collected, Fleet, Target
from loadtest.stores import start_stores
from loadtest.visits import make_tokens

REPORTS = Path(__file__).with_name("reports")
LOOPBACK = ("127.", "localhost", "[::1]", "::1")


def check_loopback(url: str) -> None:
    host = urlsplit(url).hostname or ""
    if not host.startswith(LOOPBACK):
        raise SystemExit(
            f"loadtest: {host!r} is not a loopback address; refusing to send load there"
        )


Fault = tuple[float, str, Callable[[], Awaitable[None]]]  # (second, name, action)


async def _inject(faults: list[Fault], started: float, log: list[dict[str, Any]]) -> None:
    for at, name, action in sorted(faults, key=lambda f: f[0]):
        await asyncio.sleep(max(0.0, started + at - time.monotonic()))
        began = time.monotonic()
        await action()
        log.append({"fault": name, "at": at, "took_seconds": round(time.monotonic() - began, 2)})


@dataclass
class ScreenSetup:
    """Live sockets for a run: the push processes, their Redis, how many generator processes."""

    push: ServerSet
    redis_url: str
    generators: int = 4


def screen_targets(
    profile: Profile, clinics: list[str], push: ServerSet, tokens: dict[tuple[str, str], list[str]]
) -> list[Target]:
    """The profile's screens, panels and dashboards of every clinic; clinic i on push i % N."""
    out = []
    for i, clinic in enumerate(clinics):
        for role, count in zip(("display", "doctor", "head"), profile.screens, strict=True):
            mine = tokens[clinic, role]
            for k in range(count):
                path = f"/ws/clinics/{clinic}?token={mine[k % len(mine)]}"
                out.append(Target(f"{clinic}#{role}{k}", push.port_for(i), path))
    return out


def screens_summary(
    collected: Collected, opened: int, failures: list[str], seconds: float
) -> dict[str, Any]:
    h = collected.latency
    return {
        "opened": opened,
        "failures": failures[:10],
        "frames": dict(collected.frames),
        "delivered_per_second": round(sum(collected.frames.values()) / seconds),
        "event_to_screen_ms": {
            "count": h.get_total_count(),
            **{f"p{p}": h.get_value_at_percentile(p) / 1000 for p in (50, 95, 99, 99.9)},
            "max": h.get_max_value() / 1000,
        },
        "closed": {str(k): v for k, v in collected.closed.items()},
        "generator_cpu_seconds": round(collected.generator_cpu_seconds, 2),
    }


@dataclass
class _Watching:
    """The run's open sockets, recording: what ``_close_screens`` needs to judge them."""

    setup: ScreenSetup
    fleet: Fleet
    targets: list[Target]
    opened: int
    failures: list[str]
    open_seconds: float
    push_cpu_before: float


@dataclass
class _Load:
    """What the open-loop drive did: its recorder, request count, faults and generator CPU."""

    recorder: Recorder
    requests: int
    fault_log: list[dict[str, Any]]
    generator_cpu_seconds: float


async def _open_screens(
    profile: Profile, scenario: Scenario, database_url: str, setup: ScreenSetup, quiet: bool
) -> _Watching:
    """Open every clinic's screens, panels and dashboards and start recording their frames."""
    ids = [c.id for c in scenario.clinics]
    _, tokens = await make_tokens(
        database_url, ids, ("display", "doctor", "head"), profile.doctors_per_clinic
    )
    targets = screen_targets(profile, ids, setup.push, tokens)
    fleet = Fleet(setup.generators)
    began = time.monotonic()
    # Screens keep their newest offset and breaks of order, not every offset: a run may last a day.
    opened, failures = await asyncio.to_thread(fleet.open, targets, 64, 300.0, False)
    open_seconds = round(time.monotonic() - began, 1)
    if not quiet:
        print(f"{opened} of {len(targets)} sockets open in {open_seconds} s")
    push_cpu_before = setup.push.cpu_seconds()
    await asyncio.to_thread(fleet.record, True)
    return _Watching(setup, fleet, targets, opened, failures, open_seconds, push_cpu_before)


async def _drive_load(
    profile: Profile, scenario: Scenario, seed: int, faults: list[Fault], quiet: bool
) -> _Load:
    """The profile's writes and reads, open loop, with the faults at their seconds."""
    writes = schedule(profile, seed)
    reads_profile = replace(profile, ops_per_second=profile.reads_per_second)
    reads = schedule(reads_profile, seed + 1) if profile.reads_per_second else iter(())
    recorder = Recorder()
    fault_log: list[dict[str, Any]] = []
    cpu_before = resource.getrusage(resource.RUSAGE_SELF)
    with Progress(
        TextColumn(f"[bold]{profile.name}"), BarColumn(), TextColumn("{task.completed:.0f}/{task.total:.0f} s"),
        TimeRemainingColumn(), disable=quiet,
    ) as progress:  # fmt: skip
        bar = progress.add_task("run", total=profile.seconds)
        fired_writes, fired_reads, _ = await asyncio.gather(
            drive(
                writes, scenario.pick, recorder, on_tick=lambda t: progress.update(bar, completed=t)
            ),
            drive(reads, scenario.read, recorder),
            _inject(faults, time.monotonic(), fault_log),
        )
        progress.update(bar, completed=profile.seconds)
    cpu_after = resource.getrusage(resource.RUSAGE_SELF)
    cpu = (cpu_after.ru_utime + cpu_after.ru_stime) - (cpu_before.ru_utime + cpu_before.ru_stime)
    return _Load(recorder, fired_writes + fired_reads, fault_log, cpu)


async def _close_screens(
    watching: _Watching, profile: Profile, clinics: list[str]
) -> tuple[dict[str, Any], list[invariants.Violation]]:
    """Stop recording, collect every screen's frames, check them against the streams, close."""
    fleet, push, targets = watching.fleet, watching.setup.push, watching.targets
    try:
        await asyncio.to_thread(fleet.record, False)
        push_cpu = push.cpu_seconds() - watching.push_cpu_before
        await asyncio.sleep(3.0)  # the last events reach every screen
        collected = await asyncio.to_thread(fleet.collect)
        tails = await asyncio.to_thread(fleet.tails)
        delivered = sum(collected.frames.values())
        data = {
            "open_seconds": watching.open_seconds,
            **screens_summary(collected, watching.opened, watching.failures, profile.seconds),
            "push_processes": len(push.processes),
            "push_cpu_seconds": round(push_cpu, 2),
            "push_us_per_message": round(push_cpu * 1e6 / max(1, delivered), 2),
        }
        last = await newest(watching.setup.redis_url, clinics)
        bad = invariants.screens_by_tails(tails, last)
        if watching.opened < len(targets):
            missing = f"{len(targets) - watching.opened} of {len(targets)}"
            bad.append(invariants.Violation("screens did not open", missing))
        return data, bad
    finally:
        await asyncio.to_thread(fleet.close)


async def _violations(
    scenario: Scenario,
    reader: JournalReader,
    plant_duplicate: bool,
    screen_bad: list[invariants.Violation],
) -> list[invariants.Violation]:
    """Every invariant over what clients were told, what was journaled and what screens saw."""
    ledger = scenario.ledger
    if plant_duplicate and ledger.first_ticket is not None:
        first = ledger.first_ticket
        ledger.ticket(replace(first, id=first.id + "-planted"))
    await reader.read()  # the journal's end; what still waits is looked up once more
    found = await reader.lookup()
    return [
        *ledger.numbers.violations(),
        *invariants.no_slot_twice(ledger.reservations.values(), reader.cancelled),
        *ledger.journaled.violations(found),
        *screen_bad,
    ]


def _summary(
    profile: Profile,
    seed: int,
    scenario: Scenario,
    load: _Load,
    screens: dict[str, Any],
    violations: list[invariants.Violation],
) -> dict[str, Any]:
    """The report's data; each fault's recovery is measured up to the next fault."""
    recorder, fault_log = load.recorder, load.fault_log
    next_at = [g["at"] for g in fault_log[1:]] + [float("inf")]
    return {
        "profile": {k: v for k, v in asdict(profile).items() if k != "mix"},
        "seed": seed,
        "requests": load.requests,
        "acknowledged": {
            "tickets": scenario.ledger.tickets,
            "reservations": len(scenario.ledger.reservations),
        },
        "operations": recorder.summary(),
        "late_start_p99_ms": recorder.late_starts_ms.get_value_at_percentile(99) / 1000,
        "generator_cpu_seconds": load.generator_cpu_seconds,
        "screens": screens,
        "violations": [asdict(v) for v in violations],
        "faults": [
            {**f, **recorder.recovery_after(f["at"], nxt)}
            for f, nxt in zip(fault_log, next_at, strict=False)
        ],
    }


async def run_profile(
    profile: Profile,
    *,
    url: str,
    token: str,
    database_url: str,
    seed: int = 1,
    out_dir: Path = REPORTS,
    plant_duplicate: bool = False,
    quiet: bool = False,
    faults: list[Fault] | None = None,
    screens: ScreenSetup | None = None,
) -> dict[str, Any]:
    """Set up the clinics, open the screens, drive the load, check every invariant, report."""
    check_loopback(url)
    watching: _Watching | None = None
    async with LeanClient(url, max_connections=400, timeout=60) as http:
        scenario = Scenario(http, token, profile, seed)
        await scenario.setup()
        ids = [c.id for c in scenario.clinics]
        reader = JournalReader(database_url, ids, scenario.ledger.journaled)
        if screens is not None and profile.screens_per_clinic:
            watching = await _open_screens(profile, scenario, database_url, screens, quiet)
        following = asyncio.create_task(reader.follow())
        try:
            load = await _drive_load(profile, scenario, seed, faults or [], quiet)
        finally:
            following.cancel()
            await asyncio.gather(following, return_exceptions=True)
    screen_data: dict[str, Any] = {}
    screen_bad: list[invariants.Violation] = []
    if watching is not None:
        screen_data, screen_bad = await _close_screens(watching, profile, ids)
    violations = await _violations(scenario, reader, plant_duplicate, screen_bad)
    data = _summary(profile, seed, scenario, load, screen_data, violations)
    name = f"{profile.name}-{time.strftime('%Y%m%d-%H%M%S')}"
    json_path, html_path = report.write(out_dir, name, data, load.recorder)
    data["report"] = {"json": str(json_path), "html": str(html_path)}
    return data


async def _admin_token(database_url: str) -> str:
    pool = await asyncpg.create_pool(database_url, min_size=1, max_size=2)
    try:
        await apply_schema(pool)
        return (await create_token(pool, "admin", label="loadtest"))[1]
    finally:
        await pool.close()


def self_hosted(
    profile: Profile,
    seed: int,
    workers: int,
    fault_plan: dict[str, float] | None = None,
    *,
    screens: bool = True,
    push_processes: int = 3,
    generators: int = 4,
    ports: Ports | None = None,
    **kwargs: Any,
) -> dict[str, Any]:
    """Start embedded stores and an engine, run the profile (with faults), stop everything.

    ``fault_plan`` maps "kill-worker", "restart-redis", "restart-postgres" to the second of the run
    at which to do it. With ``screens`` and a profile that has them, ``push_processes`` push
    processes serve the profile's sockets, opened from ``generators`` processes. Valkey, the
    engine and the push processes listen on the next of ``ports`` (any free port without them).
    """
    # SIGTERM ends the run through the ``finally`` below, which stops every child it started.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    ports = ports or Ports()
    run_stores = start_stores("clinicq-load-", ports)
    data_dir, redis_server, pg_server = run_stores.data_dir, run_stores.redis, run_stores.postgres
    env = run_stores.env
    engine: ChildServer | None = None
    push: ServerSet | None = None
    try:
        engine, url = serve("clinicq.asgi:app", {**os.environ, **env}, workers, ports)
        if screens and profile.screens_per_clinic:
            push = start_push(push_processes, redis_server.url, pg_server.url, ports=ports)
            kwargs["screens"] = ScreenSetup(push, redis_server.url, generators)
        token = asyncio.run(_admin_token(pg_server.url))
        engine_pid = engine.pid

        async def kill_worker() -> None:
            workers_now = psutil.Process(engine_pid).children()
            if workers_now:
                workers_now[0].kill()  # uvicorn's supervisor starts a new one

        async def restart_redis() -> None:
            await asyncio.to_thread(redis_server.stop)
            await asyncio.to_thread(redis_server.start)

        async def restart_postgres() -> None:
            await asyncio.to_thread(pg_server.stop)
            await asyncio.to_thread(pg_server.start)

        actions: dict[str, Callable[[], Awaitable[None]]] = {
            "kill-worker": kill_worker,
            "restart-redis": restart_redis,
            "restart-postgres": restart_postgres,
        }
        faults = [(at, name, actions[name]) for name, at in (fault_plan or {}).items()]
        return uvloop.run(
            run_profile(
                profile,
                url=url,
                token=token,
                database_url=pg_server.url,
                seed=seed,
                faults=faults,
                **kwargs,
            )
        )
    finally:
        if push is not None:
            push.stop()
        if engine is not None:
            engine.stop(timeout=20)
        redis_server.stop()
        pg_server.stop()
        shutil.rmtree(data_dir, ignore_errors=True)
