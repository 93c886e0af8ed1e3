"""A Redis that comes back behind the journal (an old AOF, a lagging replica promoted) is caught,
fenced and rebuilt: nothing acknowledged is lost or issued twice, and writes resume by themselves."""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections import Counter
from typing import Any

import asyncpg
import httpx
import msgspec
import pytest

from engine import commands as cmd
from engine import keys
from engine.clinic import parse_clinic
from engine.model import events as ev
from engine.model.clock import service_day
from engine.service import Engine
from tests.support import ClinicClient, Clock, MakeClinic, clinic_config, redis_client, status_link

pytestmark = pytest.mark.integration


async def _dump(client: Any, clinic: str) -> dict[bytes, tuple[bytes, int]]:
    """Every live-state key of a clinic as DUMP bytes with its TTL: a copy to go back to."""
    out = {}
    async for key in client.scan_iter(match=keys.prefix(clinic) + "*", count=1000):
        if keys.is_derived(clinic, key.decode()):
            out[key] = (await client.dump(key), max(0, await client.pttl(key)))
    return out


async def _go_back(client: Any, clinic: str, copy: dict[bytes, tuple[bytes, int]]) -> None:
    """Put the clinic's keys back as they were in ``copy``, atomically: what a restart from an
    older AOF, or a failover to a replica that lagged, does to it (the epoch is the same)."""
    now = [k async for k in client.scan_iter(match=keys.prefix(clinic) + "*", count=1000)]
    async with client.pipeline(transaction=True) as pipe:
        for key in now:
            if keys.is_derived(clinic, key.decode()):
                pipe.delete(key)
        for key, (raw, ttl) in copy.items():
            pipe.restore(key, ttl, raw, replace=True)
        await pipe.execute()


async def _issued_numbers(db: asyncpg.Pool, clinic: str) -> list[tuple[str, str]]:
    rows = await db.fetch(
        "SELECT body FROM journal WHERE clinic = $1 AND kind = 'ticket_issued' ORDER BY \"offset\"",
        clinic,
    )
    tickets = [msgspec.json.decode(r["body"])["ticket"] for r in rows]
    return [(t["day"], t["number"]) for t in tickets]


class Load:
    """Kiosks taking tickets with their own Idempotency-Keys, and a doctor calling, until told."""

    def __init__(self, c: ClinicClient) -> None:
        self.c = c
        self.answers: dict[str, tuple[int, dict[str, Any], float]] = {}
        self.stop = asyncio.Event()
        self.n = 0

    async def kiosk(self, who: int) -> None:
        while not self.stop.is_set():
            self.n += 1
            key = f"k{who}-{self.n}"
            try:
                r = await self.c.http.post(
                    f"{self.c.api}/tickets", json={"service": "therapy"},
                    headers=self.c.auth("kiosk", key),
                )  # fmt: skip
                self.answers[key] = (r.status_code, r.json(), time.monotonic())
            except httpx.HTTPError:
                self.answers[key] = (0, {}, time.monotonic())

    async def doctor(self) -> None:
        while not self.stop.is_set():
            with contextlib.suppress(httpx.HTTPError):
                await self.c.http.post(
                    f"{self.c.api}/cabinets/c0/call-next", headers=self.c.auth("doctor")
                )
            await asyncio.sleep(0.05)


