"""``python -m loadtest ws-bench``: event-to-screen latency and push CPU per delivered message.

The full path is in the loop: an open-loop driver makes queue operations through the engine's
HTTP API (each one Lua script, one event in the clinic's Redis stream, stamped ``at`` by the
engine), the push processes read the streams and broadcast, and screens that joined with a
display token (authenticated by the push server) measure ``now - at`` when the frame arrives.
Clinics are spread over the push processes by index, one port each (what a proxy hashing on the
clinic does). Screens live in several generator processes (``loadtest.screens``).

The calibration runs in the same invocation, against the same screens: a bare ``websockets``
server in as many processes, clinics split between them, making the same number of events a
second from memory and broadcasting them (no Redis, no auth, no boards, no heartbeats, default
GC). Server CPU per delivered message is the process CPU time of the server processes over the
recording window divided by the frames the screens received in it; the ratio of the two is the
figure the issue asks for.

The servers are ``loadtest.push_servers``, the event driver ``loadtest.visits``; this module runs
the phases and writes the report, ``loadtest/reports/ws-bench-YYYYMMDD-HHMMSS.json`` (or under
``out_dir``): one phase per server set and screen count, with ``ratio_us_per_message_to_bare``. Everything listens on and connects to 127.0.0.1; every phase
is bounded in time.
"""

from __future__ import annotations

import asyncio
import gc
import json
import os
import shutil
import signal
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import psutil
import uvloop

from loadtest.bench import serve
from loadtest.http import LeanClient
from loadtest.invariants import screen_violations
from loadtest.openloop import arrivals, drive
from loadtest.ports import Ports
from loadtest.profiles import Profile
from loadtest.push_servers import ServerSet, published, start_bare, start_push
from loadtest.recorder import Recorder
from loadtest.screens import Collected, Fleet, Target
from loadtest.stores import start_stores
from loadtest.visits import Visit, VisitDriver, make_tokens, setup_clinics

REPORTS = Path(__file__).with_name("reports")


@dataclass
class Phase:
    server: str  # "bare", "push" or "push-nogc"
    screens: int
    opened: int = 0
    open_seconds: float = 0.0
    events_per_second: float = 0.0
    frames: dict[str, int] = field(default_factory=dict)
    delivered_per_second: float = 0.0
    p50_ms: float = 0.0
    p99_ms: float = 0.0
    p999_ms: float = 0.0
    max_ms: float = 0.0
    server_cpu_seconds: float = 0.0
    server_us_per_message: float = 0.0
    server_us_per_event: float = 0.0
    generator_cpu_seconds: float = 0.0
    engine_cpu_seconds: float = 0.0
    redis_cpu_seconds: float = 0.0
    driver_cpu_seconds: float = 0.0
    machine_busy_cores: float = 0.0  # every process on the machine, ours and others', in the window
    write_p99_ms: float = 0.0
    dropped_or_closed: dict[str, int] = field(default_factory=dict)
    violations: int = 0
    violation_sample: list[str] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)


def _cpu_tree(pid: int | None) -> float:
    if pid is None:
        return 0.0
    try:
        root = psutil.Process(pid)
        total = 0.0
        for p in [root, *root.children(recursive=True)]:
            t = p.cpu_times()
            total += t.user + t.system
        return total
    except psutil.Error:
        return 0.0


def _self_cpu() -> float:
    t = psutil.Process().cpu_times()
    return t.user + t.system


