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
import functools
import json
import os
import time
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
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
from loadtest.core_speed import CoreSpeed
from loadtest.ports import Ports
from loadtest.push_servers import ServerSet, start_push
from loadtest.rebuild_bench import REPORTS
from loadtest.scenario import synthetic_clinic
from loadtest.screens import Fleet, Target
from loadtest.stores import start_stores
from loadtest.visits import make_tokens

ZONE = ZoneInfo("Europe/Moscow")
FIRST_DAY = date(2027, 1, 4)  # a Monday; every day is a working day in the synthetic clinic
WARMUP_DAYS = 2  # the first days fill the booking window: growth then is the window filling
STATE = ("redis_keys", "res", "slots", "tickets", "events")
# The CPU series are measured in CPU time and still move with other work on the machine; the
# bytes Redis sends per operation do not, so that is the one a short run on a busy machine can
# hold to the tolerance (it is what grew when every board read every reservation ever made).
CPU_COST = (
    "cpu_ms_per_op",
    "redis_cpu_ms_per_op",
    "postgres_cpu_ms_per_op",
    "push_cpu_ms_per_frame",
)
# The CPU series over the day's core speed, as a share of the run's mean speed: the same work on
# a core slowed by a neighbour costs the same here. These and the bytes are the cost verdict.
RELATIVE = tuple(f"{name}_at_core_speed" for name in CPU_COST)
COST = (*CPU_COST, "redis_bytes_out_per_op")
MEMORY = ("rss_bytes", "redis_used_memory")


@dataclass
class DaySample:
    day: int
    ops: int
    wall_seconds: float
    cpu_ms_per_op: float
    redis_cpu_ms_per_op: float
    redis_bytes_out_per_op: float  # every client's: run on a Redis of the soak's own
    redis_used_memory: int
    redis_keys: int  # the soak's clinics' own
    res: int
    slots: int
    tickets: int
    events: int
    journal_rows: int
    journal_bytes: int
    rss_bytes: int
    frames: int = 0  # delivered to the screens during the day
    push_cpu_ms_per_frame: float = 0.0
    push_rss_bytes: list[int] = field(default_factory=list)  # each push process's
    # PostgreSQL's whole CPU per operation (the postmaster, its live and its ended backends),
    # when it runs on this machine: what a journal growing by the day costs the store.
    postgres_cpu_ms_per_op: float = 0.0
    load_average: float = 0.0  # the machine's one-minute load at the day's end: the run's quiet
    # The baseline of the CPU series: CPU per reference unit on the run's cores over the day
    # (loadtest/core_speed.py). It rises when the machine, not the product, gets slower.
    core_us_per_unit: float = 0.0


@dataclass(frozen=True)
class Soak:
    """What the soak lives through: ``clinics`` clinics, each with ``visits`` walk-ins and
    ``bookings`` bookings a day, for ``days`` days or until ``hours`` of wall time have passed;
    with ``push`` push processes serving ``screens`` screens a clinic (0: no push); each day
    paced over ``day_seconds`` of wall time if given."""

    days: int
    visits: int
    bookings: int
    clinics: int = 1
    doctors: int = 4
    board_reads: int = 20  # engine board reads a clinic a day (the dashboard's and the API's)
    push: int = 0
    screens: int = 0
    hours: float | None = None
    # Each day spread over this much wall time (None: as fast as it goes). The push processes'
    # boards, heartbeats and polls are paid per second, not per operation: a day that runs
    # slower (a busy neighbour, a slow disk) costs more CPU per operation with nothing grown.
    # A paced day keeps the seconds per day fixed, so the cost per operation can be compared.
    day_seconds: float | None = None


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


async def _redis_bytes_out(client: Any) -> int:
    return int((await client.info("stats"))["total_net_output_bytes"])


