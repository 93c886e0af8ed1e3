"""A tiny Starlette app for the tests: stub tokens make the principal from ``x-role`` and
``x-clinic`` headers, engine errors render as JSON, and the notifier's endpoints are mounted
from their declarations as the assembly mounts them."""

from __future__ import annotations

from types import SimpleNamespace

import asyncpg
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.types import ASGIApp, Receive, Scope, Send

from engine.api.endpoint import routes
from engine.auth import Principal
from engine.errors import EngineError
from notifier.api import ENDPOINTS, create_service
from notifier.callbacks import ENDPOINTS as CALLBACKS
from notifier.settings import NotifierSettings


class StubTokens:
    """Every request is the principal its test headers name (the default: an ICU doctor)."""

    async def authenticate(self, header: str | None, client: str | None = None) -> Principal:
        role, _, clinic = (header or "").removeprefix("Bearer ").partition("|")
        return Principal("tok1", role or "icu_doctor", clinic or "c1", "d1")


class NoLimit:
    def check(self, who: str) -> None:
        pass


async def render(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, EngineError)
    return JSONResponse(exc.to_json(), status_code=exc.status)


class AsBearer:
    """The tests name the principal in two headers; the engine reads Authorization."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            headers = dict(scope["headers"])
            role = headers.get(b"x-role", b"").decode()
            clinic = headers.get(b"x-clinic", b"").decode()
            headers[b"authorization"] = f"Bearer {role}|{clinic}".encode()
            scope = {**scope, "headers": list(headers.items())}
        await self.app(scope, receive, send)


def build_app(pool: asyncpg.Pool, settings: NotifierSettings) -> Starlette:
    app = Starlette(
        routes=routes([*ENDPOINTS, *CALLBACKS]),
        exception_handlers={EngineError: render},
        middleware=[Middleware(AsBearer)],
    )
    app.state.sms = create_service(pool, settings)
    app.state.tokens = StubTokens()
    app.state.limiter = NoLimit()
    app.state.settings = SimpleNamespace(max_body_bytes=64 * 1024)
    return app
