"""The steady-state soak in simulated time: does a clinic's day cost the same on day 300 as on
day 1, and does Redis hold the same after it?

One engine runs in-process on the real stores with an injected clock, and a clinic lives day
after day: doctors come on duty, walk-ins arrive and are called and served (arrivals and calls
balanced, as in a clinic), bookings are made for the next days, a third of them cancelled, and
the day's bookings are checked in and served. Midnight passes between days, so every rule of a
new day runs as in production. At the end of each day the soak samples what could grow: Redis
memory and keys, the clinic's live hashes and stream, the journal's rows and bytes, this
process's memory, and the CPU per operation of this process and of Redis. The report gives each
series' growth over the run against its mean, and a verdict: flat within the tolerance, or not.

Wall time plays no part in the state (it is simulated), so the state's verdict holds on a busy
machine; the CPU per operation is measured in the process's and Redis's own CPU time, which
other work on the machine disturbs less than latency, but still does: quote it from a quiet run.
"""

from __future__ import annotations

import asyncio
import json
import os
import time
import uuid
from dataclasses import asdict, dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import psutil

from clinicq.parts import SCHEMAS
from clinicq.settings import Settings
from engine import commands as cmd
from engine import keys
from engine.clinic import parse_clinic
from engine.errors import EngineError
from engine.model.booking import slots_for
from engine.runtime import close_engine, open_engine
from loadtest.ports import Ports
from loadtest.rebuild_bench import REPORTS
from loadtest.scenario import synthetic_clinic
from loadtest.stores import start_stores

ZONE = ZoneInfo("Europe/Moscow")
FIRST_DAY = date(2027, 1, 4)  # a Monday; every day is a working day in the synthetic clinic
WARMUP_DAYS = 2  # the first days fill the booking window: growth then is the window filling
STATE = ("redis_keys", "res", "slots", "tickets", "events")
COST = ("cpu_ms_per_op", "redis_cpu_ms_per_op")


@dataclass
class DaySample:
    day: int
    ops: int
    cpu_ms_per_op: float
    redis_cpu_ms_per_op: float
    redis_used_memory: int
    redis_keys: int  # the clinic's own
    res: int
    slots: int
    tickets: int
    events: int
    journal_rows: int
    journal_bytes: int
    rss_bytes: int


class SimClock:
    def __init__(self) -> None:
        self.now = 0

    def at(self, day: date, hour: int) -> None:
        self.now = int(datetime(day.year, day.month, day.day, hour, tzinfo=ZONE).timestamp() * 1000)

    def advance(self, seconds: float) -> None:
        self.now += int(seconds * 1000)

    def __call__(self) -> int:
        return self.now


async def _redis_cpu(client: Any) -> float:
    info = await client.info("cpu")
    return float(info["used_cpu_user"]) + float(info["used_cpu_sys"])


async def run_days(
    redis_url: str, database_url: str, *, days: int, visits: int, bookings: int, doctors: int = 4
) -> list[DaySample]:
    """Live ``days`` simulated days of one clinic; one sample at the end of each."""
    clock = SimClock()
    settings = Settings(redis_url=redis_url, database_url=database_url, database_pool_size=4)
    engine = await open_engine(settings, schemas=SCHEMAS, clock=clock)
    clinic_id = f"soak-{uuid.uuid4().hex[:6]}"
    clinic = parse_clinic(synthetic_clinic(clinic_id, doctors, slot_minutes=10, surgeons=False))
    await engine.put_clinic(clinic)
    booked: dict[date, list[tuple[str, str]]] = {}
    samples: list[DaySample] = []
    me = psutil.Process()
    try:
        for n in range(days):
            day = FIRST_DAY + timedelta(days=n)
            clock.at(day, 8)
            cpu, redis_cpu = time.process_time(), await _redis_cpu(engine.store.client)
            ops = await _one_day(engine, clinic, clinic_id, clock, day, booked, visits, bookings)
            cpu = time.process_time() - cpu
            redis_cpu = await _redis_cpu(engine.store.client) - redis_cpu
            samples.append(await _sample(engine, clinic_id, n, ops, cpu, redis_cpu, me))
    finally:
        await close_engine(engine)
    return samples