def _postgres_cpu(postmaster: psutil.Process | None) -> float:
    """CPU seconds of PostgreSQL so far: the postmaster's own, its ended backends' (it waits for
    them, so the kernel adds them to its children's times) and its live ones'."""
    if postmaster is None:
        return 0.0
    try:
        own = postmaster.cpu_times()
        total = own.user + own.system + own.children_user + own.children_system
        for child in postmaster.children():
            try:
                times = child.cpu_times()
                total += times.user + times.system
            except psutil.NoSuchProcess:  # ended between the listing and the read
                pass
        return total
    except (psutil.NoSuchProcess, psutil.AccessDenied):
        return 0.0


async def _postmaster(engine: Any) -> psutil.Process | None:
    """The PostgreSQL server's main process, if it runs on this machine (its backend's parent)."""
    try:
        backend = psutil.Process(int(await engine.pool.fetchval("SELECT pg_backend_pid()")))
        return backend.parent()
    except (psutil.NoSuchProcess, psutil.AccessDenied):  # a server on another machine
        return None


def _cpu_of(pid: int) -> float:
    times = psutil.Process(pid).cpu_times()
    return float(times.user + times.system)


@dataclass
class Screens:
    """The push processes and the screens they serve, when the soak has them."""

    servers: ServerSet
    fleet: Fleet

    def pids(self) -> list[int]:
        return [p.pid for p in self.servers.processes if p.pid is not None]


async def _start_screens(
    redis_url: str, database_url: str, clinics: list[str], soak: Soak, ports: Ports | None
) -> Screens:
    servers = await asyncio.to_thread(
        functools.partial(start_push, soak.push, redis_url, database_url, ports=ports)
    )
    _, tokens = await make_tokens(database_url, clinics)
    fleet = Fleet(1)
    targets = [
        Target(
            f"{clinic}#{k}",
            servers.port_for(i),
            f"/ws/clinics/{clinic}?token={tokens[clinic, 'display'][0]}",
        )
        for i, clinic in enumerate(clinics)
        for k in range(soak.screens)
    ]
    opened, failures = await asyncio.to_thread(fleet.open, targets, keep_offsets=False)
    if opened != len(targets):
        fleet.close()
        servers.stop()
        raise RuntimeError(f"{len(targets) - opened} screens did not join: {failures[:3]}")
    return Screens(servers, fleet)


