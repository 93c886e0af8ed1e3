"""One way to open the engine on its stores, and the background upkeep of a serving process.

The HTTP workers, the push processes, the CLI and the tests all open the engine here, so the
Redis client (single server or cluster, retry policy, pool size), the schema, the least-privilege
role and the loaded scripts are the same everywhere.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import asyncpg

from engine.clinic import DEMO_CLINICS, load_clinics
from engine.database import prepare
from engine.journal_postgres import Journal
from engine.redis_client import connect
from engine.service import Engine, wall_clock_ms
from engine.settings import Settings
from engine.store_redis import RedisStore

log = logging.getLogger(__name__)
CHECK_EVERY_SECONDS = 2.0
RECONCILE_EVERY_ROUNDS = 5
PARTITION_EVERY_ROUNDS = 1800  # about an hour

Schema = Callable[[asyncpg.Pool], Awaitable[None]]


async def open_engine(
    settings: Settings,
    *,
    schemas: Sequence[Schema] = (),
    writer: bool = True,
    seed: bool = False,
    clock: Callable[[], int] = wall_clock_ms,
) -> Engine:
    """Connect the stores, prepare the schema (and the parts' ``schemas``) and the scripts, load
    the clinics. ``writer`` starts the journal's group commit (a push process only reads and
    rebuilds); ``seed`` stores the configured clinics (or the demo) when there are none and
    brings each clinic's live state up to its journal."""
    if not (settings.redis_url and settings.database_url):
        raise ValueError("open_engine needs settings.redis_url and settings.database_url")
    engine_url = await prepare(settings.database_url, settings.engine_database_url, schemas=schemas)
    pool = await asyncpg.create_pool(engine_url, min_size=1, max_size=settings.database_pool_size)
    client = connect(
        settings.redis_url,
        cluster=settings.redis_cluster,
        max_connections=settings.redis_max_connections,
    )
    try:
        store = RedisStore(
            client,
            stream_max=settings.stream_max_len,
            idempotency_ttl=settings.idempotency_ttl_seconds,
        )
        await store.load_scripts()
        journal = Journal(pool, engine_url, max_batch=settings.group_commit_max_batch)
        engine = Engine(
            store,
            journal,
            pool,
            hold_seconds=settings.hold_seconds,
            idempotency_ttl=settings.idempotency_ttl_seconds,
            clock=clock,
        )
        engine.database_url = engine_url
        await engine.load_clinics()
    except BaseException:
        await pool.close()
        await client.aclose()
        raise
    if writer:
        journal.start()
    if seed:
        if not engine.clinics:
            for clinic in load_clinics(settings.clinics_file or DEMO_CLINICS):
                await engine.put_clinic(clinic)
        for clinic_id in engine.clinics:
            await engine.reconcile(clinic_id)
    return engine


async def close_engine(engine: Engine) -> None:
    await engine.journal.close()
    await engine.pool.close()
    await engine.store.client.aclose()


async def upkeep(engine: Engine) -> None:
    """Forever: catch a live state that fell behind the journal, take due snapshots, keep the
    journal whole (orphaned events), pick up clinics other workers added, prepare next month's
    partition."""
    rounds = 0
    while True:
        await asyncio.sleep(CHECK_EVERY_SECONDS)
        rounds += 1
        # Each task on its own: one failing (a transient outage) must not hold up the others
        # nor end the loop.
        tasks: list[tuple[str, Callable[[], Awaitable[Any]]]] = [("maintain", engine.maintain)]
        if rounds % RECONCILE_EVERY_ROUNDS == 0:
            tasks.append(("reconcile", lambda: reconcile_all(engine)))
        if rounds % PARTITION_EVERY_ROUNDS == 1:
            tasks.append(("partitions", engine.journal.ensure_partitions))
        for name, task in tasks:
            try:
                await task()
            except Exception as exc:
                log.warning("background %s failed: %s", name, exc.__class__.__name__)


async def reconcile_all(engine: Engine) -> None:
    await engine.load_clinics()
    for clinic_id in list(engine.clinics):
        try:
            await engine.reconcile(clinic_id)
        except Exception as exc:
            log.warning("clinic %s: reconcile failed: %s", clinic_id, exc.__class__.__name__)
