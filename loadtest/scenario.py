"""What the load does to the engine: synthetic clinics, and the operations of a clinic's day.

Every operation goes through the public HTTP API with an admin token (the same auth path as any
role). What clients were told goes to a ``Ledger`` for the invariant checks.
"""

from __future__ import annotations

import itertools
import random
import uuid
from collections import deque
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from loadtest.http import LeanClient, Response
from loadtest.invariants import Acknowledged, Ledger
from loadtest.openloop import Operation
from loadtest.profiles import Profile

ZONE = "Europe/Moscow"


def synthetic_clinic(
    clinic_id: str,
    doctors: int,
    *,
    timezone: str = ZONE,
    slot_minutes: int = 10,
    surgeons: bool = True,
    scheduled: int | None = None,
    kiosks: list[dict[str, str]] | None = None,
) -> dict[str, object]:
    """Therapy (Т) and surgery (Х); ``doctors`` therapists in their own cabinets, every odd one a
    surgeon too when ``surgeons``; the first ``scheduled`` of them (all when None) bookable all
    day in ``slot_minutes`` slots; ``kiosks`` (``{"id": ..., "printer": URL}``) when given."""
    last = 24 * 60 - slot_minutes  # the day's last slot ends at midnight
    schedule = {
        "weekdays": [1, 2, 3, 4, 5, 6, 7],
        "start": "00:00",
        "end": f"{last // 60:02d}:{last % 60:02d}",
        "slot_minutes": slot_minutes,
    }
    bookable = doctors if scheduled is None else scheduled
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
                "services": ["therapy", "surgery"] if surgeons and i % 2 else ["therapy"],
                "cabinet": f"c{i}",
                **({"schedule": schedule} if i < bookable else {}),
            }
            for i in range(doctors)
        ],
        **({"kiosks": kiosks} if kiosks is not None else {}),
    }


@dataclass
class ClinicLoad:
    id: str
    cabinets: list[str]
    free_slots: list[str]
    in_hand: dict[str, str] = field(default_factory=dict)  # cabinet -> called ticket
    reservations: deque[str] = field(default_factory=lambda: deque(maxlen=500))