async def run_days(
    redis_url: str,
    database_url: str,
    soak: Soak,
    progress: Callable[[DaySample], None] | None = None,
    ports: Ports | None = None,
) -> tuple[list[DaySample], list[str]]:
    """Live the soak's days; one sample at the end of each; with screens, also what they missed
    (every screen must have every event of its clinic, once and in order)."""
    clock = SimClock()
    settings = Settings(redis_url=redis_url, database_url=database_url, database_pool_size=4)
    engine = await open_engine(settings, schemas=SCHEMAS, clock=clock)
    run = uuid.uuid4().hex[:6]
    clinics = {}
    for i in range(soak.clinics):
        clinic_id = f"soak-{run}-{i}"
        clinics[clinic_id] = parse_clinic(
            synthetic_clinic(clinic_id, soak.doctors, slot_minutes=10, surgeons=False)
        )
        await engine.put_clinic(clinics[clinic_id])
    screens = (
        await _start_screens(redis_url, database_url, list(clinics), soak, ports)
        if soak.push
        else None
    )
    booked: dict[str, dict[date, list[tuple[str, str]]]] = {c: {} for c in clinics}
    samples: list[DaySample] = []
    missed: list[str] = []
    me = psutil.Process()
    journal_seen: dict[str, int] = {}
    postmaster = await _postmaster(engine)
    speed = CoreSpeed()
    began = time.monotonic()
    # The clinics' days run side by side on one clock: each step moves it by a share of the day.
    step = 8 * 3600 / max(1, soak.visits + soak.bookings) / soak.clinics
    try:
        for n in range(soak.days):
            day = FIRST_DAY + timedelta(days=n)
            clock.at(day, 8)
            wall, cpu = time.monotonic(), time.process_time()
            redis_cpu = await _redis_cpu(engine.store.client)
            redis_out = await _redis_bytes_out(engine.store.client)
            push_cpu = sum(map(_cpu_of, screens.pids())) if screens else 0.0
            postgres_cpu = _postgres_cpu(postmaster)
            core = speed.read()
            if screens:
                await asyncio.to_thread(screens.fleet.record, True)
            pace = Pace(soak.day_seconds, soak.visits + soak.bookings)
            days = [
                _one_day(engine, clinics[c], c, clock, day, booked[c], soak, step, pace)
                for c in clinics
            ]
            ops = sum(await asyncio.gather(*days))
            frames = 0
            if screens:
                await _settle(engine, screens, list(clinics))
                await asyncio.to_thread(screens.fleet.record, False)
                frames = sum(screens.fleet.collect().frames.values())
                push_cpu = sum(map(_cpu_of, screens.pids())) - push_cpu
            cpu = time.process_time() - cpu
            redis_out = await _redis_bytes_out(engine.store.client) - redis_out
            redis_cpu = await _redis_cpu(engine.store.client) - redis_cpu
            postgres_cpu = _postgres_cpu(postmaster) - postgres_cpu
            sample = await _sample(
                engine, list(clinics), n, ops, me, journal_seen
            )  # not in the day's
            sample.wall_seconds = time.monotonic() - wall
            sample.cpu_ms_per_op = 1000 * cpu / max(1, ops)
            sample.redis_cpu_ms_per_op = 1000 * redis_cpu / max(1, ops)
            sample.redis_bytes_out_per_op = redis_out / max(1, ops)
            sample.postgres_cpu_ms_per_op = 1000 * postgres_cpu / max(1, ops)
            sample.load_average = os.getloadavg()[0]
            sample.core_us_per_unit = speed.read().us_per_unit_since(core)
            if screens:
                sample.frames = frames
                sample.push_cpu_ms_per_frame = 1000 * push_cpu / max(1, frames)
                sample.push_rss_bytes = [
                    psutil.Process(p).memory_info().rss for p in screens.pids()
                ]
            samples.append(sample)
            if progress is not None:
                progress(sample)
            if soak.hours is not None and time.monotonic() - began >= soak.hours * 3600:
                break
        if screens:
            missed = await _missed(engine, screens, list(clinics))
    finally:
        speed.close()
        if screens:
            screens.fleet.close()
            screens.servers.stop()
        await close_engine(engine)
    return samples, missed


async def _last_offsets(engine: Any, clinics: list[str]) -> dict[str, int]:
    rows = await engine.pool.fetch(
        "SELECT clinic, last_offset FROM journal_head WHERE clinic = any($1::text[])", clinics
    )
    return {r["clinic"]: int(r["last_offset"]) for r in rows}


async def _settle(engine: Any, screens: Screens, clinics: list[str], within: float = 30.0) -> None:
    """Wait (bounded) until every screen has its clinic's last event, so that a day's frames
    are counted in that day: the push processes trail the engine by milliseconds."""
    last = await _last_offsets(engine, clinics)
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        tails = await asyncio.to_thread(screens.fleet.tails)
        if all(tail >= last.get(key.split("#", 1)[0], 0) for key, (tail, _) in tails.items()):
            return
        await asyncio.sleep(0.05)


async def _missed(engine: Any, screens: Screens, clinics: list[str]) -> list[str]:
    """The screens that did not get every event of their clinic once and in order, up to its
    last: each counts the events that were not the one after its previous."""
    await _settle(engine, screens, clinics)
    tails = await asyncio.to_thread(screens.fleet.tails)
    last = await _last_offsets(engine, clinics)
    out = []
    for key, (tail, breaks) in sorted(tails.items()):
        clinic = key.split("#", 1)[0]
        if breaks or tail != last.get(clinic, 0):
            out.append(f"{key}: {breaks} breaks of order; at {tail} of {last.get(clinic)}")
    return out


