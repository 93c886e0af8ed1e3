"""Crash safety and recovery: what a client was told survives a killed server and a lost Redis."""

from __future__ import annotations

import asyncio

import asyncpg
import httpx
import msgspec
import pytest

from tests.support import EngineServer, MakeClinic, make_clinic, redis_client, status_link, tomorrow

pytestmark = pytest.mark.integration


async def test_kill_9_mid_burst_loses_nothing_acknowledged(
    redis_url: str, database_url: str, db: asyncpg.Pool, admin_token: str
) -> None:
    """SIGKILL both workers mid-burst: every 201 is journaled and live; retries get the original."""
    server = EngineServer(redis_url, database_url).start()
    c = await make_clinic(server, db, admin_token, "crash-" + server.url.rsplit(":", 1)[1])
    # Enough that the kill, sent once 40 are answered, lands mid-burst even on a quiet machine
    # (200 were all answered before it once: two workers take ~3,000 tickets a second).
    burst = 600
    keys = [f"kiosk-req-{i}" for i in range(burst)]

    answered, forty_answered = 0, asyncio.Event()

    async def take(key: str) -> httpx.Response | None:
        nonlocal answered
        try:
            response = await c.http.post(
                f"{c.api}/tickets", json={"service": "therapy"}, headers=c.auth("kiosk", key)
            )
        except httpx.HTTPError:
            return None
        answered += 1
        if answered >= 40:
            forty_answered.set()
        return response

    try:
        tasks = [asyncio.create_task(take(k)) for k in keys]
        await forty_answered.wait()
        server.kill()
        first = await asyncio.gather(*tasks)
        acknowledged = {
            k: r.json()
            for k, r in zip(keys, first, strict=True)
            if r is not None and r.status_code == 201
        }
        assert 40 <= len(acknowledged) < burst, "the kill should land mid-burst"

        server.start()
        issued = await db.fetch(
            "SELECT body FROM journal WHERE clinic = $1 AND kind = 'ticket_issued'", c.clinic
        )
        journaled = {msgspec.json.decode(row["body"])["ticket"]["id"] for row in issued}
        for answer in acknowledged.values():
            assert answer["id"] in journaled
            live = await c.http.get(f"{c.api}/ticket-status/{status_link(answer)}")
            assert live.status_code == 200 and live.json()["number"] == answer["number"]

        async def retry(key: str) -> httpx.Response | None:
            # As a kiosk would: the same key again while the restarted engine is still warming
            # up (a dropped connection, 503 or 429); the key makes a repeat the original.
            for _ in range(5):
                response = await take(key)
                if response is not None and response.status_code not in (429, 503):
                    return response
                await asyncio.sleep(0.5)
            return response

        retried = await asyncio.gather(*(retry(k) for k in keys))
        assert all(r is not None and r.status_code == 201 for r in retried), {
            r.status_code if r is not None else None for r in retried
        }
        again = {k: r.json() for k, r in zip(keys, retried, strict=True) if r is not None}
        for key, answer in acknowledged.items():
            assert again[key]["id"] == answer["id"] and again[key]["number"] == answer["number"]
        numbers = [a["number"] for a in again.values()]
        assert sorted(numbers) == sorted(f"Т-{n:03d}" for n in range(1, burst + 1))  # gap-free
    finally:
        await c.http.aclose()
        server.stop()


async def test_flushed_redis_is_rebuilt_from_the_journal(
    clinics: MakeClinic, redis_url: str
) -> None:
    """FLUSHALL and SCRIPT FLUSH: the next read rebuilds the clinic and the board is unchanged."""
    c = await clinics("flush")
    await c.http.put(f"{c.api}/doctors/d0/duty", json={"status": "on_duty"}, headers=c.auth("head"))
    for status in ("on_duty", "break"):  # a break is taken from a shift
        r = await c.http.put(
            f"{c.api}/doctors/d1/duty", json={"status": status}, headers=c.auth("head")
        )
        assert r.status_code == 200, r.text
    for service in ["therapy", "therapy", "surgery", "therapy"]:
        r = await c.http.post(
            f"{c.api}/tickets", json={"service": service}, headers=c.auth("kiosk")
        )
        assert r.status_code == 201
    called = (await c.http.post(f"{c.api}/cabinets/c0/call-next", headers=c.auth("doctor"))).json()
    tid = called["ticket"]["id"]
    for action in ["start", "suspend"]:
        r = await c.http.post(f"{c.api}/tickets/{tid}/{action}", headers=c.auth("doctor"))
        assert r.status_code == 200, r.text
    listed = await c.http.get(
        f"{c.api}/slots?free=true&date={tomorrow()}", headers=c.auth("partner")
    )
    slots = listed.json()["slots"]
    held = await c.http.post(
        f"{c.api}/slots/{slots[-1]['id']}/reservation",
        json={"patient": "П-1", "confirm": True},
        headers=c.auth("partner", "book-1"),
    )
    assert held.status_code == 201
    before = (await c.http.get(f"{c.api}/board", headers=c.auth("display"))).json()

    client = redis_client(redis_url)
    try:
        await client.flushall()
        await client.script_flush()
    finally:
        await client.aclose()

    after = (await c.http.get(f"{c.api}/board", headers=c.auth("display"))).json()
    assert after["epoch"] != before["epoch"]
    before.pop("epoch"), after.pop("epoch")
    assert after == before
    replay = await c.http.post(
        f"{c.api}/slots/{slots[-1]['id']}/reservation",
        json={"patient": "П-1", "confirm": True},
        headers=c.auth("partner", "book-1"),
    )
    assert replay.status_code == 201 and replay.json() == held.json()
    nxt = await c.http.post(
        f"{c.api}/tickets", json={"service": "therapy"}, headers=c.auth("kiosk")
    )
    assert nxt.json()["number"] == "Т-004"
