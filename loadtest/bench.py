"""``make bench``: durable take-ticket throughput and latency against a bare baseline.

What it writes: ``loadtest/reports/bench-YYYYMMDD-HHMMSS.json`` (or under ``out_dir``): the three
wrk runs (baseline, durable, baseline again) and ``ratio_durable_to_baseline``.

Both servers run on the same machine with the same number of uvicorn workers and are driven by
the same load generator (wrk, closed loop, keep-alive) in the same run, so the ratio between them
is the figure; absolute numbers depend on the machine. Traffic goes to 127.0.0.1 only, and every
run is bounded in time.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import asyncpg

from engine.auth import create_token
from engine.embedded import EmbeddedPostgres, EmbeddedRedis
from engine.journal_postgres import apply_schema
from loadtest.ports import Ports
from loadtest.processes import ChildServer

REPORTS = Path(__file__).with_name("reports")


@dataclass
class Run:
    name: str
    requests_per_second: float
    p50_ms: float
    p90_ms: float
    p99_ms: float
    non_2xx: int
    errors: int


def wrk(
    url: str, token: str, seconds: int, connections: int, threads: int = 2
) -> tuple[float, dict[str, float], int, int]:
    threads = min(threads, connections)  # wrk refuses fewer connections than threads
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write(
            'wrk.method = "POST"\n'
            'wrk.body = \'{"service":"therapy"}\'\n'
            'wrk.headers["Content-Type"] = "application/json"\n'
            f'wrk.headers["Authorization"] = "Bearer {token}"\n'
        )
    out = subprocess.run(
        ["wrk", f"-t{threads}", f"-c{connections}", f"-d{seconds}s", "--latency", "-s", script.name, url],
        capture_output=True, text=True, timeout=seconds + 60, check=True,
    ).stdout  # fmt: skip
    os.unlink(script.name)
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    percentiles = {}
    for p, value, unit in re.findall(r"^\s+(50|75|90|99)%\s+([\d.]+)(us|ms|s)\s*$", out, re.M):
        percentiles[p] = float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]
    non_2xx = int(m.group(1)) if (m := re.search(r"Non-2xx or 3xx responses: (\d+)", out)) else 0
    errors = sum(int(x) for x in re.findall(r"(?:connect|read|write|timeout) (\d+)", out))
    return rps, percentiles, non_2xx, errors


def serve(
    app: str, env: dict[str, str], workers: int, ports: Ports | None = None
) -> tuple[ChildServer, str]:
    """``app`` under uvicorn with ``workers`` workers on the next of ``ports`` (any free port
    without them), once it answers HTTP (any status: the baseline app has no /healthz); the
    caller stops it."""
    port = (ports or Ports()).take()
    base = f"http://127.0.0.1:{port}"
    server = ChildServer(
        [sys.executable, "-m", "uvicorn", "--factory", app, "--port", str(port), "--workers", str(workers),
         "--log-level", "warning", "--loop", "uvloop", "--http", "httptools", "--no-access-log"],
        base + "/healthz", env, what=app, ready_status=None,
    )  # fmt: skip
    return server.start(timeout=60), base


async def make_token(database_url: str) -> str:
    pool = await asyncpg.create_pool(database_url, min_size=1, max_size=2)
    try:
        await apply_schema(pool)
        return (await create_token(pool, "kiosk", clinic="demo", label="bench"))[1]
    finally:
        await pool.close()


def main(
    seconds: int = 15,
    connections: int = 64,
    workers: int = 2,
    *,
    warmup: int = 3,
    ports: Ports | None = None,
    out_dir: Path = REPORTS,
) -> int:
    """Start the stores (unless REDIS_URL / DATABASE_URL name some), both servers on ``ports``,
    run wrk against each, print the table and write the report; 1 if any request failed."""
    ports = ports or Ports()
    if shutil.which("wrk") is None:
        print("bench: wrk is not installed (Debian: apt-get install wrk)", file=sys.stderr)
        return 2
    data = Path(tempfile.mkdtemp(prefix="clinicq-bench-"))
    redis_server = pg_server = None
    env = dict(os.environ)
    if not env.get("REDIS_URL"):
        redis_server = EmbeddedRedis(data / "redis", port=ports.take()).start()
        env["REDIS_URL"] = redis_server.url
    if not env.get("DATABASE_URL"):
        pg_server = EmbeddedPostgres(data / "pg").start()
        env["DATABASE_URL"] = pg_server.url
    env.update(CLINICQ_RATE_LIMIT="1000000", CLINICQ_RATE_BURST="1000000")
    processes = []
    try:
        baseline, base_url = serve("loadtest.baseline:app", env, workers, ports)
        processes.append(baseline)
        engine, engine_url = serve("clinicq.asgi:app", env, workers, ports)
        processes.append(engine)
        # After the engine has seeded the demo clinic: a token names an existing clinic.
        token = asyncio.run(make_token(env["DATABASE_URL"]))
        path = "/api/v1/clinics/demo/tickets"
        runs = []
        # Baseline, durable, baseline again: drift on a shared machine shows as two baselines apart.
        for name, url in [
            ("baseline", base_url),
            ("durable", engine_url),
            ("baseline-again", base_url),
        ]:
            if warmup:
                wrk(url + path, token, warmup, connections)
            rps, pct, non_2xx, errors = wrk(url + path, token, seconds, connections)
            runs.append(
                Run(
                    name, rps, pct.get("50", 0), pct.get("90", 0), pct.get("99", 0), non_2xx, errors
                )
            )
        base_rps = (runs[0].requests_per_second + runs[2].requests_per_second) / 2
        report = {
            "when": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "machine": {"cores": os.cpu_count()},
            "config": {
                "seconds": seconds,
                "warmup": warmup,
                "connections": connections,
                "workers": workers,
                "ports": ports.taken,
            },
            "runs": [asdict(r) for r in runs],
            "ratio_durable_to_baseline": round(runs[1].requests_per_second / base_rps, 3),
        }
        out_dir.mkdir(parents=True, exist_ok=True)
        out = out_dir / f"bench-{time.strftime('%Y%m%d-%H%M%S')}.json"
        out.write_text(json.dumps(report, indent=2))
        print(f"{'run':<16}{'req/s':>10}{'p50 ms':>9}{'p90 ms':>9}{'p99 ms':>9}{'non-2xx':>9}")
        for r in runs:
            print(
                f"{r.name:<16}{r.requests_per_second:>10.0f}{r.p50_ms:>9.2f}{r.p90_ms:>9.2f}{r.p99_ms:>9.2f}{r.non_2xx:>9}"
            )
        print(
            f"durable / baseline throughput: {report['ratio_durable_to_baseline']}  (report: {out})"
        )
        return 0 if all(r.non_2xx == 0 and r.errors == 0 for r in runs) else 1
    finally:
        for p in processes:
            p.stop(timeout=20)
        if redis_server:
            redis_server.stop()
        if pg_server:
            pg_server.stop()
        shutil.rmtree(data, ignore_errors=True)
