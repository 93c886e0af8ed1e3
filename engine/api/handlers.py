"""What every handler does at the edge: find the engine, authenticate, read a bounded JSON
body, and scope an Idempotency-Key to the token that sent it."""

from __future__ import annotations

import re
from typing import Any

import msgspec
from starlette.requests import Request

from engine.api.http import decode_body
from engine.auth import Principal
from engine.errors import BadRequest
from engine.service import Engine
from engine.store_redis import fingerprint

IDEM_PATTERN = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")


class Empty(msgspec.Struct, forbid_unknown_fields=True):
    pass


def engine_of(request: Request) -> Engine:
    engine: Engine = request.app.state.engine
    return engine


async def authenticate(request: Request) -> Principal:
    principal: Principal = await request.app.state.tokens.authenticate(
        request.headers.get("authorization"), request.client.host if request.client else None
    )
    request.app.state.limiter.check(principal.token_id)
    request.state.principal = principal
    return principal


def idempotency(request: Request, principal: Principal, body: bytes) -> tuple[str, str]:
    key = request.headers.get("idempotency-key")
    if key is None:
        return "", ""
    if not IDEM_PATTERN.match(key):
        raise BadRequest(
            "Idempotency-Key must be 1-128 of A-Z a-z 0-9 . _ : -", code="bad_idempotency_key"
        )
    return f"{principal.token_id}:{key}", fingerprint(request.method, request.url.path, body)


async def read_json(request: Request, type_: Any) -> tuple[Any, bytes]:
    return await decode_body(request, type_, request.app.state.settings.max_body_bytes)
