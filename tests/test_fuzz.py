"""Schema fuzzing: schemathesis drives the running engine from its own OpenAPI document.

Every answer must be documented: no 5xx, a status the operation lists, the content type it
names and a body its schema accepts. The path parameters are pinned to a seeded clinic (and,
half the time, to a real ticket, reservation or slot) so that the fuzzer reaches the success
paths and not only the 404s. The CI run is short (``CLINICQ_FUZZ_EXAMPLES`` examples per
operation and token); ``make fuzz`` runs the long one and writes the case count to
``var/fuzz-report.json``.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import random
import uuid
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis import checks

from clinicq.openapi import spec
from engine.auth import create_token
from tests.support import EngineServer, clinic_config, tomorrow

pytestmark = pytest.mark.integration

EXAMPLES = int(os.environ.get("CLINICQ_FUZZ_EXAMPLES", "15"))
REPORT = os.environ.get("CLINICQ_FUZZ_REPORT")
TOKENS = ("kiosk", "head", "icu_doctor")
CHECKS = [
    checks.not_a_server_error,
    checks.status_code_conformance,
    checks.content_type_conformance,
    checks.response_schema_conformance,
]
schema = schemathesis.openapi.from_dict(spec())
CASES: Counter[str] = Counter()
STATUSES: Counter[int] = Counter()


class Seeded:
    """A clinic with tickets, bookings and a token per role, made over the real API."""

    def __init__(self, clinic: str, tokens: dict[str, str], ids: dict[str, list[str]]):
        self.clinic = clinic
        self.tokens = tokens
        self.ids = ids
        self.turn = itertools.cycle(TOKENS)
        self.chance = random.Random(7)

    def pin(self, parameters: dict[str, Any]) -> None:
        """The clinic always; half the time a real ticket, reservation or slot."""
        if "clinic" in parameters:
            parameters["clinic"] = self.clinic
        for name, known in self.ids.items():
            if name in parameters and known and self.chance.random() < 0.5:
                parameters[name] = self.chance.choice(known)


async def _seed(server: EngineServer, database_url: str) -> Seeded:
    clinic = f"fuzz-{uuid.uuid4().hex[:6]}"
    pool = await asyncpg.create_pool(database_url, min_size=1, max_size=2)
    try:
        _, admin = await create_token(pool, "admin", label="fuzz")
        async with httpx.AsyncClient(base_url=server.url, timeout=60) as http:
            put = await http.put(
                f"/api/v1/clinics/{clinic}",
                json=clinic_config(clinic),
                headers={"Authorization": f"Bearer {admin}"},
            )
            assert put.status_code == 200, put.text
            tokens = {"admin": admin}
            for role in TOKENS:
                doctor = "d0" if role == "icu_doctor" else None
                tokens[role] = (await create_token(pool, role, clinic=clinic, doctor=doctor))[1]
            head = {"Authorization": f"Bearer {admin}"}
            api = f"/api/v1/clinics/{clinic}"
            await http.put(api + "/doctors/d0/duty", json={"status": "on_duty"}, headers=head)
            tickets, links = [], []
            for service in ("therapy", "surgery", "therapy", "therapy"):
                taken = await http.post(api + "/tickets", json={"service": service}, headers=head)
                assert taken.status_code == 201, taken.text
                tickets.append(taken.json()["id"])
                links.append(taken.json()["status_url"].rsplit("/", 1)[1])
            listed = await http.get(
                api + "/slots", params={"free": "true", "date": tomorrow()}, headers=head
            )
            slots = listed.json()
            slot_ids = [s["id"] for s in slots["slots"][-6:]]
            reservations = []
            for slot in slot_ids[:3]:
                held = await http.post(
                    api + f"/slots/{slot}/reservation", json={"patient": "Иванов И."}, headers=head
                )
                assert held.status_code == 201, held.text
                reservations.append(held.json()["id"])
    finally:
        await pool.close()
    ids = {"ticket": tickets, "link": links, "reservation": reservations, "slot": slot_ids,
           "cabinet": ["c0"], "doctor": ["d0", "d1"]}  # fmt: skip
    return Seeded(clinic, tokens, ids)


@pytest.fixture(scope="module")
def seeded(engine_server: EngineServer, database_url: str) -> Iterator[Seeded]:
    # Sync on purpose: schemathesis calls the server with requests, outside the event loop.
    yield asyncio.run(_seed(engine_server, database_url))
    if REPORT:
        Path(REPORT).parent.mkdir(parents=True, exist_ok=True)
        Path(REPORT).write_text(
            json.dumps(
                {"cases": sum(CASES.values()), "statuses": STATUSES, "by_operation": CASES},
                indent=1,
            )
        )


@schema.parametrize()
@settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=True,
    suppress_health_check=list(HealthCheck),
)
def test_the_server_answers_as_its_document_says(
    case: schemathesis.Case, engine_server: EngineServer, seeded: Seeded
) -> None:
    """No 5xx, no undocumented status, content type or body, for each of three tokens."""
    seeded.pin(case.path_parameters or {})
    role = next(seeded.turn)
    response = case.call_and_validate(
        base_url=engine_server.url,
        headers={"Authorization": f"Bearer {seeded.tokens[role]}"},
        checks=CHECKS,
        timeout=30,
    )
    CASES[f"{case.method} {case.path}"] += 1
    STATUSES[response.status_code] += 1
