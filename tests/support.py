"""Helpers for the tests that talk to a real engine over HTTP."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

import asyncpg
import httpx

from engine import commands as cmd
from engine.auth import ROLES, create_token
from engine.embedded import free_port
from engine.model.booking import slots_for
from engine.redis_client import connect
from engine.settings import Settings
from loadtest.processes import ChildServer
from loadtest.scenario import synthetic_clinic

if TYPE_CHECKING:
    from engine.model.entities import Reservation
    from engine.service import Engine

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
    child: ChildServer | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def process(self) -> subprocess.Popen[bytes] | None:
        return self.child.process if self.child else None

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
        self.child = ChildServer(
            [sys.executable, "-m", "clinicq.cli", "serve"], self.url + "/readyz", env, "the engine"
        )
        self.child.start(timeout)
        return self

    def kill(self) -> None:
        """SIGKILL the whole process group of workers: a crash, not a shutdown."""
        if self.child:
            self.child.kill()

    def stop(self) -> None:
        if self.child:
            self.child.stop()


def clinic_config(
    clinic_id: str,
    *,
    doctors: int = 3,
    timezone: str = "Europe/Moscow",
    kiosks: list[dict[str, str]] | None = None,
) -> dict[str, object]:
    """A clinic for one test: therapy (Т) and surgery (Х), ``doctors`` therapists in own cabinets
    (only d0 bookable, in 15-minute slots), and ``kiosks`` (``{"id": ..., "printer": URL}``)."""
    return synthetic_clinic(
        clinic_id,
        doctors,
        timezone=timezone,
        slot_minutes=15,
        surgeons=False,
        scheduled=1,
        kiosks=kiosks,
    )


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
    tokens["other_clinic_registrar"] = (await create_token(db, "registrar", clinic="elsewhere"))[1]
    return ClinicClient(http, clinic_id, tokens)


MakeClinic = Callable[..., Awaitable[ClinicClient]]


# One zone every few hours around the globe: at any moment one of them is in the working day.
ZONES = ("Pacific/Auckland", "Asia/Tokyo", "Asia/Kolkata", "Europe/Moscow", "Europe/London",
         "America/Sao_Paulo", "America/New_York", "America/Denver", "Pacific/Honolulu")  # fmt: skip


def midday_zone() -> str:
    """A time zone where it is now between 09:00 and 15:00: a test clinic there has today's
    slots ahead of it, and no local midnight falls in the test (check-in is for today only)."""
    return next(z for z in ZONES if 9 <= datetime.now(ZoneInfo(z)).hour < 15)


def tomorrow(zone: str = "Europe/Moscow") -> str:
    """Tomorrow's date in the test clinics' zone: a day whose slots are all still ahead (late
    in the evening today's are nearly gone)."""
    return (datetime.now(ZoneInfo(zone)).date() + timedelta(days=1)).isoformat()


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


async def book_later_today(
    cc: ClinicClient, patient: str, ahead: float = 30
) -> tuple[str, dict[str, Any]]:
    """A registrar's confirmed booking of today's first free slot at least ``ahead`` minutes
    away (run the clinic in ``midday_zone()`` so there is one): (reservation id, slot)."""
    listed = await cc.http.get(f"{cc.api}/slots?free=true", headers=cc.auth("head"))
    assert listed.status_code == 200, listed.text
    soon = time.time() + ahead * 60
    slot: dict[str, Any] = next(
        s for s in listed.json()["slots"] if datetime.fromisoformat(s["start"]).timestamp() > soon
    )
    made = await cc.http.post(
        f"{cc.api}/slots/{slot['id']}/reservation",
        json={"patient": patient, "confirm": True},
        headers=cc.auth("registrar"),
    )
    assert made.status_code == 201, made.text
    return str(made.json()["id"]), slot


# A Monday well before the real today: past_bookings books for its Tuesday.
PAST_DAY = date(2026, 11, 2)


async def past_bookings(
    e: Engine, clock: Clock, clinic_id: str, owners: tuple[str, str]
) -> dict[str, Reservation]:
    """On Monday, bookings for Tuesday: one moved, one cancelled, one checked in on Tuesday, a
    hold that lapsed and lost its slot; then Friday opens. Return the live state's reservations
    as they stood on Tuesday evening, by name."""
    clinic = await e.clinic(clinic_id)
    first, second = owners
    clock.set(f"{PAST_DAY}T08:30:00")
    slots = slots_for(clinic, PAST_DAY + timedelta(days=1))

    async def reserve(i: int, owner: str = "", confirm: bool = True) -> str:
        made = await e.execute(
            clinic_id, cmd.Reserve(slots[i], f"полис 77{i}", "partner", owner, confirm)
        )
        return str(made["reservation"].id)

    moved = await reserve(0, first, confirm=False)
    await e.execute(clinic_id, cmd.Confirm(moved, first))
    await e.execute(clinic_id, cmd.Move(moved, slots[1], first))
    cancelled = await reserve(2, second)
    await e.execute(clinic_id, cmd.Cancel(reservation=cancelled, owner=second))
    arrived = await reserve(3)
    lapsed = await reserve(4, confirm=False)
    clock.advance(30)  # the hold runs out; another patient takes the slot
    taker = await reserve(4)
    clock.set(f"{PAST_DAY + timedelta(days=1)}T08:05:00")
    await e.execute(clinic_id, cmd.CheckIn(arrived, "link" + uuid.uuid4().hex))
    live = (await e.store.snapshot(clinic_id))[0].reservations
    clock.set(f"{PAST_DAY + timedelta(days=4)}T08:00:00")
    await e.execute(clinic_id, cmd.Issue("therapy"))  # Friday opens: Tuesday's bookings go
    names = {"moved": moved, "cancelled": cancelled, "arrived": arrived, "lapsed": lapsed}
    names["taker"] = taker
    for rid in names.values():
        assert await e.store.reservation(clinic_id, rid) is None
    return {name: live[rid] for name, rid in names.items()}


def free_port_run(count: int, host: str = "127.0.0.1") -> int:
    """The first of ``count`` consecutive ports free now (a process's metrics ports)."""
    import socket

    for _ in range(50):
        first = free_port(host)
        if first + count > 65535:
            continue
        held = []
        try:
            for port in range(first, first + count):
                sock = socket.socket()
                held.append(sock)
                sock.bind((host, port))
        except OSError:
            continue
        finally:
            for sock in held:
                sock.close()
        return first
    raise RuntimeError(f"no {count} consecutive free ports")


Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def parse_metrics(text: str) -> Samples:
    """Prometheus' text format as {(sample name, labels): value}."""
    from prometheus_client.parser import text_string_to_metric_families

    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def sample(samples: Samples, name: str, **labels: str) -> float:
    """One sample's value, 0 when absent (a counter not yet counted)."""
    return samples.get((name, frozenset(labels.items())), 0.0)


async def scrape(url: str, headers: dict[str, str] | None = None) -> Samples:
    async with httpx.AsyncClient(timeout=10) as http:
        answer = await http.get(url, headers=headers)
    assert answer.status_code == 200, answer.text
    return parse_metrics(answer.text)
