"""`clinicq run` (what `make run` starts) stops whole on SIGTERM: nothing it started outlives it."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
from pathlib import Path

import psutil
import pytest

from engine.embedded import free_port
from loadtest.processes import wait_until_answers

pytestmark = pytest.mark.integration


def _started_under(data: Path) -> list[psutil.Process]:
    """Processes whose command line names the run's data folder (PostgreSQL; Valkey rewrites
    its own, but it is a child of the run)."""
    found = []
    for p in psutil.process_iter(["cmdline"]):
        try:
            if any(str(data) in part for part in p.info["cmdline"] or ()):
                found.append(p)
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
    return found


def test_sigterm_stops_the_engine_push_and_embedded_servers(tmp_path: Path) -> None:
    """Started on embedded servers, stopped with SIGTERM: the engine, the push process, Valkey
    and PostgreSQL are all gone."""
    data = (tmp_path / "var").resolve()
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "DATABASE_URL")}
    env.update(CLINICQ_DATA_DIR=str(data), CLINICQ_PORT=str(port))
    run = subprocess.Popen(
        [sys.executable, "-m", "clinicq.cli", "run"], env=env, stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    children: list[psutil.Process] = []
    try:
        wait_until_answers(
            f"http://127.0.0.1:{port}/readyz",
            alive=lambda: run.poll() is None,
            what="clinicq run",
            timeout=120,
        )
        children = psutil.Process(run.pid).children(recursive=True)
        servers = _started_under(data)
        assert any("postgres" in " ".join(p.cmdline()) for p in servers)
        run.send_signal(signal.SIGTERM)
        run.wait(timeout=60)
        _, alive = psutil.wait_procs([*children, *servers], timeout=30)
        assert not alive, [" ".join(p.cmdline())[:120] for p in alive]
    finally:
        if run.poll() is None:
            run.kill()
        for p in [*children, *_started_under(data)]:
            with contextlib.suppress(psutil.NoSuchProcess):
                p.kill()
