"""The engine's metrics as Prometheus scrapes them from a running `clinicq serve`: each worker on
its own port, tickets and queue waits per clinic, the journal's lag and what reconcile caught up."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator

import asyncpg
import httpx
import pytest

from engine.clinic import parse_clinic
from engine.model.clock import service_day
from engine.service import Engine
from tests.support import (
    ClinicClient,
    Clock,
    EngineServer,
    Samples,
    clinic_config,
    free_port_run,
    make_clinic,
    sample,
    scrape,
)

pytestmark = pytest.mark.integration
WAIT_SECONDS = 20.0  # a bound on waiting for an effect, never a timing assertion
WORKERS = 2


@pytest.fixture(scope="module")
def metered(redis_url: str, database_url: str) -> Iterator[tuple[EngineServer, list[str]]]:
    """`clinicq serve` with two workers and CLINICQ_METRICS_PORT: one metrics URL a worker."""
    first = free_port_run(WORKERS)
    env = {"CLINICQ_METRICS_PORT": str(first)}
    server = EngineServer(redis_url, database_url, workers=WORKERS, extra_env=env).start()
    urls = [f"http://127.0.0.1:{first + i}/metrics" for i in range(WORKERS)]
    try:
        # Ready means one worker answered /readyz: the other may still be starting.
        deadline = time.monotonic() + 60
        for url in urls:
            while True:
                try:
                    if httpx.get(url, timeout=5).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                assert time.monotonic() < deadline, f"{url} does not answer"
                time.sleep(0.1)
        yield server, urls
    finally:
        server.stop()


async def scrape_workers(urls: list[str]) -> list[Samples]:
    return list(await asyncio.gather(*(scrape(url) for url in urls)))


async def total(urls: list[str], name: str, **labels: str) -> float:
    """A counter summed over every worker, as ``sum()`` over the targets does."""
    return sum(sample(s, name, **labels) for s in await scrape_workers(urls))


async def eventually(check: Callable[[], Awaitable[bool]], what: str) -> None:
    deadline = time.monotonic() + WAIT_SECONDS
    while not await check():
        assert time.monotonic() < deadline, f"not seen within {WAIT_SECONDS} s: {what}"
        await asyncio.sleep(0.1)


async def new_clinic(
    metered: tuple[EngineServer, list[str]], db: asyncpg.Pool, admin_token: str
) -> ClinicClient:
    return await make_clinic(metered[0], db, admin_token, f"metrics-{uuid.uuid4().hex[:6]}")


async def test_every_worker_answers_on_its_own_port_and_their_sum_is_every_request(
    metered: tuple[EngineServer, list[str]], db: asyncpg.Pool, admin_token: str
) -> None:
    """Twenty board reads through the shared port are counted once each, in whichever worker
    served them: the sum over the workers' own ports is exactly twenty more."""
    c = await new_clinic(metered, db, admin_token)
    urls = metered[1]
    labels = {"method": "GET", "route": "/api/v1/clinics/{clinic}/board", "status": "200"}
    try:
        before = await total(urls, "clinicq_http_requests_total", **labels)
        for _ in range(20):
            answer = await c.http.get(f"{c.api}/board", headers=c.auth("head"))
            assert answer.status_code == 200, answer.text
        after = await total(urls, "clinicq_http_requests_total", **labels)
    finally:
        await c.http.aclose()
    assert after - before == 20


async def test_a_called_ticket_is_counted_with_its_wait_under_its_clinic(
    metered: tuple[EngineServer, list[str]], db: asyncpg.Pool, admin_token: str
) -> None:
    """A ticket taken and called shows as one issued and one wait (under a minute) for its
    clinic, and for no other."""
    c = await new_clinic(metered, db, admin_token)
    urls = metered[1]
    try:
        assert await total(urls, "clinicq_tickets_issued_total", clinic=c.clinic) == 0
        taken = await c.http.post(
            f"{c.api}/tickets", json={"service": "therapy"}, headers=c.auth("kiosk")
        )
        assert taken.status_code == 201, taken.text
        duty = await c.http.put(
            f"{c.api}/doctors/d0/duty", json={"status": "on_duty"}, headers=c.auth("head")
        )
        assert duty.status_code == 200, duty.text
        called = await c.http.post(f"{c.api}/cabinets/c0/call-next", headers=c.auth("doctor"))
        assert called.status_code == 200, called.text
    finally:
        await c.http.aclose()
    workers = await scrape_workers(urls)
    assert sum(sample(s, "clinicq_tickets_issued_total", clinic=c.clinic) for s in workers) == 1
    waits = sum(sample(s, "clinicq_queue_wait_seconds_count", clinic=c.clinic) for s in workers)
    quick = sum(
        sample(s, "clinicq_queue_wait_seconds_bucket", clinic=c.clinic, le="60.0") for s in workers
    )
    assert waits == 1 and quick == 1


