"""``python -m loadtest rebuild-bench``: how long a clinic is down after Redis loses it.

For each history size a synthetic polyclinic's journal is written (the pure model decides a
working year of walk-ins, calls, intakes and bookings, day after day), then the clinic is rebuilt
three ways in the same run: by folding the whole journal (the baseline), from a snapshot taken
``SNAPSHOT_EVERY_ENTRIES`` entries before the head (the worst tail the background task allows),
and from a snapshot at the head. Each rebuild is the engine's own ``Engine.rebuild`` after the
clinic's Redis keys are deleted, timed end to end (read, fold, write back to Redis).
"""

from __future__ import annotations

import asyncio
import json
import random
import statistics
import time
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import asyncpg

from engine import keys
from engine.clinic import DEMO_CLINICS, Clinic, load_clinics
from engine.commands import Act, CallNext, Cancel, Command, Issue, Reserve, SetDuty, run_pure
from engine.journal_postgres import Entry, Journal, chained
from engine.model import events as ev
from engine.model.booking import slots_for
from engine.model.clock import service_day
from engine.model.errors import DecisionError
from engine.model.state import ClinicState
from engine.runtime import close_engine, open_engine
from engine.service import Engine
from engine.settings import Settings
from engine.snapshots_postgres import SNAPSHOT_EVERY_ENTRIES
from loadtest.ports import Ports
from loadtest.stores import start_stores

REPORTS = Path(__file__).with_name("reports")
BATCH = 5000


@dataclass
class Result:
    entries: int
    full_fold_s: list[float]
    snapshot_worst_tail_s: list[float]
    snapshot_at_head_s: list[float]
    snapshot_bytes: int
    reservations: int

    @property
    def ratio(self) -> float:
        return statistics.median(self.snapshot_worst_tail_s) / statistics.median(self.full_fold_s)


def history(clinic: Clinic, entries: int, seed: int = 7) -> list[str]:
    """Event bodies of a busy polyclinic's days until ``entries`` events: walk-ins issued,
    called, started and completed by the doctors on duty, a share of bookings and cancels."""
    rng = random.Random(seed)
    zone = ZoneInfo(clinic.timezone)
    state, bodies = ClinicState(), list[str]()
    day0 = datetime(2025, 1, 9, 8, 0, tzinfo=zone)
    doctors = [d for d in clinic.doctors if d.cabinet]
    services = [s.id for s in clinic.services]
    d = 0
    while len(bodies) < entries:
        start = day0 + timedelta(days=d)
        d += 1
        now = int(start.timestamp() * 1000)
        slots = slots_for(clinic, (start + timedelta(days=3)).date())
        plan: list[Command] = [SetDuty(doc.id, status="on_duty") for doc in doctors]
        for _ in range(600):
            plan.append(
                Issue(rng.choice(services), rng.choice(["", "", "", "", "veteran"]), "kiosk")
            )
            plan.append(CallNext(rng.choice(doctors).cabinet or ""))
            if slots and rng.random() < 0.25:
                plan.append(Reserve(rng.choice(slots), f"П-{rng.randrange(10**6)}", confirm=True))
            if state.reservations and rng.random() < 0.05:
                plan.append(Cancel(reservation=rng.choice(sorted(state.reservations)[-50:])))
        for cmd in plan:
            now += rng.randrange(10_000, 40_000)
            day = service_day(now, clinic.timezone)
            try:
                outcome = run_pure(state, cmd, clinic, now, day, 300_000)
                events = outcome.events
                called = outcome.result.get("ticket") if isinstance(cmd, CallNext) else None
                if called is not None:
                    tid = called.id
                    for action in ("start", "complete"):
                        now += rng.randrange(60_000, 300_000) // 10
                        events += run_pure(
                            state, Act(tid, action), clinic, now, day, 300_000
                        ).events
            except DecisionError as refused:
                events = refused.events
            bodies += [ev.encode_event(e).decode() for e in events]
            if len(bodies) >= entries:
                break
    return bodies[:entries]


async def write(journal: Journal, clinic: str, bodies: list[str], prev: str) -> str:
    """Append bodies to the journal in batches, chained; return the last link."""
    for i in range(0, len(bodies), BATCH):
        chunk = bodies[i : i + BATCH]
        entries = []
        for body in chunk:
            event = ev.decode_event(body)
            kind = str(type(event).__struct_config__.tag)
            entries.append(Entry(clinic, event.offset, kind, event.at, body))
        linked = chained(entries, prev)
        await journal.append(linked)
        prev = linked[-1].link
    return prev


async def _rebuild(engine: Engine, clinic: str, *, full: bool = False) -> float:
    stale = [k async for k in engine.store.client.scan_iter(match=keys.prefix(clinic) + "*")]
    if stale:
        await engine.store.client.delete(*stale)
    started = time.perf_counter()
    await engine.rebuild(clinic, full=full)
    return time.perf_counter() - started


async def measure(redis_url: str, database_url: str, sizes: list[int], repeat: int) -> list[Result]:
    clinic = load_clinics(DEMO_CLINICS)[0]
    settings = Settings(
        redis_url=redis_url,
        database_url=database_url,
        database_pool_size=4,
        idempotency_ttl_seconds=3600,
        group_commit_max_batch=BATCH,
    )
    engine = await open_engine(settings)
    journal = engine.journal
    admin = await asyncpg.create_pool(database_url, min_size=1, max_size=2)
    results = []
    try:
        for size in sizes:
            name = f"rb{size}-{random.randrange(10**6)}"
            engine.clinics[name] = clinic
            bodies = history(clinic, size)
            cut = max(0, size - SNAPSHOT_EVERY_ENTRIES)
            link = await write(journal, name, bodies[:cut], "")
            await engine.snapshots.take(name)  # the last one the background task took
            await write(journal, name, bodies[cut:], link)
            full = [await _rebuild(engine, name, full=True) for _ in range(repeat)]
            worst = [await _rebuild(engine, name) for _ in range(repeat)]
            await engine.snapshots.take(name)
            best = [await _rebuild(engine, name) for _ in range(repeat)]
            size_row = await admin.fetchrow(
                "SELECT octet_length(state) AS n FROM journal_snapshot WHERE clinic = $1 "
                'ORDER BY "offset" DESC LIMIT 1',
                name,
            )
            state, _, _ = await engine.fold_journal(name)
            snapshot_bytes = int(size_row["n"]) if size_row else 0
            results.append(Result(size, full, worst, best, snapshot_bytes, len(state.reservations)))
    finally:
        await admin.close()
        await close_engine(engine)
    return results


def main(
    sizes: list[int],
    repeat: int,
    redis_url: str | None,
    database_url: str | None,
    *,
    ports: Ports | None = None,
    out_dir: Path = REPORTS,
) -> dict:
    """Measure on the given stores, or on embedded ones (Valkey on the next of ``ports``); write
    ``rebuild-YYYYMMDD-HHMMSS.json`` under ``out_dir``."""
    stores = None
    if not (redis_url and database_url):
        stores = start_stores("rebuild-bench-", ports)
        redis_url, database_url = stores.redis.url, stores.postgres.url
    try:
        results = asyncio.run(measure(redis_url, database_url, sizes, repeat))
    finally:
        if stores is not None:
            stores.redis.stop()
            stores.postgres.stop()
    out_dir.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    report = {
        "kind": "rebuild",
        "at": stamp,
        "results": [asdict(r) | {"ratio": r.ratio} for r in results],
    }
    path = out_dir / f"rebuild-{stamp}.json"
    path.write_text(json.dumps(report, indent=2))
    report["path"] = str(path)
    return report
