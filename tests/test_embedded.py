"""The embedded servers that `make run` and the suite start really answer."""

import asyncpg
import pytest

from tests.support import redis_client

pytestmark = pytest.mark.integration


async def test_redis_answers(redis_url: str) -> None:
    """The Redis-compatible server runs Lua."""
    client = redis_client(redis_url)
    try:
        assert await client.eval("return 40 + 2", 0) == 42
    finally:
        await client.aclose()


async def test_postgres_answers(database_url: str) -> None:
    """PostgreSQL accepts a connection and a query."""
    conn = await asyncpg.connect(database_url)
    try:
        assert await conn.fetchval("SELECT 40 + 2") == 42
    finally:
        await conn.close()