async def test_events_redis_applied_but_the_journal_lacks_show_as_lag_until_reconciled(
    metered: tuple[EngineServer, list[str]],
    db: asyncpg.Pool,
    admin_token: str,
    engine: tuple[Engine, Clock],
) -> None:
    """A ticket decided in Redis and never journaled (its worker died in between) shows as one
    event of journal lag for its clinic at the workers' 2 s check; reconcile (every 10 s: this
    server's, or another's on the same stores) journals it, and the lag goes back to zero."""
    c = await new_clinic(metered, db, admin_token)
    urls = metered[1]
    try:
        taken = await c.http.post(
            f"{c.api}/tickets", json={"service": "therapy"}, headers=c.auth("kiosk")
        )
        assert taken.status_code == 201, taken.text
    finally:
        await c.http.aclose()
    e, _ = engine
    now = time.time_ns() // 1_000_000
    day = service_day(now, "Europe/Moscow")

    async def lag() -> float:
        return max(sample(s, "clinicq_journal_lag_events", clinic=c.clinic)
                   for s in await scrape_workers(urls))  # fmt: skip

    async def lagging() -> bool:
        return await lag() == 1

    async def journaled() -> int:
        return int(
            await db.fetchval(
                "SELECT count(*) FROM journal WHERE clinic = $1 AND kind = 'ticket_issued'",
                c.clinic,
            )
        )

    async def caught_up() -> bool:
        return await journaled() == 2 and await lag() == 0

    # The clinic's journal head held (as journal_append takes it): any server's reconcile waits
    # for it, so the lag lasts until this test has seen it.
    async with db.acquire() as conn, conn.transaction():
        await conn.execute("SELECT 1 FROM journal_head WHERE clinic = $1 FOR UPDATE", c.clinic)
        await e.store.run(
            "issue", c.clinic, now, day, ["therapy", "Т", "", "kiosk", uuid.uuid4().hex]
        )
        await eventually(lagging, "one event of journal lag")
    await eventually(caught_up, "the lag reconciled")


async def test_reconcile_counts_the_events_it_journals(engine: tuple[Engine, Clock]) -> None:
    """The day's opening and two tickets in Redis without their journal entries: reconcile
    journals the three and counts them (clinicq_journal_reconciled_total); run again, it finds
    and counts none."""
    e, clock = engine
    clock.set("2026-11-26T10:00:00")
    clinic = f"reconciled-{uuid.uuid4().hex[:6]}"
    await e.put_clinic(parse_clinic(clinic_config(clinic)))  # type: ignore[arg-type]
    day = service_day(clock(), "Europe/Moscow")
    for _ in range(2):
        await e.store.run("issue", clinic, clock(), day, ["therapy", "Т", "", "kiosk", ""])
    before = e.reconciled
    assert await e.reconcile(clinic) == 3
    assert e.reconciled == before + 3
    assert await e.reconcile(clinic) == 0
    assert e.reconciled == before + 3


async def test_the_metrics_port_keeps_the_access_rule(
    metered: tuple[EngineServer, list[str]],
) -> None:
    """The worker's own port answers GET /metrics only (404 otherwise) and, under the default
    CLINICQ_METRICS=loopback, only to this host: from another address of this machine it is
    403."""
    urls = metered[1]
    async with httpx.AsyncClient(timeout=10) as http:
        other = await http.get(urls[0].replace("/metrics", "/board"))
        assert other.status_code == 404
    # 127.0.0.2 is loopback to the kernel but not to the rule, which names 127.0.0.1 and ::1.
    transport = httpx.AsyncHTTPTransport(local_address="127.0.0.2")
    async with httpx.AsyncClient(timeout=10, transport=transport) as http:
        refused = await http.get(urls[0])
    assert refused.status_code == 403 and "CLINICQ_METRICS" in refused.text
