"""The benchmarks run end to end as on a fresh clone: `python -m loadtest bench`, `ws-bench` and
`knee`, each for a few seconds on its own embedded stores, placed with `--ports`, must exit 0 and
write a report holding its figures. No figure's value is asserted (timing on a shared machine is
for docs/PERFORMANCE.md); only that each was measured. `make bench-smoke` runs these alone."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.bench_smoke

ROOT = Path(__file__).resolve().parents[2]
# Below the kernel's ephemeral range (32768-), so no outgoing connection holds these ports; a
# block per pytest process so that two suites on one machine rarely meet (a busy port is skipped).
BASE = 20_000 + (os.getpid() % 40) * 250


def run_benchmark(command: list[str], first_port: int, out: Path) -> tuple[dict[str, Any], str]:
    """Run ``python -m loadtest COMMAND`` as a user would, on ports first_port..+49; return its
    report (the one file in ``out``, named in its last line) and its output."""
    env = {k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "DATABASE_URL")}
    ports = f"{first_port}-{first_port + 49}"
    done = subprocess.run(
        [sys.executable, "-m", "loadtest", *command, "--ports", ports, "--out", str(out)],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=150, stdin=subprocess.DEVNULL,
    )  # fmt: skip
    output = done.stdout + done.stderr
    assert done.returncode == 0, output[-4000:]
    named = re.findall(r"report: (\S+?\.json)\b", output)
    written = sorted(out.glob("*.json"))
    assert len(written) == 1, (written, output[-2000:])
    assert named and Path(named[-1]) == written[0], output[-2000:]
    report = json.loads(written[0].read_text())
    return report, output


def placed(used: list[int], first_port: int) -> bool:
    return bool(used) and all(first_port <= p < first_port + 50 for p in used)


def test_bench_runs_end_to_end(tmp_path: Path) -> None:
    """`bench`: baseline, durable, baseline again by wrk, each answered, and the ratio written."""
    report, output = run_benchmark(
        ["bench", "--seconds", "1", "--warmup", "1", "--connections", "4", "--workers", "1"],
        BASE, tmp_path,
    )  # fmt: skip
    assert [r["name"] for r in report["runs"]] == ["baseline", "durable", "baseline-again"]
    for r in report["runs"]:
        assert r["requests_per_second"] > 0 and r["non_2xx"] == 0 and r["errors"] == 0, r
        assert {"p50_ms", "p90_ms", "p99_ms"} <= r.keys()
    assert report["ratio_durable_to_baseline"] > 0
    assert len(report["config"]["ports"]) == 3 and placed(report["config"]["ports"], BASE)
    assert "durable / baseline throughput" in output


def test_ws_bench_runs_end_to_end(tmp_path: Path) -> None:
    """`ws-bench --gc both`: the bare calibration and both push phases deliver events to every
    screen, in order, and each push phase has its ratio to the bare one."""
    first = BASE + 50
    report, _ = run_benchmark(
        ["ws-bench", "--screens", "60", "--clinics", "3", "--rate", "30", "--processes", "1",
         "--generators", "1", "--seconds", "1", "--warmup", "1", "--gc", "both"],
        first, tmp_path,
    )  # fmt: skip
    phases = report["phases"]
    assert [p["server"] for p in phases] == ["bare", "push", "push-nogc"]
    for p in phases:
        assert p["opened"] == 60 and p["failures"] == [], p
        assert p["frames"].get("event", 0) > 0 and p["violations"] == 0, p
        assert {"p50_ms", "p99_ms", "p999_ms", "max_ms", "server_us_per_message"} <= p.keys()
    assert all(p["ratio_us_per_message_to_bare"] is not None for p in phases[1:])
    assert report["config"]["gc"] == ["policy", "default"]
    # Valkey, the engine, then one bare and two push processes, all in the range.
    assert len(report["config"]["ports"]) == 5 and placed(report["config"]["ports"], first)


def test_knee_runs_end_to_end(tmp_path: Path) -> None:
    """`knee`: the smoke profile's write mix at two rates on one worker, every step recorded."""
    first = BASE + 100
    report, output = run_benchmark(
        ["knee", "--profile", "smoke", "--workers", "1", "--rates", "10,20", "--seconds", "2",
         "--bound", "60000"],
        first, tmp_path,
    )  # fmt: skip
    [knee] = report["knees"]
    assert knee["workers"] == 1 and knee["steps"], knee
    for step in knee["steps"]:
        assert step["achieved_writes_per_second"] > 0 and step["errors"] == 0, step
        assert {"write_p50_ms", "write_p99_ms", "engine_cpu_seconds"} <= step.keys()
    assert "knee_writes_per_second" in knee
    assert len(report["ports"]) == 2 and placed(report["ports"], first)
    assert "1 worker(s): knee" in output
