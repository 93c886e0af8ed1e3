"""``python -m loadtest knee``: the most write operations a second before p99 passes a bound.

One set of embedded stores and one set of clinics (the profile's); for each engine worker count
the engine is restarted on the same stores, then the profile's mix is offered open loop at each
rate in turn (a short run each; reads at the profile's read/write proportion), and the write p99
(from the scheduled start) is recorded. The stepping stops one step after p99 passes the bound.
The knee is the highest offered rate whose write p99 stayed under the bound with no errors.

What it writes: ``loadtest/reports/knee-PROFILE-YYYYMMDD-HHMMSS.json`` (or under ``out_dir``):
every step of every worker count and each count's knee.

The generator runs on the same two cores as the engine and the stores: its CPU time and its late
starts are reported beside every step, since at high rates it competes with what it measures.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import signal
import sys
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import psutil
import uvloop

from loadtest.bench import serve
from loadtest.http import LeanClient
from loadtest.openloop import arrivals, drive
from loadtest.ports import Ports
from loadtest.profiles import Profile
from loadtest.recorder import Recorder, _histogram
from loadtest.run import _admin_token
from loadtest.scenario import Scenario
from loadtest.stores import start_stores

REPORTS = Path(__file__).with_name("reports")
WRITES = ("take_ticket", "call_next", "complete", "reserve", "move")


@dataclass
class Step:
    workers: int
    offered_per_second: float
    achieved_writes_per_second: float = 0.0
    write_p50_ms: float = 0.0
    write_p99_ms: float = 0.0
    write_max_ms: float = 0.0
    read_p99_ms: float = 0.0
    errors: int = 0
    late_start_p99_ms: float = 0.0
    generator_cpu_seconds: float = 0.0
    engine_cpu_seconds: float = 0.0
    stores_cpu_seconds: float = 0.0


@dataclass
class Knee:
    workers: int
    knee_writes_per_second: float | None
    steps: list[Step] = field(default_factory=list)


def _cpu(pids: list[int]) -> float:
    total = 0.0
    for pid in pids:
        try:
            root = psutil.Process(pid)
            for p in [root, *root.children(recursive=True)]:
                t = p.cpu_times()
                total += t.user + t.system
        except psutil.Error:
            pass
    return total


async def _step(
    scenario: Scenario, profile: Profile, rate: float, seed: int, engine: int, stores: list[int]
) -> Step:
    step = Step(0, rate)
    offered = replace(profile, ops_per_second=rate)
    writes = arrivals(offered, seed)
    reads_rate = rate * profile.reads_per_second / profile.ops_per_second
    reads = arrivals(replace(profile, ops_per_second=reads_rate), seed + 1) if reads_rate else []
    recorder = Recorder()
    me = psutil.Process()
    before = (sum(me.cpu_times()[:2]), _cpu([engine]), _cpu(stores))
    await asyncio.gather(
        drive(writes, scenario.pick, recorder, drain_seconds=15),
        drive(reads, scenario.read, recorder, drain_seconds=15),
    )
    after = (sum(me.cpu_times()[:2]), _cpu([engine]), _cpu(stores))
    step.generator_cpu_seconds = round(after[0] - before[0], 2)
    step.engine_cpu_seconds = round(after[1] - before[1], 2)
    step.stores_cpu_seconds = round(after[2] - before[2], 2)
    merged = None
    for op in WRITES:
        h = recorder.by_op.get(op)
        if h is None:
            continue
        if merged is None:
            merged = _histogram()
        merged.add(h)
    if merged is not None and merged.get_total_count():
        step.write_p50_ms = merged.get_value_at_percentile(50) / 1000
        step.write_p99_ms = merged.get_value_at_percentile(99) / 1000
        step.write_max_ms = merged.get_max_value() / 1000
        done = sum(recorder.ok[op] + recorder.refused[op] for op in WRITES)
        step.achieved_writes_per_second = round(done / profile.seconds, 1)
    if "board" in recorder.by_op:
        step.read_p99_ms = recorder.by_op["board"].get_value_at_percentile(99) / 1000
    step.errors = sum(recorder.errors.values())
    step.late_start_p99_ms = recorder.late_starts_ms.get_value_at_percentile(99) / 1000
    return step


def main(
    profile: Profile,
    workers: list[int],
    rates: list[float],
    bound_ms: float = 100.0,
    seed: int = 1,
    *,
    ports: Ports | None = None,
    out_dir: Path = REPORTS,
) -> dict[str, Any]:
    """Every worker count's steps and knee, the engine on the next of ``ports`` each time."""
    # SIGTERM ends the run through the ``finally`` below, which stops every child it started.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    ports = ports or Ports()
    run_stores = start_stores("clinicq-knee-", ports)
    data_dir, redis_server, pg_server = run_stores.data_dir, run_stores.redis, run_stores.postgres
    env = run_stores.env
    stores = [redis_server.process.pid] if redis_server.process else []
    here = str((data_dir / "pg").resolve())
    for p in psutil.process_iter(["cmdline"]):
        if p.info["cmdline"] and any(here in arg for arg in p.info["cmdline"]):
            stores.append(p.pid)  # the postmaster; its backends are its children
    knees: list[Knee] = []
    scenario: Scenario | None = None
    try:
        token = uvloop.run(_admin_token(pg_server.url))
        for count in workers:
            engine, url = serve("clinicq.asgi:app", env, count, ports)
            try:

                async def run(count: int = count, url: str = url, pid: int = engine.pid) -> Knee:
                    nonlocal scenario
                    knee = Knee(count, None)
                    async with LeanClient(url, max_connections=1000, timeout=30) as http:
                        if scenario is None:
                            scenario = Scenario(http, token, profile, seed)
                            began = time.monotonic()
                            await scenario.setup()
                            print(f"knee: {profile.clinics} clinics set up in "
                                  f"{time.monotonic() - began:.0f} s", flush=True)  # fmt: skip
                        scenario.http = http
                        for rate in rates:
                            step = await _step(scenario, profile, rate, seed, pid, stores)
                            step.workers = count
                            knee.steps.append(step)
                            print(_row(step), flush=True)
                            ok = step.write_p99_ms <= bound_ms and not step.errors
                            if ok:
                                knee.knee_writes_per_second = rate
                            else:
                                break
                    return knee

                knees.append(uvloop.run(run()))
            finally:
                engine.stop(timeout=20)
        report = {
            "when": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "machine": {"cores": os.cpu_count()},
            "profile": {k: v for k, v in asdict(profile).items() if k != "mix"},
            "bound_ms": bound_ms,
            "ports": ports.taken,
            "knees": [asdict(k) for k in knees],
        }
        out_dir.mkdir(parents=True, exist_ok=True)
        out = out_dir / f"knee-{profile.name}-{time.strftime('%Y%m%d-%H%M%S')}.json"
        out.write_text(json.dumps(report, indent=2))
        report["path"] = str(out)
        return report
    finally:
        redis_server.stop()
        pg_server.stop()
        shutil.rmtree(data_dir, ignore_errors=True)


HEADER = (
    f"{'workers':>7}{'offered':>9}{'achieved':>9}{'p50 ms':>8}{'p99 ms':>9}{'max ms':>9}"
    f"{'read p99':>9}{'errors':>7}{'late p99':>9}{'gen cpu':>8}{'eng cpu':>8}{'stores':>8}"
)


def _row(s: Step) -> str:
    return (
        f"{s.workers:>7}{s.offered_per_second:>9g}{s.achieved_writes_per_second:>9}"
        f"{s.write_p50_ms:>8.1f}{s.write_p99_ms:>9.1f}{s.write_max_ms:>9.1f}{s.read_p99_ms:>9.1f}"
        f"{s.errors:>7}{s.late_start_p99_ms:>9.1f}{s.generator_cpu_seconds:>8}"
        f"{s.engine_cpu_seconds:>8}{s.stores_cpu_seconds:>8}"
    )