@dataclass
class Scenario:
    http: LeanClient
    token: str
    profile: Profile
    seed: int = 1
    clinics: list[ClinicLoad] = field(default_factory=list)
    ledger: Ledger = field(default_factory=Ledger)
    run_id: str = field(default_factory=lambda: uuid.uuid4().hex[:6])

    def __post_init__(self) -> None:
        self.rng = random.Random(self.seed)
        self.keys = (f"lt-{self.run_id}-{n}" for n in itertools.count())
        self.headers = {"Authorization": f"Bearer {self.token}"}

    async def setup(self) -> None:
        """Create the profile's clinics, put every doctor on duty, list tomorrow's slots."""
        tomorrow = (datetime.now(ZoneInfo(ZONE)) + timedelta(days=1)).date().isoformat()
        for n in range(self.profile.clinics):
            clinic_id = f"lt-{self.run_id}-{n}"
            config = synthetic_clinic(clinic_id, self.profile.doctors_per_clinic)
            r = await self.http.put(
                f"/api/v1/clinics/{clinic_id}", json=config, headers=self.headers
            )
            r.raise_for_status()
            for i in range(self.profile.doctors_per_clinic):
                r = await self.http.put(
                    f"/api/v1/clinics/{clinic_id}/doctors/d{i}/duty",
                    json={"status": "on_duty"},
                    headers=self.headers,
                )
                r.raise_for_status()
            slots = await self.http.get(
                f"/api/v1/clinics/{clinic_id}/slots",
                params={"date": tomorrow, "free": "true"},
                headers=self.headers,
            )
            free = [s["id"] for s in slots.json()["slots"]]
            self.rng.shuffle(free)
            cabinets = [f"c{i}" for i in range(self.profile.doctors_per_clinic)]
            self.clinics.append(ClinicLoad(clinic_id, cabinets, free))

    def pick(self) -> tuple[str, Operation]:
        """The next write, by the profile's mix."""
        mix = self.profile.mix
        clinic = self.rng.choice(self.clinics)
        roll = self.rng.random()
        for name, share in (
            ("take_ticket", mix.take_ticket),
            ("call_next", mix.call_next),
            ("complete", mix.complete),
            ("reserve", mix.reserve),
        ):
            if roll < share:
                return name, getattr(self, name)(clinic)
            roll -= share
        return "move", self.move(clinic)

    def read(self) -> tuple[str, Operation]:
        return "board", self.board(self.rng.choice(self.clinics))

    # -- operations; each returns "ok", "refused" (a 4xx the rules intend) or "error" -------------

    def _post(self, path: str, body: object | None = None) -> Operation:
        headers = {**self.headers, "Idempotency-Key": next(self.keys)}

        async def op() -> str:
            r = await self.http.post(path, json=body, headers=headers)
            return _outcome(r)

        return op

    def take_ticket(self, c: ClinicLoad) -> Operation:
        service = "therapy" if self.rng.random() < 0.7 else "surgery"
        headers = {**self.headers, "Idempotency-Key": next(self.keys)}

        async def op() -> str:
            r = await self.http.post(
                f"/api/v1/clinics/{c.id}/tickets", json={"service": service}, headers=headers
            )
            if r.status_code == 201:
                t = r.json()
                day = t["issued_at"][:10]
                self.ledger.ticket(Acknowledged(c.id, "ticket", t["id"], t["number"], day))
            return _outcome(r)

        return op

    def call_next(self, c: ClinicLoad) -> Operation:
        free = [cab for cab in c.cabinets if cab not in c.in_hand]
        cabinet = self.rng.choice(free or c.cabinets)

        async def op() -> str:
            r = await self.http.post(
                f"/api/v1/clinics/{c.id}/cabinets/{cabinet}/call-next", headers=self.headers
            )
            if r.status_code == 200 and r.json()["ticket"]:
                c.in_hand[cabinet] = r.json()["ticket"]["id"]
            return _outcome(r)

        return op

    def complete(self, c: ClinicLoad) -> Operation:
        if not c.in_hand:
            return self.take_ticket(c)
        cabinet = self.rng.choice(sorted(c.in_hand))
        ticket = c.in_hand.pop(cabinet)

        async def op() -> str:
            base = f"/api/v1/clinics/{c.id}/tickets/{ticket}"
            r = await self.http.post(base + "/start", headers=self.headers)
            if r.status_code == 200:
                r = await self.http.post(base + "/complete", headers=self.headers)
            return _outcome(r)

        return op

    def reserve(self, c: ClinicLoad) -> Operation:
        if not c.free_slots:
            return self.take_ticket(c)
        slot = c.free_slots.pop()
        path = f"/api/v1/clinics/{c.id}/slots/{slot}/reservation"
        headers = {**self.headers, "Idempotency-Key": next(self.keys)}

        async def op() -> str:
            r = await self.http.post(
                path, json={"patient": f"p-{slot}", "confirm": True}, headers=headers
            )
            if r.status_code == 201:
                res = r.json()
                c.reservations.append(res["id"])
                self.ledger.reserved(Acknowledged(c.id, "reservation", res["id"], slot=res["slot"]))
            return _outcome(r)

        return op

    def move(self, c: ClinicLoad) -> Operation:
        if not c.reservations or not c.free_slots:
            return self.take_ticket(c)
        rid, slot = c.reservations[0], c.free_slots.pop()
        headers = {**self.headers, "Idempotency-Key": next(self.keys)}

        async def op() -> str:
            r = await self.http.post(
                f"/api/v1/clinics/{c.id}/reservations/{rid}/move",
                json={"slot": slot},
                headers=headers,
            )
            if r.status_code == 200:
                self.ledger.moved(Acknowledged(c.id, "reservation", rid, slot=r.json()["slot"]))
            return _outcome(r)

        return op

    def board(self, c: ClinicLoad) -> Operation:
        async def op() -> str:
            return _outcome(
                await self.http.get(f"/api/v1/clinics/{c.id}/board", headers=self.headers)
            )

        return op


def _outcome(response: Response) -> str:
    if response.status_code < 400:
        return "ok"
    return "refused" if response.status_code < 500 and response.status_code != 429 else "error"
