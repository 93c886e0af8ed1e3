"""Back-pressure and outages: 429 with Retry-After per token, 503 while a store is down."""

from __future__ import annotations

import asyncio
from pathlib import Path

import asyncpg
import pytest

from engine.embedded import EmbeddedRedis
from tests.support import EngineServer, make_clinic

pytestmark = pytest.mark.integration


async def test_a_token_over_its_rate_gets_429_with_retry_after(
    redis_url: str, database_url: str, db: asyncpg.Pool, admin_token: str
) -> None:
    """Past its burst a token is told to wait; another token is not slowed by it."""
    server = EngineServer(
        redis_url,
        database_url,
        workers=1,
        extra_env={"CLINICQ_RATE_LIMIT": "2", "CLINICQ_RATE_BURST": "10"},
    ).start()
    c = await make_clinic(server, db, admin_token, f"rate-{server.port}")
    try:
        responses = await asyncio.gather(
            *(c.http.get(f"{c.api}/board", headers=c.auth("display")) for _ in range(30))
        )
        limited = [r for r in responses if r.status_code == 429]
        assert 15 <= len(limited) <= 20
        assert all(r.json()["error"]["code"] == "rate_limited" for r in limited)
        assert all(int(r.headers["Retry-After"]) >= 1 for r in limited)
        other = await c.http.get(f"{c.api}/board", headers=c.auth("head"))
        assert other.status_code == 200
    finally:
        await c.http.aclose()
        server.stop()


async def test_an_address_guessing_tokens_is_slowed_down(
    redis_url: str, database_url: str, db: asyncpg.Pool, admin_token: str
) -> None:
    """Past a budget of failed authentications, an address gets 429 with Retry-After for any
    token the worker does not know, without a lookup; a token it knows still works."""
    server = EngineServer(
        redis_url,
        database_url,
        workers=1,
        extra_env={"CLINICQ_AUTH_FAILURES_BURST": "5", "CLINICQ_AUTH_FAILURES_RATE": "0.2"},
    ).start()
    c = await make_clinic(server, db, admin_token, f"guess-{server.port}")
    try:
        known = await c.http.get(f"{c.api}/board", headers=c.auth("display"))
        assert known.status_code == 200
        guesses = [
            await c.http.get(f"{c.api}/board", headers={"Authorization": f"Bearer guess-{i}"})
            for i in range(8)
        ]
        assert [r.status_code for r in guesses] == [401] * 5 + [429] * 3
        assert guesses[-1].json()["error"]["code"] == "too_many_failed_logins"
        assert int(guesses[-1].headers["Retry-After"]) >= 1
        again = await c.http.get(f"{c.api}/board", headers=c.auth("display"))
        assert again.status_code == 200
    finally:
        await c.http.aclose()
        server.stop()


async def test_a_redis_outage_answers_503_and_recovers(
    tmp_path: Path, database_url: str, db: asyncpg.Pool, admin_token: str
) -> None:
    """Redis stops: writes get 503 JSON, not a hang or a traceback; Redis back: service resumes."""
    redis = EmbeddedRedis(tmp_path / "redis").start()
    server = EngineServer(
        redis.url, database_url, workers=1, extra_env={"CLINICQ_REDIS_CLUSTER": "0"}
    ).start()
    c = await make_clinic(server, db, admin_token, f"outage-{server.port}")
    try:
        ok = await c.http.post(
            f"{c.api}/tickets", json={"service": "therapy"}, headers=c.auth("kiosk")
        )
        assert ok.status_code == 201
        redis.stop()
        down = await c.http.post(
            f"{c.api}/tickets", json={"service": "therapy"}, headers=c.auth("kiosk")
        )
        assert down.status_code == 503
        assert down.json()["error"]["code"] in ("unavailable", "rebuilding")
        ready = await c.http.get("/readyz")
        assert ready.status_code == 503
        redis.start()  # same port and AOF: the clinic's state comes back
        back = await c.http.post(
            f"{c.api}/tickets", json={"service": "therapy"}, headers=c.auth("kiosk")
        )
        assert back.status_code == 201, back.text
        assert back.json()["number"] == "Т-002"
    finally:
        await c.http.aclose()
        server.stop()
        redis.stop()
