"""Fixtures: a real PostgreSQL pool with the sms_ schema, a real SMSC-compatible server on
loopback, and settings scaled to test time."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from dataclasses import replace
from datetime import time, timedelta

import asyncpg
import httpx
import pytest
from fake_smsc import LOGIN, PASSWORD, FakeSmsc, ServerThread
from sms_app import build_app
from sms_helpers import CALLBACK_SECRET, KEY, UNIT

from engine.journal_postgres import apply_schema
from notifier.crypto import PhoneCipher
from notifier.outbox_postgres import Outbox
from notifier.settings import HospitalSchedule, NotifierSettings
from notifier.store_postgres import SmsStore, init_schema


@pytest.fixture(scope="session")
def smsc_server() -> Iterator[tuple[FakeSmsc, ServerThread]]:
    fake = FakeSmsc(hang=3 * UNIT, slow=0.3 * UNIT)
    server = ServerThread(fake.app()).start()
    try:
        yield fake, server
    finally:
        server.stop()


@pytest.fixture
def smsc(smsc_server: tuple[FakeSmsc, ServerThread]) -> FakeSmsc:
    smsc_server[0].reset()
    return smsc_server[0]


@pytest.fixture
def settings(smsc_server: tuple[FakeSmsc, ServerThread]) -> NotifierSettings:
    """Always due (send at 00:00, no quiet hours) unless a test replaces the schedule."""
    return NotifierSettings(
        smsc_url=smsc_server[1].url,
        smsc_login=LOGIN,
        smsc_password=PASSWORD,
        encryption_key=KEY,
        default_schedule=HospitalSchedule(
            tz="Europe/Moscow", send_at=time(0, 0), quiet_start=time(0, 0), quiet_end=time(0, 0)
        ),
        http_timeout=UNIT,
        lease=timedelta(seconds=2.5 * UNIT),
        retry_base=timedelta(seconds=0.05 * UNIT),
        retry_max=timedelta(seconds=0.5 * UNIT),
        poll_base=timedelta(seconds=0.05 * UNIT),
        poll_max=timedelta(seconds=0.2 * UNIT),
        idle_sleep=0.05,
        balance_every=timedelta(hours=1),
        max_attempts=6,
    )


@pytest.fixture(scope="session")
async def pool(database_url: str) -> AsyncIterator[asyncpg.Pool]:
    pool = await asyncpg.create_pool(database_url, min_size=1, max_size=8)
    await apply_schema(pool)  # the engine's: the hospitals' configurations live in `clinics`
    await init_schema(pool)
    try:
        yield pool
    finally:
        await pool.close()


@pytest.fixture
async def store(pool: asyncpg.Pool) -> SmsStore:
    store = SmsStore(pool, PhoneCipher(KEY))
    await store.truncate()
    return store


@pytest.fixture
def outbox(pool: asyncpg.Pool) -> Outbox:
    return Outbox(pool, PhoneCipher(KEY))


@pytest.fixture
def cb_settings(settings: NotifierSettings) -> NotifierSettings:
    """The settings with SMSC's callbacks on (replies and delivery reports)."""
    return replace(settings, smsc_callback_secret=CALLBACK_SECRET)


@pytest.fixture
async def http(
    pool: asyncpg.Pool, cb_settings: NotifierSettings
) -> AsyncIterator[httpx.AsyncClient]:
    """The notifier's endpoints, callbacks on, over ASGI (everything behind them real)."""
    transport = httpx.ASGITransport(app=build_app(pool, cb_settings))
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        yield client


@pytest.fixture
async def client(
    store: SmsStore, pool: asyncpg.Pool, settings: NotifierSettings
) -> AsyncIterator[httpx.AsyncClient]:
    """The notifier's endpoints as the stub tokens' ICU doctor of clinic c1 calls them (a
    test may give c1 a configuration; it is removed afterwards)."""
    transport = httpx.ASGITransport(app=build_app(pool, settings))
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as c:
        yield c
    await pool.execute("DELETE FROM clinics WHERE id = 'c1'")