@dataclass
class Bench:
    clinics: list[str]
    rate: float
    seconds: float
    warmup: float
    generators: int
    redis_url: str
    database_url: str
    engine_pid: int | None
    redis_pid: int | None
    engine_url: str
    admin: str
    display_tokens: dict[str, str]
    visits: dict[str, Visit] = field(default_factory=dict)

    def targets(self, servers: ServerSet, n: int, bare: bool) -> list[Target]:
        out = []
        per = [
            n // len(self.clinics) + (1 if i < n % len(self.clinics) else 0)
            for i in range(len(self.clinics))
        ]
        for i, clinic in enumerate(self.clinics):
            query = "" if bare else f"?token={self.display_tokens[clinic]}"
            for k in range(per[i]):
                out.append(
                    Target(f"{clinic}#{k}", servers.port_for(i), f"/ws/clinics/{clinic}{query}")
                )
        return out

    def phase(self, servers: ServerSet, n: int) -> Phase:
        bare = servers.name == "bare"
        result = Phase(servers.name, n)
        fleet = Fleet(self.generators)
        try:
            began = time.monotonic()
            result.opened, result.failures = fleet.open(self.targets(servers, n, bare))
            result.open_seconds = round(time.monotonic() - began, 1)
            collected, counters, write_p99 = uvloop.run(self._measure(servers, fleet, bare))
            self._fill(result, collected, counters, write_p99)
            if not bare:
                time.sleep(2.0)  # the last events reach every screen
                received = fleet.collect(offsets=True).received
                stream = asyncio.run(published(self.redis_url, self.clinics))
                bad = screen_violations(received, stream)
                result.violations = len(bad)
                result.violation_sample = [f"{v.invariant}: {v.detail}" for v in bad[:5]]
        finally:
            fleet.close()
        gc.collect()
        return result

    async def _measure(
        self, servers: ServerSet, fleet: Fleet, bare: bool
    ) -> tuple[Collected, dict[str, float], float]:
        recorder = Recorder()
        total = self.warmup + self.seconds + 1.0
        driver_task = None
        http = None
        if not bare:
            http = LeanClient(self.engine_url, max_connections=200, timeout=30)
            driver = VisitDriver(http, self.admin, self.clinics, self.visits)
            schedule = arrivals(Profile("ws-bench", total, len(self.clinics), self.rate), seed=3)
            driver_task = asyncio.create_task(
                drive(schedule, driver.pick, recorder, drain_seconds=10)
            )
        try:
            await asyncio.sleep(self.warmup)
            before = self._counters(servers)
            await asyncio.to_thread(fleet.record, True)
            t0 = time.monotonic()
            await asyncio.sleep(self.seconds)
            await asyncio.to_thread(fleet.record, False)
            elapsed = time.monotonic() - t0
            after = self._counters(servers)
            if driver_task is not None:
                await driver_task
        finally:
            if http is not None:
                await http.aclose()
        counters = {k: after[k] - before[k] for k in after}
        counters["elapsed"] = elapsed
        collected = await asyncio.to_thread(fleet.collect, False)
        write_p99 = 0.0
        if recorder.by_op:
            merged = next(iter(recorder.by_op.values()))
            for h in list(recorder.by_op.values())[1:]:
                merged.add(h)
            write_p99 = merged.get_value_at_percentile(99) / 1000
        return collected, counters, write_p99

    def _counters(self, servers: ServerSet) -> dict[str, float]:
        machine = psutil.cpu_times()
        return {
            "machine_busy": sum(machine) - machine.idle - machine.iowait,
            "server": servers.cpu_seconds(),
            "engine": _cpu_tree(self.engine_pid),
            "redis": _cpu_tree(self.redis_pid),
            "driver": _self_cpu(),
        }

    def _fill(self, r: Phase, c: Collected, counters: dict[str, float], write_p99: float) -> None:
        elapsed = counters["elapsed"]
        delivered = sum(c.frames.values())
        events = c.frames.get("event", 0)
        r.frames = dict(c.frames)
        r.delivered_per_second = round(delivered / elapsed)
        if r.opened:
            r.events_per_second = round(events / elapsed / (r.opened / len(self.clinics)), 1)
        h = c.latency
        if h.get_total_count():
            r.p50_ms = h.get_value_at_percentile(50) / 1000
            r.p99_ms = h.get_value_at_percentile(99) / 1000
            r.p999_ms = h.get_value_at_percentile(99.9) / 1000
            r.max_ms = h.get_max_value() / 1000
        r.server_cpu_seconds = round(counters["server"], 2)
        r.server_us_per_message = round(counters["server"] * 1e6 / delivered, 2) if delivered else 0
        r.server_us_per_event = round(counters["server"] * 1e6 / events, 2) if events else 0
        r.generator_cpu_seconds = round(c.generator_cpu_seconds, 2)
        r.engine_cpu_seconds = round(counters["engine"], 2)
        r.redis_cpu_seconds = round(counters["redis"], 2)
        r.driver_cpu_seconds = round(counters["driver"], 2)
        r.write_p99_ms = write_p99
        r.machine_busy_cores = round(counters["machine_busy"] / elapsed, 2)
        r.dropped_or_closed = {str(k): v for k, v in c.closed.items()}