class Pace:
    """Step ``i`` of a day's ``steps`` starts no sooner than ``i / steps`` of ``seconds`` into
    the day's wall time (no pacing without ``seconds``); a step that is late starts at once."""

    def __init__(self, seconds: float | None, steps: int) -> None:
        self.seconds, self.steps = seconds, max(1, steps)
        self.start = time.monotonic()

    async def wait(self, i: int) -> None:
        if self.seconds is None:
            return
        delay = self.start + self.seconds * i / self.steps - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)


async def _one_day(
    engine: Any,
    clinic: Any,
    clinic_id: str,
    clock: SimClock,
    day: date,
    booked: dict[date, list[tuple[str, str]]],
    soak: Soak,
    step: float,
    pace: Pace,
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
    read_every = max(1, soak.visits // max(1, soak.board_reads))
    for i in range(soak.visits):
        await pace.wait(i)
        clock.advance(step)
        await run(cmd.Issue("therapy", link=uuid.uuid4().hex))
        await serve_next(cabinets[i % len(cabinets)])
        if soak.board_reads and i % read_every == 0:
            ops += 1
            await engine.board(clinic_id)
    for cabinet in cabinets:  # whoever checked in and is still waiting
        while await serve_next(cabinet):
            pass
    # Bookings for the next three days; every third one cancelled.
    ahead = [s for d in range(1, 4) for s in slots_for(clinic, day + timedelta(days=d))]
    taken = 0
    for i, slot in enumerate(ahead):
        if taken == soak.bookings:
            break
        await pace.wait(soak.visits + taken)
        clock.advance(step)
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
    engine: Any, clinics: list[str], n: int, ops: int, me: Any, journal_seen: dict[str, int]
) -> DaySample:
    """The day's figures; ``journal_seen`` carries each clinic's journal offset read so far (and
    the bytes counted so far, under "bytes") from one day to the next."""
    client = engine.store.client
    memory = await client.info("memory")
    counts = dict.fromkeys(("redis_keys", "res", "slots", "tickets", "events"), 0)
    for clinic_id in clinics:
        k = functools.partial(keys.clinic_key, clinic_id)
        counts["redis_keys"] += len(
            [key async for key in client.scan_iter(match=k("*"), count=1000)]
        )
        counts["res"] += int(await client.hlen(k("res")))
        counts["slots"] += int(await client.hlen(k("slots")))
        counts["tickets"] += int(await client.hlen(k("tickets")))
        counts["events"] += int(await client.xlen(keys.events(clinic_id)))
    # Only the day's new entries are read (through the (clinic, offset) index): a count over
    # the whole journal would take longer each day than the day itself.
    journal = await engine.pool.fetchrow(
        "SELECT coalesce(sum(h.entries), 0) AS n, coalesce(sum(("
        "  SELECT sum(length(j.body)) FROM journal j"
        '  WHERE j.clinic = h.clinic AND j."offset" > d.seen)), 0) AS b'
        " FROM journal_head h JOIN unnest($1::text[], $2::bigint[]) AS d(clinic, seen)"
        " ON d.clinic = h.clinic",
        clinics,
        [journal_seen.get(c, 0) for c in clinics],
    )
    heads = await engine.pool.fetch(
        "SELECT clinic, last_offset FROM journal_head WHERE clinic = any($1::text[])", clinics
    )
    journal_seen.update({r["clinic"]: int(r["last_offset"]) for r in heads})
    journal_seen["bytes"] = journal_seen.get("bytes", 0) + int(journal["b"])
    return DaySample(
        day=n + 1,
        ops=ops,
        wall_seconds=0.0,
        cpu_ms_per_op=0.0,
        redis_cpu_ms_per_op=0.0,
        redis_bytes_out_per_op=0.0,
        redis_used_memory=int(memory["used_memory"]),
        journal_rows=int(journal["n"]),
        journal_bytes=journal_seen["bytes"],
        rss_bytes=int(me.memory_info().rss),
        redis_keys=counts["redis_keys"],
        res=counts["res"],
        slots=counts["slots"],
        tickets=counts["tickets"],
        events=counts["events"],
    )


def series(samples: list[DaySample]) -> dict[str, list[float]]:
    """Every sampled series by name, one value a day; each push process's RSS on its own; each
    CPU series also at the run's mean core speed."""
    names = (*STATE, *COST, *MEMORY, "core_us_per_unit")
    out = {name: [float(getattr(s, name)) for s in samples] for name in names}
    speeds = out["core_us_per_unit"]
    mean = sum(speeds) / len(speeds) if speeds else 0.0
    if mean and all(speeds):
        for name, relative in zip(CPU_COST, RELATIVE, strict=True):
            out[relative] = [v * mean / speed for v, speed in zip(out[name], speeds, strict=True)]
    for i in range(len(samples[0].push_rss_bytes) if samples else 0):
        out[f"push_{i}_rss_bytes"] = [float(s.push_rss_bytes[i]) for s in samples]
    return out


def growth(values: list[float]) -> float:
    """A series' least-squares slope over the days after the warm-up, times their number, as a
    share of its mean: 0.1 is 10% growth over the run."""
    steady = values[WARMUP_DAYS:]
    if len(steady) < 2 or not any(steady):
        return 0.0
    xs = list(range(len(steady)))
    mx, my = sum(xs) / len(xs), sum(steady) / len(steady)
    slope = sum((x - mx) * (y - my) for x, y in zip(xs, steady, strict=True)) / sum(
        (x - mx) ** 2 for x in xs
    )
    return slope * (len(steady) - 1) / my


def verdict(samples: list[DaySample], *, tolerance: float = 0.10) -> dict[str, Any]:
    """Each series' growth and whether the state, the cost and the memory are flat within
    ``tolerance``."""
    grew = {name: round(growth(values), 4) for name, values in series(samples).items()}
    last = samples[-1]
    per_day = (last.journal_bytes - samples[0].journal_bytes) / max(1, len(samples) - 1)
    rows_per_day = (last.journal_rows - samples[0].journal_rows) / max(1, len(samples) - 1)
    memory = [n for n in grew if n.endswith("_bytes") or n == "redis_used_memory"]
    return {
        "growth": grew,
        "tolerance": tolerance,
        "state_flat": all(abs(grew[n]) <= tolerance for n in STATE),
        # Against the core's speed where it was measured; raw CPU time otherwise.
        "cost_flat": all(
            abs(grew.get(f"{n}_at_core_speed", grew[n])) <= tolerance
            for n in (*CPU_COST, "redis_bytes_out_per_op")
        ),
        "raw_cpu_flat": all(abs(grew[n]) <= tolerance for n in CPU_COST),
        "memory_flat": all(abs(grew[n]) <= tolerance for n in memory),
        "journal_rows_per_day": round(rows_per_day),
        "journal_bytes_per_day": round(per_day),
        "journal_bytes_per_year": round(per_day * 365),
        "samples": [asdict(s) for s in samples],
    }


def plot(report: dict[str, Any], path: Path) -> None:
    """The report's series against the simulated day, one panel a question, as a PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = report["samples"]
    days = [r["day"] for r in rows]
    fig, axes = plt.subplots(2, 2, figsize=(12, 7), sharex=True)
    state, cost, memory, redis = axes[0][0], axes[0][1], axes[1][0], axes[1][1]
    for name, label in (("res", "reservations"), ("slots", "slot claims"),
                        ("tickets", "tickets"), ("events", "stream entries")):  # fmt: skip
        state.plot(days, [r[name] for r in rows], label=label)
    state.set_title("Live state in Redis (all the soak's clinics)")
    state.set_ylabel("entries")
    for name, label in (("cpu_ms_per_op", "engine, ms/operation"),
                        ("redis_cpu_ms_per_op", "Redis, ms/operation"),
                        ("postgres_cpu_ms_per_op", "PostgreSQL, ms/operation"),
                        ("push_cpu_ms_per_frame", "push, ms/delivered frame")):  # fmt: skip
        if any(r.get(name) for r in rows):
            line = cost.plot(days, [r[name] for r in rows], alpha=0.35, linewidth=1)[0]
            speeds = [r.get("core_us_per_unit", 0.0) for r in rows]
            if all(speeds):  # the same series at the run's mean core speed: the one judged
                mean = sum(speeds) / len(speeds)
                at_speed = [r[name] * mean / v for r, v in zip(rows, speeds, strict=True)]
                cost.plot(days, at_speed, color=line.get_color(), label=label)
    cost.set_title("CPU per unit of work (faint: raw; solid: at the run's mean core speed)")
    cost.set_ylabel("CPU ms")
    cost.set_ylim(bottom=0)
    memory.plot(days, [r["rss_bytes"] / 1e6 for r in rows], label="engine (and harness)")
    for i in range(len(rows[0]["push_rss_bytes"])):
        memory.plot(days, [r["push_rss_bytes"][i] / 1e6 for r in rows], label=f"push process {i}")
    memory.set_title("Resident memory of each product process")
    memory.set_ylabel("MB")
    memory.set_ylim(bottom=0)
    redis.plot(days, [r["redis_used_memory"] / 1e6 for r in rows], label="used_memory, MB")
    redis.plot(days, [r["redis_keys"] for r in rows], label="the clinics' keys")
    redis.set_title("Redis")
    redis.set_ylim(bottom=0)
    for ax in (state, cost, memory, redis):
        ax.axvline(WARMUP_DAYS + 0.5, color="grey", linestyle=":", linewidth=1)
        ax.legend(fontsize="small")
    for ax in (memory, redis):
        ax.set_xlabel("simulated day (dotted: the booking window has filled)")
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def main(
    soak: Soak,
    *,
    redis_url: str | None,
    database_url: str | None,
    progress: Callable[[DaySample], None] | None = None,
    ports: Ports | None = None,
    out_dir: Path = REPORTS,
) -> dict[str, Any]:
    """Run the soak on its own embedded stores (unless given; Valkey and the push processes on
    the next of ``ports``), write ``soak-days-YYYYMMDD-HHMMSS.json`` and its PNG under ``out_dir``,
    return the report."""
    stores = None
    if not (redis_url and database_url):
        # Its own Valkey: no other client's CPU in Redis's, no other client's bytes in its output.
        stores = start_stores("soak-days-", ports)
        redis_url, database_url = stores.redis.url, stores.postgres.url
    began = datetime.now()
    load_before = os.getloadavg()
    try:
        samples, missed = asyncio.run(run_days(redis_url, database_url, soak, progress, ports))
    finally:
        if stores is not None:
            stores.redis.stop()
            stores.postgres.stop()
    report: dict[str, Any] = {
        "kind": "soak-days",
        "soak": asdict(soak),
        "began": f"{began:%Y-%m-%d %H:%M}",
    }
    report |= {"wall_hours": round(sum(s.wall_seconds for s in samples) / 3600, 2)}
    report |= {"load_before": load_before, "load_after": os.getloadavg()}
    report |= {"screens_missed": missed[:20], "screens_missed_count": len(missed)}
    report |= verdict(samples)
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / f"soak-days-{began:%Y%m%d-%H%M%S}.json"
    path.write_text(json.dumps(report, indent=2))
    plot(report, path.with_suffix(".png"))
    return report | {"path": str(path), "plot": str(path.with_suffix(".png"))}