async def _one_day(
    engine: Any,
    clinic: Any,
    clinic_id: str,
    clock: SimClock,
    day: date,
    booked: dict[date, list[tuple[str, str]]],
    visits: int,
    bookings: int,
) -> int:
    ops = 0

    async def run(command: Any) -> dict[str, Any]:
        nonlocal ops
        ops += 1
        result: dict[str, Any] = await engine.execute(clinic_id, command)
        return result

    async def serve_next(cabinet: str) -> bool:
        try:
            called = await run(cmd.CallNext(cabinet))
        except EngineError:  # the cabinet's doctor is not on duty
            return False
        ticket = called.get("ticket")
        if ticket is None:  # nobody waiting for this cabinet's doctor
            return False
        await run(cmd.Act(ticket.id, "start"))
        await run(cmd.Act(ticket.id, "complete"))
        return True

    cabinets = [d.cabinet for d in clinic.doctors if d.cabinet]
    for doctor in clinic.doctors:
        await run(cmd.SetDuty(doctor.id, status="on_duty"))
    # The day's bookings arrive and are seen first; then the walk-ins, each served in turn.
    for rid, patient in booked.pop(day, []):
        await run(cmd.CheckIn(rid, link=uuid.uuid4().hex, patient=patient))
    step = 8 * 3600 / max(1, visits + bookings)
    for i in range(visits):
        clock.advance(step)
        await run(cmd.Issue("therapy", link=uuid.uuid4().hex))
        await serve_next(cabinets[i % len(cabinets)])
    for cabinet in cabinets:  # whoever checked in and is still waiting
        while await serve_next(cabinet):
            pass
    # Bookings for the next three days; every third one cancelled.
    ahead = [s for d in range(1, 4) for s in slots_for(clinic, day + timedelta(days=d))]
    taken = 0
    for i, slot in enumerate(ahead):
        if taken == bookings:
            break
        patient = f"полис {day:%m%d}-{i}"
        try:
            made = await run(cmd.Reserve(slot, patient, confirm=True))
        except EngineError:  # taken by an earlier day's booking: the next slot
            continue
        taken += 1
        rid = made["reservation"].id
        if i % 3 == 0:
            await run(cmd.Cancel(rid))
        else:
            booked.setdefault(slot.start.date(), []).append((rid, patient))
    for doctor in clinic.doctors:
        await run(cmd.SetDuty(doctor.id, status="off"))
    return ops


async def _sample(
    engine: Any, clinic_id: str, n: int, ops: int, cpu: float, redis_cpu: float, me: Any
) -> DaySample:
    client = engine.store.client
    memory = await client.info("memory")
    k = lambda name: keys.clinic_key(clinic_id, name)  # noqa: E731
    journal = await engine.pool.fetchrow(
        "SELECT count(*) AS n, coalesce(sum(length(body)), 0) AS b FROM journal WHERE clinic = $1",
        clinic_id,
    )
    return DaySample(
        day=n + 1,
        ops=ops,
        cpu_ms_per_op=1000 * cpu / max(1, ops),
        redis_cpu_ms_per_op=1000 * redis_cpu / max(1, ops),
        redis_used_memory=int(memory["used_memory"]),
        redis_keys=len([key async for key in client.scan_iter(match=k("*"), count=1000)]),
        res=int(await client.hlen(k("res"))),
        slots=int(await client.hlen(k("slots"))),
        tickets=int(await client.hlen(k("tickets"))),
        events=int(await client.xlen(keys.events(clinic_id))),
        journal_rows=int(journal["n"]),
        journal_bytes=int(journal["b"]),
        rss_bytes=int(me.memory_info().rss),
    )


def growth(samples: list[DaySample], name: str) -> float:
    """A series' least-squares slope over the days after the warm-up, times their number, as a
    share of its mean: 0.1 is 10% growth over the run."""
    steady = samples[WARMUP_DAYS:]
    values = [float(getattr(s, name)) for s in steady]
    if len(values) < 2 or not any(values):
        return 0.0
    xs = list(range(len(values)))
    mx, my = sum(xs) / len(xs), sum(values) / len(values)
    slope = sum((x - mx) * (y - my) for x, y in zip(xs, values, strict=True)) / sum(
        (x - mx) ** 2 for x in xs
    )
    return slope * (len(values) - 1) / my


def verdict(samples: list[DaySample], *, tolerance: float = 0.10) -> dict[str, Any]:
    """Each series' growth and whether the state and the cost are flat within ``tolerance``."""
    series = {name: round(growth(samples, name), 4) for name in (*STATE, *COST, "rss_bytes")}
    last = samples[-1]
    per_day = (last.journal_bytes - samples[0].journal_bytes) / max(1, len(samples) - 1)
    return {
        "growth": series,
        "state_flat": all(abs(series[n]) <= tolerance for n in STATE),
        "cost_flat": all(abs(series[n]) <= tolerance for n in COST),
        "journal_bytes_per_day": round(per_day),
        "journal_bytes_per_year": round(per_day * 365),
        "samples": [asdict(s) for s in samples],
    }


def main(
    *,
    days: int,
    visits: int,
    bookings: int,
    redis_url: str | None,
    database_url: str | None,
    ports: Ports | None = None,
    out_dir: Path = REPORTS,
) -> dict[str, Any]:
    """Run the soak on its own embedded stores (unless given; Valkey on the next of ``ports``),
    write ``soak-days-YYYYMMDD-HHMMSS.json`` under ``out_dir``, return the report."""
    stores = None
    if not (redis_url and database_url):
        stores = start_stores(
            "soak-days-", ports
        )  # its own Valkey: no other client's CPU in Redis's
        redis_url, database_url = stores.redis.url, stores.postgres.url
    try:
        samples = asyncio.run(
            run_days(redis_url, database_url, days=days, visits=visits, bookings=bookings)
        )
    finally:
        if stores is not None:
            stores.redis.stop()
            stores.postgres.stop()
    report = {"kind": "soak-days", "days": days, "visits": visits, "bookings": bookings}
    report |= verdict(samples) | {"load": os.getloadavg()}
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / f"soak-days-{datetime.now():%Y%m%d-%H%M%S}.json"
    path.write_text(json.dumps(report, indent=2))
    return report | {"path": str(path)}
