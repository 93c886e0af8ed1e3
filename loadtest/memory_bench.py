"""What a city costs in memory: bytes per open screen socket in a push process, and bytes of
Redis per active clinic at the end of a clinic's day.

Sockets: one push process on its own embedded stores serves screens added in steps (each clinic
with a few events on its board first); after each step settles, the process's RSS is read. The
figure is the least-squares slope of RSS against open sockets, so the process's fixed memory (the
interpreter, the libraries, the clinics' boards) is not in it.

Redis: clinics live whole days as in the soak (``loadtest/soak_days.py``: walk-ins called and
served, bookings for the next three days, a third cancelled, each day's bookings checked in), with
a polyclinic's count of doctors. ``used_memory`` is read on an empty Redis and after each day;
the figure per clinic is the growth over the empty server divided by the clinics, after the day
the state stops growing (yesterday's and today's events in the stream, the booking window full).

Memory is not timing: these figures hold on a busy machine. They scale by multiplication to the
city (``FACTS.md``: ~30,000 live connections, 660 polyclinics), stated in the report.
"""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import asyncpg
import psutil
import redis.asyncio as aioredis

from clinicq.parts import SCHEMAS
from clinicq.settings import Settings
from engine import commands as cmd
from engine.clinic import parse_clinic
from engine.keys import events
from engine.runtime import close_engine, open_engine
from loadtest.ports import Ports
from loadtest.push_servers import start_push
from loadtest.rebuild_bench import REPORTS
from loadtest.scenario import synthetic_clinic
from loadtest.screens import Fleet, Target
from loadtest.soak_days import Soak, run_days
from loadtest.stores import start_stores
from loadtest.visits import make_tokens

CITY_SOCKETS = 30_000
CITY_CLINICS = 660
SOCKETS_PER_GENERATOR = 8_000  # far under the 20,000 open files a process may hold


@dataclass(frozen=True)
class SocketStep:
    sockets: int
    rss_bytes: int
    uss_bytes: int


def slope(xs: list[float], ys: list[float]) -> float:
    """The least-squares slope of ys against xs."""
    mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
    return sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / sum(
        (x - mx) ** 2 for x in xs
    )


async def _clinics_with_boards(redis_url: str, database_url: str, count: int) -> list[str]:
    """``count`` clinics, each with a doctor on duty and a few tickets, one of them called."""
    settings = Settings(redis_url=redis_url, database_url=database_url, database_pool_size=4)
    engine = await open_engine(settings, schemas=SCHEMAS)
    names = [f"mem-{i}" for i in range(count)]
    try:
        for name in names:
            clinic = parse_clinic(synthetic_clinic(name, 2, surgeons=False))
            await engine.put_clinic(clinic)
            for doctor in clinic.doctors:
                await engine.execute(name, cmd.SetDuty(doctor.id, status="on_duty"))
            for _ in range(5):
                await engine.execute(name, cmd.Issue("therapy", link=f"{name}-{time.time_ns()}"))
            cabinet = next(d.cabinet for d in clinic.doctors if d.cabinet)
            await engine.execute(name, cmd.CallNext(cabinet))
    finally:
        await close_engine(engine)
    return names


def _settled_memory(pid: int, seconds: float = 3.0) -> tuple[int, int]:
    time.sleep(seconds)  # let the joins' buffers and the boards' first sends finish
    info = psutil.Process(pid).memory_full_info()
    return int(info.rss), int(info.uss)


