"""An engine worker's cached clinic configuration follows every change at once (NOTIFY), even
one that lands while the worker is fetching the configuration it replaces."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import asyncpg
import msgspec
import pytest

from engine.clinic import parse_clinic
from engine.service import CONFIG_CHANNEL, Engine
from tests.support import clinic_config

pytestmark = pytest.mark.integration


class FetchThenChange:
    """The engine's pool, but a config fetch returns only after another worker's PUT (as SQL:
    update and NOTIFY) has committed and been heard: the fetched row predates the change."""

    def __init__(self, pool: asyncpg.Pool, change: Any) -> None:
        self._pool = pool
        self._change = change

    def __getattr__(self, name: str) -> Any:
        return getattr(self._pool, name)

    async def fetchval(self, *args: Any) -> Any:
        raw = await self._pool.fetchval(*args)
        await self._change()
        return raw


async def test_a_fetch_overlapping_a_change_is_not_cached(engine: tuple[Engine, Any]) -> None:
    """Fetched before the change, heard after it: the next read gets the new name."""
    eng, _clock = engine
    clinic_id = f"cache-{uuid.uuid4().hex[:6]}"
    await eng.put_clinic(parse_clinic(clinic_config(clinic_id)))
    listener = await eng.listen_for_config(eng.database_url)
    heard = asyncio.Event()
    # Listeners on one connection run in order: this one runs after the engine's own.
    await listener.listen(CONFIG_CHANNEL, lambda _: heard.set())
    renamed = {**clinic_config(clinic_id), "name": "Поликлиника после правки"}

    async def change() -> None:
        heard.clear()
        async with eng.pool.acquire() as conn, conn.transaction():
            await conn.execute(
                "UPDATE clinics SET config = $2 WHERE id = $1",
                clinic_id,
                msgspec.json.encode(parse_clinic(renamed)).decode(),
            )
            await conn.execute("SELECT pg_notify($1, $2)", CONFIG_CHANNEL, clinic_id)
        await asyncio.wait_for(heard.wait(), timeout=10.0)

    real = eng.pool
    try:
        eng.clinics.pop(clinic_id, None)
        eng.pool = FetchThenChange(real, change)  # type: ignore[assignment]
        assert (await eng.clinic(clinic_id)).name == clinic_config(clinic_id)["name"]
        eng.pool = real
        assert (await eng.clinic(clinic_id)).name == "Поликлиника после правки"
    finally:
        eng.pool = real
        await listener.close()
