"""Helpers for the tests that talk to a real engine over HTTP."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import asyncpg
import httpx
import psutil

from engine.auth import ROLES, create_token
from engine.embedded import free_port
from engine.redis_client import connect
from engine.settings import Settings

# What the environment says about the servers under test (REDIS_URL, DATABASE_URL, a cluster).
ENVIRONMENT = Settings.from_env()
CLUSTER = ENVIRONMENT.redis_cluster


def redis_client(url: str) -> Any:
    """A client for the suite's Redis, a cluster one when the suite runs on a cluster."""
    return connect(url, cluster=CLUSTER)


TEST_KEY = "5" * 64  # a fixed AES key for the engine under test: phone numbers at rest


@dataclass
class EngineServer:
    """``clinicq serve`` as a child process: N uvicorn workers over the test's Redis and Postgres."""

    redis_url: str
    database_url: str
    workers: int = 2
    extra_env: dict[str, str] = field(default_factory=dict)
    port: int = 0
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 60.0) -> EngineServer:
        self.port = self.port or free_port()
        env = {
            **os.environ,
            "REDIS_URL": self.redis_url,
            "DATABASE_URL": self.database_url,
            "CLINICQ_PORT": str(self.port),
            "CLINICQ_WORKERS": str(self.workers),
            "CLINICQ_RATE_LIMIT": "100000",
            "CLINICQ_RATE_BURST": "100000",
            # The authorization tests send many bad tokens from 127.0.0.1 on purpose.
            "CLINICQ_AUTH_FAILURES_BURST": "100000",
            "CLINICQ_ENCRYPTION_KEY": TEST_KEY,
            **self.extra_env,
        }
        self.process = subprocess.Popen(
            [sys.executable, "-m", "clinicq.cli", "serve"], env=env, stdin=subprocess.DEVNULL
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError("the engine exited during start-up")
            try:
                if httpx.get(self.url + "/readyz", timeout=1).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise RuntimeError("the engine did not become ready")

    def kill(self) -> None:
        """SIGKILL the whole process group of workers: a crash, not a shutdown."""
        if self.process and self.process.poll() is None:
            for pid in [*_children(self.process.pid), self.process.pid]:
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.kill()


def _children(pid: int) -> list[int]:
    return [p.pid for p in psutil.Process(pid).children(recursive=True)]


def clinic_config(
    clinic_id: str,
    *,
    doctors: int = 3,
    timezone: str = "Europe/Moscow",
    kiosks: list[dict[str, str]] | None = None,
) -> dict[str, object]:
    """A clinic for one test: therapy (Т) and surgery (Х), ``doctors`` therapists in own cabinets,
    and ``kiosks`` (``{"id": ..., "printer": URL}``) when given."""
    schedule = {
        "weekdays": [1, 2, 3, 4, 5, 6, 7],
        "start": "00:00",
        "end": "23:45",
        "slot_minutes": 15,
    }
    return {
        "id": clinic_id,
        "name": f"Поликлиника {clinic_id}",
        "timezone": timezone,
        "locale": "ru",
        "services": [
            {"id": "therapy", "prefix": "Т", "name": "Терапевт"},
            {"id": "surgery", "prefix": "Х", "name": "Хирург"},
        ],
        "cabinets": [{"id": f"c{i}", "name": f"Кабинет {i}"} for i in range(doctors)],
        "doctors": [
            {
                "id": f"d{i}",
                "name": f"Доктор {i}",
                "services": ["therapy"],
                "cabinet": f"c{i}",
                **({"schedule": schedule} if i == 0 else {}),
            }
            for i in range(doctors)
        ],
        **({"kiosks": kiosks} if kiosks is not None else {}),
    }


@dataclass
class ClinicClient:
    """An HTTP client bound to one test clinic, with a token per role."""

    http: httpx.AsyncClient
    clinic: str
    tokens: dict[str, str]

    def auth(self, role: str, key: str | None = None) -> dict[str, str]:
        headers = {"Authorization": f"Bearer {self.tokens[role]}"}
        if key:
            headers["Idempotency-Key"] = key
        return headers

    @property
    def api(self) -> str:
        return f"/api/v1/clinics/{self.clinic}"


async def make_clinic(
    server: EngineServer, db: asyncpg.Pool, admin: str, clinic_id: str, **config: object
) -> ClinicClient:
    http = httpx.AsyncClient(
        base_url=server.url, timeout=60, limits=httpx.Limits(max_connections=200)
    )
    response = await http.put(
        f"/api/v1/clinics/{clinic_id}",
        json=clinic_config(clinic_id, **config),  # type: ignore[arg-type]
        headers={"Authorization": f"Bearer {admin}"},
    )
    assert response.status_code == 200, response.text
    tokens = {"admin": admin}
    for role in ROLES:
        if role == "admin":
            continue
        doctor = "d0" if role == "doctor" else None
        clinic = None if role == "partner" else clinic_id
        tokens[role] = (await create_token(db, role, clinic=clinic, doctor=doctor))[1]
    tokens["doctor_d1"] = (await create_token(db, "doctor", clinic=clinic_id, doctor="d1"))[1]
    if await db.fetchval("SELECT 1 FROM clinics WHERE id = 'elsewhere'") is None:
        other = await http.put(
            "/api/v1/clinics/elsewhere",
            json=clinic_config("elsewhere"),  # type: ignore[arg-type]
            headers={"Authorization": f"Bearer {admin}"},
        )
        assert other.status_code == 200, other.text
    tokens["other_clinic_head"] = (await create_token(db, "head", clinic="elsewhere"))[1]
    return ClinicClient(http, clinic_id, tokens)


MakeClinic = Callable[..., Awaitable[ClinicClient]]


def status_link(answer: dict[str, Any]) -> str:
    """The patient's status link in a take-ticket answer (``/t/{clinic}/{link}``)."""
    url: str = answer["status_url"]
    return url.rsplit("/", 1)[1]


class Clock:
    """An injected clock for the engine: set it to a local wall time in a zone."""

    def __init__(self) -> None:
        self.now = 0

    def set(self, local: str, zone: str = "Europe/Moscow") -> None:
        moment = datetime.fromisoformat(local).replace(tzinfo=ZoneInfo(zone))
        self.now = int(moment.timestamp() * 1000)

    def advance(self, minutes: float) -> None:
        self.now += int(minutes * 60_000)

    def __call__(self) -> int:
        return self.now