def measure_sockets(
    redis_url: str, database_url: str, steps: list[int], clinics: int, ports: Ports | None = None
) -> list[SocketStep]:
    """RSS of one push process with 0 and then each count of ``steps`` screens open."""
    names = asyncio.run(_clinics_with_boards(redis_url, database_url, clinics))
    _, tokens = asyncio.run(make_tokens(database_url, names))
    push = start_push(1, redis_url, database_url, ports=ports)
    fleet = Fleet(max(1, -(-max(steps) // SOCKETS_PER_GENERATOR)))
    try:
        pid = push.processes[0].pid
        assert pid is not None
        out = [SocketStep(0, *_settled_memory(pid))]
        opened = 0
        for target in sorted(steps):
            batch = [
                Target(
                    f"{names[i % clinics]}#{i}",
                    push.ports[0],
                    f"/ws/clinics/{names[i % clinics]}?token={tokens[names[i % clinics], 'display'][0]}",
                )
                for i in range(opened, target)
            ]
            live, failures = fleet.open(batch, keep_offsets=False)
            if live != len(batch):
                raise RuntimeError(f"{len(batch) - live} screens did not join: {failures[:3]}")
            opened = target
            out.append(SocketStep(opened, *_settled_memory(pid)))
        return out
    finally:
        fleet.close()
        push.stop()


async def _redis_used(redis_url: str) -> tuple[int, int]:
    """Redis's ``used_memory``, and the bytes its clinics' event streams hold."""
    client: Any = aioredis.from_url(redis_url)
    try:
        streams = 0
        async for key in client.scan_iter(match=events("*"), count=1000):
            streams += int(await client.memory_usage(key, samples=0) or 0)
        return int((await client.info("memory"))["used_memory"]), streams
    finally:
        await client.aclose()


async def _journal_bytes(database_url: str) -> int:
    """The journal's size on disk: every partition's rows, TOAST and indexes."""
    connection = await asyncpg.connect(database_url)
    try:
        size = await connection.fetchval(
            "SELECT sum(pg_total_relation_size(relid)) FROM pg_partition_tree('journal')"
        )
        return int(size or 0)
    finally:
        await connection.close()


def measure_clinics(redis_url: str, database_url: str, soak: Soak) -> dict[str, Any]:
    """Redis ``used_memory`` over the empty server, per clinic, at the end of each day; the
    stream's share of it; and the journal's bytes on disk per clinic-day."""
    empty, _ = asyncio.run(_redis_used(redis_url))
    samples, _ = asyncio.run(run_days(redis_url, database_url, soak))
    _, streams = asyncio.run(_redis_used(redis_url))
    journal = asyncio.run(_journal_bytes(database_url))  # a fresh server: the run's alone
    per_day = [(s.redis_used_memory - empty) / soak.clinics for s in samples]
    clinic_days = soak.clinics * len(samples)
    return {
        "empty_used_memory": empty,
        "stream_bytes_per_clinic": streams // soak.clinics,
        "journal_disk_bytes_per_clinic_day": journal // clinic_days,
        "journal_rows_per_clinic_day": samples[-1].journal_rows // clinic_days,
        "journal_disk_bytes_per_clinic_year": journal // clinic_days * 365,
        "bytes_per_clinic_by_day": [round(b) for b in per_day],
        "bytes_per_clinic": round(per_day[-1]),
        "stream_entries_per_clinic": samples[-1].events // soak.clinics,
        "reservations_per_clinic": samples[-1].res // soak.clinics,
        "tickets_per_clinic": samples[-1].tickets // soak.clinics,
        "keys_per_clinic": samples[-1].redis_keys // soak.clinics,
    }


def main(
    steps: list[int],
    screen_clinics: int,
    soak: Soak,
    *,
    ports: Ports | None = None,
    out_dir: Path = REPORTS,
) -> dict[str, Any]:
    """Both measurements on embedded stores of their own; the report written and returned."""
    report: dict[str, Any] = {"kind": "memory", "when": f"{datetime.now():%Y-%m-%d %H:%M}"}
    stores = start_stores("clinicq-memory-", ports)
    try:
        socket_steps = measure_sockets(
            stores.redis.url, stores.postgres.url, steps, screen_clinics, ports
        )
    finally:
        stores.redis.stop()
        stores.postgres.stop()
    # The first screens of a clinic start its feed (a reader, a board): that is per clinic, not
    # per socket, so the slope is taken over the steps after every clinic has screens.
    steady = [s for s in socket_steps if s.sockets >= screen_clinics] or socket_steps
    if len(steady) < 2:
        steady = socket_steps
    xs = [float(s.sockets) for s in steady]
    per_socket = slope(xs, [float(s.rss_bytes) for s in steady])
    first = steady[0]
    per_clinic = (first.rss_bytes - socket_steps[0].rss_bytes - per_socket * first.sockets) / max(
        1, min(screen_clinics, first.sockets)
    )
    report["sockets"] = {
        "clinics": screen_clinics,
        "steps": [s.__dict__ for s in socket_steps],
        "rss_bytes_per_socket": round(per_socket),
        "uss_bytes_per_socket": round(slope(xs, [float(s.uss_bytes) for s in steady])),
        "rss_bytes_per_clinic_feed": round(per_clinic),
        "city_sockets": CITY_SOCKETS,
        "city_socket_bytes": round(per_socket * CITY_SOCKETS),
    }
    stores = start_stores("clinicq-memory-", ports)
    try:
        clinics = measure_clinics(stores.redis.url, stores.postgres.url, soak)
    finally:
        stores.redis.stop()
        stores.postgres.stop()
    report["redis"] = {
        "soak": soak.__dict__,
        **clinics,
        "city_clinics": CITY_CLINICS,
        "city_bytes": clinics["bytes_per_clinic"] * CITY_CLINICS,
    }
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / f"memory-{datetime.now():%Y%m%d-%H%M%S}.json"
    path.write_text(json.dumps(report, indent=2))
    return report | {"path": str(path)}
