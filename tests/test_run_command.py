"""`clinicq run` (what `make run` starts) prints links that work and a demo command that runs,
and stops whole on SIGTERM: nothing it started outlives it."""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import httpx
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


def test_run_prints_working_links_keeps_its_push_server_and_stops_whole(tmp_path: Path) -> None:
    """Started on embedded servers, it prints a working link per page (the city overview with an
    admin token) and the demo command as it can be typed; a push server that dies is started
    again, and said so; stopped with SIGTERM, the engine, the push process, Valkey and
    PostgreSQL are all gone."""
    data = (tmp_path / "var").resolve()
    port = free_port()
    # As on a root shell or in a container: no XDG_RUNTIME_DIR (pgserver's import warned then).
    unset = ("REDIS_URL", "DATABASE_URL", "XDG_RUNTIME_DIR")
    env = {k: v for k, v in os.environ.items() if k not in unset}
    env.update(CLINICQ_DATA_DIR=str(data), CLINICQ_PORT=str(port))
    clinicq = Path(sys.executable).with_name("clinicq")  # as `make run` starts it
    printed, complained = tmp_path / "run.out", tmp_path / "run.err"
    with printed.open("wb") as out, complained.open("wb") as err:
        run = subprocess.Popen(
            [str(clinicq), "run"], env=env, stdin=subprocess.DEVNULL, stdout=out, stderr=err,
            cwd=tmp_path,
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
        _check_printed(printed.read_text(), tmp_path)
        assert "Warning" not in complained.read_text(), complained.read_text()

        (pusher,) = [p for p in children if "push" in p.cmdline()]
        pusher.kill()
        pusher.wait(timeout=30)
        push_page = f"http://127.0.0.1:{port + 1}/healthz"
        wait_until_answers(push_page, alive=lambda: run.poll() is None, what="push", timeout=60)
        assert "the push server exited" in complained.read_text()
        children = psutil.Process(run.pid).children(recursive=True)
        assert pusher.pid not in {p.pid for p in children}

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


def _check_printed(text: str, cwd: Path) -> None:
    links = dict(re.findall(r"^  ([A-Za-z' -]+): +(http\S+)$", text, re.MULTILINE))
    assert {
        "kiosk",
        "waiting-room screen",
        "doctor panel",
        "department head",
        "ICU doctor's desk",
        "information desk",
        "city overview",
    } <= set(links), text
    for what, link in links.items():
        answer = httpx.get(link, timeout=30)
        assert answer.status_code == 200, (what, answer.text[:200])
        assert "text/html" in answer.headers["content-type"] or what == "API docs", what
    assert "admin=cq_" in text
    # The desk's token reads the demo's ICU patients.
    desk = httpx.URL(links["ICU doctor's desk"])
    patients = httpx.get(desk.join("/api/v1/icu/patients"), timeout=30,
                         headers={"Authorization": f"Bearer {desk.params['token']}"})  # fmt: skip
    assert patients.status_code == 200, patients.text
    assert len(patients.json()["patients"]) == 2
    demo = re.search(
        r"^  a simulated hour: +(\S+) demo --url (\S+) --token (\S+)$", text, re.MULTILINE
    )
    assert demo, text
    # The command works as printed, from where `make run` was started (no PATH needed).
    assert (cwd / demo.group(1)).is_file() or Path(demo.group(1)).is_file(), demo.group(1)
