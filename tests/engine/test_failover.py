"""A PostgreSQL failover seen from one worker: a connection cut under a request is a 503 the
client retries with its Idempotency-Key, and the LISTEN connection comes back by itself and
makes up for the notifications it missed."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import asyncpg
import httpx
import msgspec
import pytest
from starlette.applications import Starlette

from clinicq.app import create_app
from clinicq.settings import Settings
from engine.auth import TokenBook, create_token, revoke_tokens
from engine.clinic import parse_clinic
from engine.errors import Unauthorized
from engine.journal_postgres import WRITER_NAME
from engine.listen_postgres import Listener
from engine.service import CONFIG_CHANNEL, Engine
from tests.support import CLUSTER, clinic_config, parse_metrics, sample

pytestmark = pytest.mark.integration
WAIT_SECONDS = 20.0  # a bound on waiting for an effect, never a timing assertion


async def eventually(check: Callable[[], Awaitable[bool]], what: str) -> None:
    """Wait (bounded) until ``check()`` holds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + WAIT_SECONDS
    while not await check():
        assert loop.time() < deadline, f"not seen within {WAIT_SECONDS} s: {what}"
        await asyncio.sleep(0.05)


@contextlib.asynccontextmanager
async def app_served(redis_url: str, database_url: str) -> AsyncIterator[Starlette]:
    """The whole app in this process, lifespan included, on the real stores."""
    settings = Settings(redis_url=redis_url, redis_cluster=CLUSTER, database_url=database_url)
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        yield app


@contextlib.asynccontextmanager
async def table_locked(db: asyncpg.Pool, table: str) -> AsyncIterator[None]:
    """Hold ``table`` locked: whoever needs it waits, mid-request, until it is released."""
    async with db.acquire() as conn, conn.transaction():
        await conn.execute(f"LOCK TABLE {table} IN ACCESS EXCLUSIVE MODE")
        yield


async def terminate_waiting(db: asyncpg.Pool, like: str) -> None:
    """Terminate the backends waiting on a lock whose query or application matches ``like``
    (as a failover cuts every connection), once there is one."""
    query = (
        "SELECT pid FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
        "AND pid <> pg_backend_pid() AND (query LIKE $1 OR application_name LIKE $1)"
    )

    async def waiting() -> bool:
        return bool(await db.fetch(query, like))

    await eventually(waiting, f"a backend waiting on a lock ({like})")
    for row in await db.fetch(query, like):
        await db.execute("SELECT pg_terminate_backend($1)", row["pid"])


async def new_clinic(app: Starlette, db: asyncpg.Pool) -> tuple[str, str]:
    """A fresh clinic on the app's engine, and a kiosk token for it (not yet cached)."""
    engine: Engine = app.state.engine
    clinic_id = f"failover-{uuid.uuid4().hex[:6]}"
    await engine.put_clinic(parse_clinic(clinic_config(clinic_id)))
    _, token = await create_token(db, "kiosk", clinic=clinic_id)
    return clinic_id, token


def take_ticket(http: httpx.AsyncClient, clinic_id: str, token: str, key: str) -> Any:
    return http.post(
        f"/api/v1/clinics/{clinic_id}/tickets",
        json={"service": "therapy"},
        headers={"Authorization": f"Bearer {token}", "Idempotency-Key": key},
    )


def assert_unavailable(answer: httpx.Response) -> None:
    assert answer.status_code == 503, answer.text
    assert answer.json()["error"]["code"] == "unavailable"
    assert answer.json()["error"]["message"]


async def issued(db: asyncpg.Pool, clinic_id: str) -> int:
    return int(
        await db.fetchval(
            "SELECT count(*) FROM journal WHERE clinic = $1 AND kind = 'ticket_issued'", clinic_id
        )
    )


async def test_a_read_cut_off_mid_query_is_503_and_the_retry_succeeds(
    redis_url: str, database_url: str, db: asyncpg.Pool
) -> None:
    """The token lookup's backend terminated mid-query: 503 with the JSON error, nothing
    issued; the same request with the same key then issues one ticket."""
    async with app_served(redis_url, database_url) as app:
        clinic_id, token = await new_clinic(app, db)
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://engine") as http:
            key = uuid.uuid4().hex
            async with table_locked(db, "tokens"):
                request = asyncio.create_task(take_ticket(http, clinic_id, token, key))
                await terminate_waiting(db, "%FROM tokens%")
                answer = await request
            assert_unavailable(answer)
            # Counted for the operator's alert (deploy/prometheus/alerts.yml: StoreErrors).
            metrics = parse_metrics((await http.get("/metrics")).text)
            assert sample(metrics, "clinicq_store_errors_total", store="postgres") == 1
            # What Redis applied may be journaled by `reconcile` before the retry: at most once.
            assert await issued(db, clinic_id) <= 1
            again = await take_ticket(http, clinic_id, token, key)
            assert again.status_code == 201, again.text
            repeated = await take_ticket(http, clinic_id, token, key)
            assert repeated.json() == again.json()
            assert await issued(db, clinic_id) == 1


