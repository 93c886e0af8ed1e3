"""The full path's event driver: clinics whose visits make one event per request.

Each clinic has one doctor whose visits go round (take a ticket, call next, start, complete)
through the engine's HTTP API; ``make_tokens`` makes the tokens the screens join with.
"""

from __future__ import annotations

import asyncio
import itertools
import random
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import asyncpg

from engine.auth import create_token
from engine.journal_postgres import apply_schema
from loadtest.http import LeanClient
from loadtest.scenario import synthetic_clinic


@dataclass
class Visit:
    step: int = 0
    ticket: str | None = None
    busy: bool = False
    lost: bool = False  # a call-next found a patient in hand that we do not know


class VisitDriver:
    """Each clinic's visits in turn: take a ticket, call next, start, complete: one event each.

    Short queues keep the boards small, as on a real screen. An operation that finds nothing to
    act on (a call-next racing its take) takes a ticket instead, so each request makes one event.
    """

    def __init__(
        self,
        http: LeanClient,
        token: str,
        clinics: list[str],
        visits: dict[str, Visit] | None = None,
    ) -> None:
        self.http = http
        self.headers = {"Authorization": f"Bearer {token}"}
        self.clinics = clinics
        # Kept across phases (each phase has its own event loop and client): visits go on.
        self.visits = visits if visits is not None else {}
        for clinic in clinics:
            self.visits.setdefault(clinic, Visit())
        self.rng = random.Random(7)
        self.keys: Iterator[int] = itertools.count()
        self.run = uuid.uuid4().hex[:8]  # idempotency keys must not repeat across phases

    def pick(self) -> tuple[str, Any]:
        # One operation at a time per clinic, so that each visit's steps stay in order.
        for _ in range(20):
            clinic = self.rng.choice(self.clinics)
            if not self.visits[clinic].busy:
                break
        visit = self.visits[clinic]
        base = f"/api/v1/clinics/{clinic}"
        if visit.lost:
            return "board", self._find(visit, base)
        step, visit.step = visit.step, (visit.step + 1) % 4
        if step == 1:
            return "call_next", self._op(visit, f"{base}/cabinets/c0/call-next", None, called=True)
        if step in (2, 3) and visit.ticket:
            ticket = visit.ticket
            if step == 3:
                visit.ticket = None
            action = "start" if step == 2 else "complete"
            return action, self._op(visit, f"{base}/tickets/{ticket}/{action}", None)
        visit.step = 1
        return "take_ticket", self._op(visit, f"{base}/tickets", {"service": "therapy"})

    def _op(self, visit: Visit, path: str, body: object, called: bool = False) -> Any:
        headers = {**self.headers, "Idempotency-Key": f"wsb-{self.run}-{next(self.keys)}"}
        visit.busy = True

        async def op() -> str:
            try:
                r = await self.http.post(path, json=body, headers=headers)
            finally:
                visit.busy = False
            if called and r.status_code == 200 and r.json().get("ticket"):
                visit.ticket = r.json()["ticket"]["id"]
            elif called and r.status_code == 409:
                visit.lost = True
            return "ok" if r.status_code < 400 else "refused" if r.status_code < 500 else "error"

        return op

    def _find(self, visit: Visit, base: str) -> Any:
        """Find the patient in hand on the board; the visit goes on from its state."""
        visit.busy = True

        async def op() -> str:
            try:
                r = await self.http.get(f"{base}/board", headers=self.headers)
            finally:
                visit.busy = False
            if r.status_code != 200:
                return "error"
            doctor = next(d for d in r.json()["doctors"] if d["id"] == "d0")
            visit.lost = False
            visit.ticket = doctor.get("current_ticket")
            state = doctor.get("current_state")
            visit.step = 2 if state == "called" else 3 if visit.ticket else 0
            return "ok"

        return op


async def setup_clinics(http: LeanClient, token: str, clinics: list[str], doctors: int = 1) -> None:
    headers = {"Authorization": f"Bearer {token}"}
    gate = asyncio.Semaphore(16)

    async def one(clinic: str) -> None:
        async with gate:
            r = await http.put(
                f"/api/v1/clinics/{clinic}", json=synthetic_clinic(clinic, doctors), headers=headers
            )
            r.raise_for_status()
            for i in range(doctors):
                r = await http.put(
                    f"/api/v1/clinics/{clinic}/doctors/d{i}/duty",
                    json={"status": "on_duty"},
                    headers=headers,
                )
                r.raise_for_status()

    await asyncio.gather(*(one(c) for c in clinics))


async def make_tokens(
    database_url: str, clinics: list[str], roles: tuple[str, ...] = ("display",), doctors: int = 1
) -> tuple[str, dict[tuple[str, str], list[str]]]:
    """An admin token, and per (clinic, role) the tokens screens join with (one per doctor)."""
    pool = await asyncpg.create_pool(database_url, min_size=1, max_size=4)
    try:
        await apply_schema(pool)
        admin = (await create_token(pool, "admin", label="ws-bench"))[1]
        out: dict[tuple[str, str], list[str]] = {}
        for clinic in clinics:
            for role in roles:
                if role == "doctor":
                    out[clinic, role] = [
                        (await create_token(pool, role, clinic=clinic, doctor=f"d{i}"))[1]
                        for i in range(doctors)
                    ]
                else:
                    out[clinic, role] = [(await create_token(pool, role, clinic=clinic))[1]]
        return admin, out
    finally:
        await pool.close()