def main(
    screens: list[int],
    *,
    rate: float = 200.0,
    clinics: int = 50,
    processes: int = 2,
    generators: int = 4,
    seconds: float = 20.0,
    warmup: float = 5.0,
    workers: int = 1,
    gc_variants: tuple[bool, ...] = (True,),
    ports: Ports | None = None,
    out_dir: Path = REPORTS,
) -> dict[str, Any]:
    """Every phase (bare, then each of ``gc_variants``: True the GC policy, False CPython's
    collector) at each screen count; every server on the next of ``ports``; the report."""
    # SIGTERM ends the run through the ``finally`` below, which stops every child it started.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    ports = ports or Ports()
    run_stores = start_stores("clinicq-wsbench-", ports)
    data_dir, redis_server, pg_server = run_stores.data_dir, run_stores.redis, run_stores.postgres
    env = run_stores.env
    run_id = f"wsb{os.getpid() % 10000}"
    names = [f"{run_id}-{i}" for i in range(clinics)]
    engine = None
    sets: list[ServerSet] = []
    try:
        engine, url = serve("clinicq.asgi:app", env, workers, ports)
        admin, _ = asyncio.run(make_tokens(pg_server.url, []))

        async def prepare() -> None:
            async with LeanClient(url, timeout=60) as http:
                await setup_clinics(http, admin, names)

        asyncio.run(prepare())
        # Tokens name existing clinics only, so the screens' tokens come after the clinics.
        _, tokens = asyncio.run(make_tokens(pg_server.url, names))
        bench = Bench(
            names, rate, seconds, warmup, generators, redis_server.url, pg_server.url,
            engine.pid, redis_server.process.pid if redis_server.process else None, url, admin,
            {c: tokens[c, "display"][0] for c in names},
        )  # fmt: skip
        bare = start_bare(processes, names, rate, ports)
        sets.append(bare)
        pushes = []
        for policy in gc_variants:
            name = "push" if policy else "push-nogc"
            pushes.append(
                start_push(processes, redis_server.url, pg_server.url, policy, name, ports)
            )
            sets.append(pushes[-1])
        phases: list[Phase] = []
        for n in screens:
            for servers in [bare, *pushes]:
                print(f"ws-bench: {servers.name} with {n} screens ...", flush=True)
                phase = bench.phase(servers, n)
                phases.append(phase)
                print(_row(phase, _calibration(phases, n)), flush=True)
        report = {
            "when": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "machine": {"cores": os.cpu_count()},
            "config": {
                "rate": rate,
                "clinics": clinics,
                "processes": processes,
                "generators": generators,
                "seconds": seconds,
                "warmup": warmup,
                "engine_workers": workers,
                "gc": ["policy" if v else "default" for v in gc_variants],
                "ports": ports.taken,
            },
            "phases": [
                {
                    **asdict(p),
                    "ratio_us_per_message_to_bare": _ratio(p, _calibration(phases, p.screens)),
                }
                for p in phases
            ],
        }
        out_dir.mkdir(parents=True, exist_ok=True)
        out = out_dir / f"ws-bench-{time.strftime('%Y%m%d-%H%M%S')}.json"
        out.write_text(json.dumps(report, indent=2))
        report["path"] = str(out)
        return report
    finally:
        for s in sets:
            s.stop()
        if engine is not None:
            engine.stop(timeout=20)
        redis_server.stop()
        pg_server.stop()
        shutil.rmtree(data_dir, ignore_errors=True)


def _calibration(phases: list[Phase], n: int) -> Phase | None:
    return next((p for p in phases if p.server == "bare" and p.screens == n), None)


def _ratio(p: Phase, base: Phase | None) -> float | None:
    if base is None or not base.server_us_per_message:
        return None
    return round(p.server_us_per_message / base.server_us_per_message, 2)


HEADER = (
    f"{'server':<10}{'screens':>8}{'open':>7}{'ev/s':>9}{'deliv/s':>9}{'p50 ms':>8}"
    f"{'p99 ms':>8}{'max ms':>8}{'us/msg':>8}{'us/ev':>8}{'x bare':>7}{'viol':>6}{'busy':>6}"
)


def _row(p: Phase, base: Phase | None) -> str:
    ratio = _ratio(p, base)
    return (
        f"{p.server:<10}{p.screens:>8}{p.opened:>7}{p.events_per_second:>9}{p.delivered_per_second:>9}"
        f"{p.p50_ms:>8.1f}{p.p99_ms:>8.1f}{p.max_ms:>8.1f}{p.server_us_per_message:>8.1f}"
        f"{p.server_us_per_event:>8.1f}{ratio if ratio is not None else '-':>7}{p.violations:>6}{p.machine_busy_cores:>6}"
    )