async def test_a_journal_commit_cut_off_is_503_and_the_retry_journals_it_once(
    redis_url: str, database_url: str, db: asyncpg.Pool
) -> None:
    """The group commit's backend terminated mid-commit: 503, nothing journaled; the retry with
    the same key journals the decision once and answers it."""
    async with app_served(redis_url, database_url) as app:
        clinic_id, token = await new_clinic(app, db)
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://engine") as http:
            key = uuid.uuid4().hex
            async with table_locked(db, "journal_head"):
                request = asyncio.create_task(take_ticket(http, clinic_id, token, key))
                await terminate_waiting(db, WRITER_NAME)
                answer = await request
            assert_unavailable(answer)
            assert await issued(db, clinic_id) == 0
            metrics = parse_metrics((await http.get("/metrics")).text)
            assert sample(metrics, "clinicq_journal_failed_commits_total") == 1
            again = await take_ticket(http, clinic_id, token, key)
            assert again.status_code == 201, again.text
            assert await issued(db, clinic_id) == 1


@contextlib.asynccontextmanager
async def demoted(database_url: str, app: Starlette) -> AsyncIterator[None]:
    """Every connection cut and the server back read-only, as a demoted primary (or a standby)
    answers: writes fail with 25006. Writable again, every connection cut again, on exit."""
    admin = await asyncpg.connect(database_url)
    try:
        name = await admin.fetchval("SELECT current_database()")
        await admin.execute(f'ALTER DATABASE "{name}" SET default_transaction_read_only = on')
        try:
            await _cut_everything(admin, app)
            yield
        finally:
            await admin.execute(f'ALTER DATABASE "{name}" RESET default_transaction_read_only')
            await _cut_everything(admin, app)
    finally:
        await admin.close()


async def _cut_everything(admin: asyncpg.Connection, app: Starlette) -> None:
    """Terminate every other backend of the database, then wait (bounded) until the engine's
    pool answers on fresh connections: a request then meets the new server, not a dead socket."""
    await admin.execute(
        "SELECT pg_terminate_backend(pid, 5000) FROM pg_stat_activity "
        "WHERE datname = current_database() AND pid <> pg_backend_pid()"
    )
    engine: Engine = app.state.engine
    size = app.state.settings.database_pool_size

    async def fresh() -> bool:
        # As many at once as the pool holds, so that every one of its connections is tried.
        answers = await asyncio.gather(
            *(engine.pool.fetchval("SELECT pg_sleep(0.02)") for _ in range(size)),
            return_exceptions=True,
        )
        return not any(isinstance(a, BaseException) for a in answers)

    await eventually(fresh, "the pool on fresh connections")


async def test_a_demoted_primary_is_503_and_the_retry_succeeds_once_writable(
    redis_url: str, database_url: str, db: asyncpg.Pool, admin_token: str
) -> None:
    """The server answers read-only (ReadOnlySQLTransactionError): a configuration PUT and a
    ticket are 503 with the JSON error; once writable, both retried with their keys succeed
    and the ticket is journaled once."""
    async with app_served(redis_url, database_url) as app:
        clinic_id, token = await new_clinic(app, db)
        transport = httpx.ASGITransport(app=app)
        admin = {"Authorization": f"Bearer {admin_token}"}
        renamed = {**clinic_config(clinic_id), "name": "Поликлиника после отказа"}
        async with httpx.AsyncClient(transport=transport, base_url="http://engine") as http:
            await http.get(f"/api/v1/clinics/{clinic_id}/board", headers=admin)  # token cached
            key = uuid.uuid4().hex
            async with demoted(database_url, app):
                put = await http.put(f"/api/v1/clinics/{clinic_id}", json=renamed, headers=admin)
                assert_unavailable(put)
                assert_unavailable(await take_ticket(http, clinic_id, token, key))
            # Redis applied the ticket (the token was read from the read-only server), and any
            # worker's `reconcile` may journal it once the server is writable, before the retry:
            # at most once here, and exactly once after the retry.
            assert await issued(db, clinic_id) <= 1
            put = await http.put(f"/api/v1/clinics/{clinic_id}", json=renamed, headers=admin)
            assert put.status_code == 200, put.text
            again = await take_ticket(http, clinic_id, token, key)
            assert again.status_code == 201, again.text
            assert await issued(db, clinic_id) == 1


async def terminate_listener(db: asyncpg.Pool, listener: Listener) -> None:
    conn = listener.connection
    assert conn is not None
    assert await db.fetchval("SELECT pg_terminate_backend($1)", conn.get_server_pid())