async def test_redis_restored_behind_the_journal_under_load(
    clinics: MakeClinic, redis_url: str, db: asyncpg.Pool
) -> None:
    """Go back ~2 s under 20 kiosks: no acknowledged ticket is lost or numbered twice, retried
    keys get their original answers, and writes succeed again with no manual step."""
    c = await clinics("behind")
    await c.http.put(f"{c.api}/doctors/d0/duty", json={"status": "on_duty"}, headers=c.auth("head"))
    client = redis_client(redis_url)
    load = Load(c)
    try:
        workers = [asyncio.create_task(load.kiosk(i)) for i in range(20)]
        workers.append(asyncio.create_task(load.doctor()))
        await asyncio.sleep(1.5)
        copy = await _dump(client, c.clinic)
        await asyncio.sleep(2.0)
        acknowledged_before = sum(1 for s, _, _ in load.answers.values() if s == 201)
        await _go_back(client, c.clinic, copy)
        went_back = time.monotonic()
        await asyncio.sleep(3.0)
        load.stop.set()
        await asyncio.gather(*workers)
    finally:
        await client.aclose()

    acknowledged = {k: body for k, (s, body, _) in load.answers.items() if s == 201}
    assert acknowledged_before > 20, "the copy must be far enough behind to matter"
    after = [k for k, (s, _, at) in load.answers.items() if s == 201 and at > went_back + 0.5]
    assert after, "writes must succeed again after the live state went back"
    refused = Counter(
        body.get("error", {}).get("code")
        for s, body, _ in load.answers.values()
        if s not in (0, 201)
    )
    assert "journal_diverged" not in refused, refused

    numbers = [a["number"] for a in acknowledged.values()]
    assert len(numbers) == len(set(numbers)), "a number was acknowledged twice"
    journaled = await _issued_numbers(db, c.clinic)
    assert len(journaled) == len(set(journaled)), "the journal holds a number twice"
    assert set(numbers) <= {n for _, n in journaled}

    for key, answer in acknowledged.items():
        live = await c.http.get(f"{c.api}/ticket-status/{status_link(answer)}")
        assert live.status_code == 200 and live.json()["number"] == answer["number"], key
        again = await c.http.post(
            f"{c.api}/tickets", json={"service": "therapy"}, headers=c.auth("kiosk", key)
        )
        assert again.status_code == 201 and again.json()["id"] == answer["id"], key
    fresh = await c.http.post(
        f"{c.api}/tickets", json={"service": "therapy"}, headers=c.auth("kiosk")
    )
    assert fresh.status_code == 201 and fresh.json()["number"] not in numbers
    # The fences are counted where an operator looks. Each worker counts its own, so each
    # scrape opens a new connection to reach both.
    fenced, metrics = 0.0, ""
    for _ in range(20):
        metrics = (await c.http.get("/metrics", headers={"Connection": "close"})).text
        fenced = max(fenced, sum(float(line.rsplit(" ", 1)[1]) for line in metrics.splitlines()
                                 if line.startswith("clinicq_fenced_total{")))  # fmt: skip
    assert fenced >= 1


async def test_a_quiet_clinic_that_went_back_answers_for_every_acknowledged_ticket(
    clinics: MakeClinic, redis_url: str, db: asyncpg.Pool
) -> None:
    """No writes after the live state went back: a read of a ticket it forgot is not a 404, and
    the periodic check rebuilds the clinic (its epoch changes) without any request."""
    c = await clinics("quiet")
    client = redis_client(redis_url)
    try:
        first = await c.http.post(
            f"{c.api}/tickets", json={"service": "therapy"}, headers=c.auth("kiosk")
        )
        copy = await _dump(client, c.clinic)
        epoch = (await client.hget(keys.meta(c.clinic), "epoch")).decode()
        later = []
        for _ in range(3):
            r = await c.http.post(
                f"{c.api}/tickets", json={"service": "therapy"}, headers=c.auth("kiosk")
            )
            later.append(r.json())
        await _go_back(client, c.clinic, copy)
        assert (await client.hget(keys.meta(c.clinic), "epoch")).decode() == epoch

        deadline = time.monotonic() + 60
        while (await client.hget(keys.meta(c.clinic), "epoch") or b"").decode() in ("", epoch):
            assert time.monotonic() < deadline, "the periodic check never rebuilt the clinic"
            await asyncio.sleep(0.2)
        for answer in [first.json(), *later]:
            live = await c.http.get(f"{c.api}/ticket-status/{status_link(answer)}")
            assert live.status_code == 200 and live.json()["number"] == answer["number"]
        nxt = await c.http.post(
            f"{c.api}/tickets", json={"service": "therapy"}, headers=c.auth("kiosk")
        )
        assert nxt.json()["number"] == "Т-005"
    finally:
        await client.aclose()


async def test_a_forgotten_ticket_is_found_by_the_read_itself(
    clinics: MakeClinic, redis_url: str
) -> None:
    """The very first read after the live state went back finds a ticket it had forgotten."""
    c = await clinics("read")
    client = redis_client(redis_url)
    try:
        await c.http.post(f"{c.api}/tickets", json={"service": "therapy"}, headers=c.auth("kiosk"))
        copy = await _dump(client, c.clinic)
        r = await c.http.post(
            f"{c.api}/tickets", json={"service": "therapy"}, headers=c.auth("kiosk")
        )
        await _go_back(client, c.clinic, copy)
        live = await c.http.get(f"{c.api}/ticket-status/{status_link(r.json())}")
        assert live.status_code == 200 and live.json()["number"] == "Т-002"
    finally:
        await client.aclose()


