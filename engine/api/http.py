"""The HTTP edge's plumbing: bounded JSON bodies, typed decoding, and errors as JSON."""

from __future__ import annotations

import logging
from typing import Any, TypeVar

import asyncpg
import msgspec
from redis.exceptions import RedisError
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from engine.api.allow import allowed_methods
from engine.errors import (
    BadRequest,
    EngineError,
    PayloadTooLarge,
    RateLimited,
    Unavailable,
    ValidationFailed,
)

log = logging.getLogger(__name__)
T = TypeVar("T")
_encoder = msgspec.json.Encoder()

# The third-party errors that mean a store did not answer, or answered that it cannot serve now:
# the socket broke (OSError, time-outs), PostgreSQL's connection-level errors (class 08, and
# asyncpg's own on a connection cut mid-operation: ``InterfaceError``, ``InternalClientError``
# "cannot switch to state ...; another operation is in progress"), a server shutting down or
# not yet up (57P01-57P05), one out of connections (53300), and a demoted primary or a standby
# that can only read (25006). During a failover any of them can escape any query a request
# makes; nothing was acknowledged, so each is a 503 the client may retry with its
# Idempotency-Key. One list, for every edge: the API's handlers (clinicq.app), the pages, push.
STORE_DOWN: tuple[type[Exception], ...] = (
    RedisError,
    OSError,  # TimeoutError and ConnectionError too
    asyncpg.PostgresConnectionError,
    asyncpg.InterfaceError,
    asyncpg.InternalClientError,
    asyncpg.AdminShutdownError,
    asyncpg.CrashShutdownError,
    asyncpg.CannotConnectNowError,
    asyncpg.IdleSessionTimeoutError,
    asyncpg.TooManyConnectionsError,
    asyncpg.ReadOnlySQLTransactionError,
)


class JSON(Response):
    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        return _encoder.encode(content)


async def read_body(request: Request, limit: int) -> bytes:
    """The request body, refused with 413 as soon as it passes ``limit`` bytes."""
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise PayloadTooLarge(f"the body is larger than {limit} bytes")
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise PayloadTooLarge(f"the body is larger than {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


async def decode_body(request: Request, type_: type[T], limit: int) -> tuple[T, bytes]:
    body = await read_body(request, limit)
    if not body.strip():
        body = b"{}"
    try:
        return msgspec.json.decode(body, type=type_), body
    except msgspec.ValidationError as exc:
        raise ValidationFailed(f"invalid body: {exc}") from exc
    except msgspec.DecodeError as exc:
        raise BadRequest(f"the body is not valid JSON: {exc}", code="malformed_json") from exc


def error_response(exc: EngineError) -> JSONResponse:
    headers = {}
    if isinstance(exc, RateLimited):
        headers["Retry-After"] = str(max(1, round(exc.retry_after + 0.5)))
    return JSONResponse(exc.to_json(), status_code=exc.status, headers=headers)


async def on_engine_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, EngineError)
    return error_response(exc)


def store_of(exc: BaseException) -> str:
    """Which store an error of ``STORE_DOWN`` came from: redis, postgres, or network (an
    ``OSError`` either client raised before it could say)."""
    if isinstance(exc, RedisError):
        return "redis"
    if isinstance(exc, asyncpg.PostgresError | asyncpg.InterfaceError):
        return "postgres"
    return "network"


async def on_http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    codes = {404: "route_not_found", 405: "method_not_allowed"}
    body = {"error": {"code": codes.get(exc.status_code, "http_error"), "message": exc.detail}}
    headers = dict(exc.headers or {})
    if exc.status_code == 405:
        # Every method the path takes, not only those of the first route that matched it.
        headers["Allow"] = ", ".join(allowed_methods(request.app.routes, request.scope))
    return JSONResponse(body, status_code=exc.status_code, headers=headers)


async def on_store_down(request: Request, exc: Exception) -> Response:
    """A store that does not answer is a 503 the client may retry, not an internal error."""
    log.warning(
        "store unavailable on %s %s: %s", request.method, _route(request), exc.__class__.__name__
    )
    metrics = getattr(request.app.state, "metrics", None)  # engine.api.ops.Metrics, when mounted
    if metrics is not None:
        metrics.store_errors.labels(store_of(exc)).inc()
    return error_response(
        Unavailable(f"a store did not answer ({exc.__class__.__name__}); retry shortly")
    )


async def on_client_gone(request: Request, exc: Exception) -> Response:
    """The client left mid-body: a normal event on a public network, not an error to log."""
    log.debug("client left during %s %s", request.method, _route(request))
    return Response(status_code=400)


async def on_unexpected(request: Request, exc: Exception) -> Response:
    log.exception("unexpected error on %s %s", request.method, _route(request))
    body = {"error": {"code": "internal", "message": "an internal error occurred; it was logged"}}
    return JSONResponse(body, status_code=500)


def _route(request: Request) -> str:
    """The route's template (``/t/{clinic}/{link}``), never the path: a path may carry a
    patient's status link, and logs are read by more people than the link's holder."""
    route = request.scope.get("route")
    return str(getattr(route, "path", "an unknown route"))