async def test_config_listener_comes_back_and_refreshes(
    engine: tuple[Engine, Any], db: asyncpg.Pool, caplog: pytest.LogCaptureFixture
) -> None:
    """After the LISTEN connection is terminated, a change whose notification was lost is
    picked up (the refresh on reconnection), a later change is heard again, and the outage is
    logged once as lost and once as over."""
    caplog.set_level(logging.WARNING, logger="engine.listen_postgres")
    eng, _clock = engine
    clinic_id = f"listen-{uuid.uuid4().hex[:6]}"
    await eng.put_clinic(parse_clinic(clinic_config(clinic_id)))
    changed: list[str] = []
    listener = Listener(eng.database_url)
    await eng.follow_config(listener, changed.append)
    await listener.start()
    try:
        original = (await eng.clinic(clinic_id)).name

        async def rename(name: str, *, notify: bool) -> None:
            config = msgspec.json.encode(parse_clinic({**clinic_config(clinic_id), "name": name}))
            async with db.acquire() as conn, conn.transaction():
                await conn.execute(
                    "UPDATE clinics SET config = $2 WHERE id = $1", clinic_id, config.decode()
                )
                if notify:
                    await conn.execute("SELECT pg_notify($1, $2)", CONFIG_CHANNEL, clinic_id)

        def named(name: str) -> Callable[[], Awaitable[bool]]:
            async def check() -> bool:
                return (await eng.clinic(clinic_id)).name == name

            return check

        # Changed with no NOTIFY: as a notification lost in the outage would be.
        await rename("Поликлиника, пока слушатель был без связи", notify=False)
        assert (await eng.clinic(clinic_id)).name == original  # still the cached one
        await terminate_listener(db, listener)
        await eventually(named("Поликлиника, пока слушатель был без связи"), "the refresh")
        assert listener.reconnects >= 1
        assert clinic_id in changed
        await rename("Поликлиника после переподключения", notify=True)
        await eventually(named("Поликлиника после переподключения"), "a NOTIFY heard again")
        outage = [r.getMessage() for r in caplog.records if r.name == "engine.listen_postgres"]
        assert len(outage) == 2, outage
        assert "lost" in outage[0] and "listening again" in outage[1]
    finally:
        await listener.close()


async def test_token_listener_comes_back_and_refreshes(
    engine: tuple[Engine, Any], db: asyncpg.Pool
) -> None:
    """After the LISTEN connection is terminated, a token revoked unheard and one revoked
    after are both refused, and the push server's callback hears of both."""
    eng, _clock = engine
    book = TokenBook(eng.pool)
    revoked: list[str] = []
    listener = Listener(eng.database_url)
    await book.follow_revocations(listener, revoked.append)
    await listener.start()
    try:
        unheard_id, unheard = await create_token(db, "admin", label="failover-unheard")
        later_id, later = await create_token(db, "admin", label="failover-later")
        for secret in (unheard, later):
            await book.authenticate(f"Bearer {secret}")  # cached
        # Revoked with no NOTIFY: as a notification lost in the outage would be.
        await db.execute("UPDATE tokens SET revoked_at = now() WHERE id = $1", unheard_id)
        assert (await book.authenticate(f"Bearer {unheard}")).token_id == unheard_id  # cached
        await terminate_listener(db, listener)
        assert await revoke_tokens(db, token_id=later_id) == 1

        def refused(secret: str) -> Callable[[], Awaitable[bool]]:
            async def check() -> bool:
                try:
                    await book.authenticate(f"Bearer {secret}")
                except Unauthorized:
                    return True
                return False

            return check

        await eventually(refused(unheard), "the unheard revocation")
        await eventually(refused(later), "the revocation after the cut")
        await eventually(lambda: _has(revoked, unheard_id, later_id), "on_revoke for both")
        assert listener.reconnects >= 1
    finally:
        await listener.close()


async def _has(seen: list[str], *wanted: str) -> bool:
    return set(wanted) <= set(seen)


async def test_an_outage_of_many_attempts_is_logged_once(
    engine: tuple[Engine, Any], db: asyncpg.Pool, caplog: pytest.LogCaptureFixture
) -> None:
    """While the server refuses the listener's role, it keeps trying (quietly); once let in it
    listens again, hears a NOTIFY, and the outage made two warnings in all."""
    caplog.set_level(logging.DEBUG, logger="engine.listen_postgres")
    eng, _clock = engine
    heard: list[str] = []
    listener = Listener(eng.database_url)
    await listener.listen(CONFIG_CHANNEL, heard.append)
    await listener.start()
    conn = listener.connection
    assert conn is not None
    role = await db.fetchval(
        "SELECT usename FROM pg_stat_activity WHERE pid = $1", conn.get_server_pid()
    )
    try:
        await db.execute(f'ALTER ROLE "{role}" NOLOGIN')
        try:
            await terminate_listener(db, listener)

            async def refused_twice() -> bool:
                return sum("reconnecting failed" in r.getMessage() for r in caplog.records) >= 2

            await eventually(refused_twice, "two refused attempts")
        finally:
            await db.execute(f'ALTER ROLE "{role}" LOGIN')

        async def back() -> bool:
            return listener.reconnects >= 1

        await eventually(back, "the listener back")
        payload = uuid.uuid4().hex
        await db.execute("SELECT pg_notify($1, $2)", CONFIG_CHANNEL, payload)

        async def notified() -> bool:
            return payload in heard

        await eventually(notified, "a NOTIFY on the new connection")
        warnings = [
            r
            for r in caplog.records
            if r.name == "engine.listen_postgres" and r.levelno >= logging.WARNING
        ]
        assert len(warnings) == 2, [r.getMessage() for r in warnings]
    finally:
        await listener.close()