async def test_decisions_past_the_journals_end_on_a_stale_state_are_not_acknowledged(
    engine: tuple[Engine, Clock], redis_url: str
) -> None:
    """The live state lost three therapy tickets and then decided three surgery ones (refused:
    they clash). Its next therapy ticket would be Т-001 again, at an offset past the journal's
    end: the journal refuses it (its predecessor is not the journal's), and after the rebuild
    the patient gets Т-004."""
    e, clock = engine
    clock.set("2026-11-26T10:00:00")
    clinic = f"stale-{uuid.uuid4().hex[:6]}"
    await e.put_clinic(parse_clinic(clinic_config(clinic)))  # type: ignore[arg-type]
    client = redis_client(redis_url)
    try:
        copy = await _dump(client, clinic)
        lost = [await e.execute(clinic, cmd.Issue("therapy")) for _ in range(3)]
        await _go_back(client, clinic, copy)
        day = service_day(clock(), "Europe/Moscow")
        for _ in range(3):  # decided on the stale state, never journaled (their workers died)
            await e.store.run("issue", clinic, clock(), day, ["surgery", "Х", "", "kiosk"])
        answer = await e.execute(clinic, cmd.Issue("therapy"))
    finally:
        await client.aclose()
    assert [t["ticket"].number for t in lost] == ["Т-001", "Т-002", "Т-003"]
    assert answer["ticket"].number == "Т-004"
    assert e.fenced["clash"] + e.fenced["diverged"] >= 1
    numbers = [ev.decode_event(b) for b in await e.journal.bodies(clinic)]
    issued = [x.ticket.number for x in numbers if isinstance(x, ev.TicketIssued)]
    assert issued == ["Т-001", "Т-002", "Т-003", "Т-004"]


async def test_no_answer_comes_from_a_stale_state_even_without_events(
    engine: tuple[Engine, Clock], redis_url: str
) -> None:
    """Answers that journal nothing are not checked by the journal's fence: "nobody is waiting"
    and "no such ticket" from a state that lost two tickets must not go out. The doctor gets
    Т-001, and the second ticket can be acted on."""
    e, clock = engine
    clock.set("2026-11-26T10:00:00")
    clinic = f"empty-{uuid.uuid4().hex[:6]}"
    await e.put_clinic(parse_clinic(clinic_config(clinic)))  # type: ignore[arg-type]
    await e.execute(clinic, cmd.SetDuty("d0", status="on_duty"))
    client = redis_client(redis_url)
    try:
        copy = await _dump(client, clinic)
        issued = [await e.execute(clinic, cmd.Issue("therapy")) for _ in range(2)]
        await _go_back(client, clinic, copy)
        called = await e.execute(clinic, cmd.CallNext("c0"))
        assert called["ticket"].number == "Т-001"
        await _go_back(client, clinic, copy)
        cancelled = await e.execute(clinic, cmd.Act(issued[1]["ticket"].id, "cancel"))
        assert cancelled["ticket"].state == "cancelled"
    finally:
        await client.aclose()


async def test_a_burst_on_a_live_state_a_few_events_behind(
    clinics: MakeClinic, redis_url: str, db: asyncpg.Pool
) -> None:
    """Three events behind, then 30 kiosks at once: the events decided past the journal's end
    follow a predecessor the journal never had, so none of them is acknowledged as decided."""
    c = await clinics("burst")
    client = redis_client(redis_url)
    try:
        copy = await _dump(client, c.clinic)
        for _ in range(3):
            await c.http.post(
                f"{c.api}/tickets", json={"service": "therapy"}, headers=c.auth("kiosk")
            )
        await _go_back(client, c.clinic, copy)
        burst = await asyncio.gather(
            *(
                c.http.post(
                    f"{c.api}/tickets",
                    json={"service": "therapy"},
                    headers=c.auth("kiosk", f"b{i}"),
                )
                for i in range(30)
            )
        )
    finally:
        await client.aclose()
    assert all(r.status_code == 201 for r in burst), [r.text for r in burst if r.status_code != 201]
    numbers = sorted(r.json()["number"] for r in burst)
    assert numbers == [f"Т-{n:03d}" for n in range(4, 34)]
    journaled = await _issued_numbers(db, c.clinic)
    assert sorted(n for _, n in journaled) == [f"Т-{n:03d}" for n in range(1, 34)]
