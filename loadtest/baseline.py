"""The benchmark's bare baseline: the same stack (Starlette, uvicorn, redis-py) taking a ticket
with one Lua script, and nothing else: no journal, no events, no auth, no idempotency."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

import msgspec
import redis.asyncio as aioredis
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from engine.settings import Settings

TAKE = """
local seq = redis.call('HINCRBY', KEYS[1], ARGV[1], 1)
local id = 't' .. seq
redis.call('HSET', KEYS[2], id, ARGV[1])
return seq
"""


def app() -> Starlette:
    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        client = aioredis.from_url(Settings.from_env().redis_url or "redis://127.0.0.1:6379")
        app.state.script = client.register_script(TAKE)
        yield
        await client.aclose()

    async def take(request: Request) -> Response:
        body = msgspec.json.decode(await request.body())
        clinic = request.path_params["clinic"]
        seq = await request.app.state.script(
            keys=[f"b:{{{clinic}}}:seq", f"b:{{{clinic}}}:tickets"], args=[body["service"]]
        )
        return Response(
            msgspec.json.encode({"id": f"t{seq}", "number": f"Т-{seq:03d}"}),
            status_code=201,
            media_type="application/json",
        )

    return Starlette(
        routes=[Route("/api/v1/clinics/{clinic}/tickets", take, methods=["POST"])],
        lifespan=lifespan,
    )
