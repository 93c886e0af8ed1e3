"""A tiny Starlette app for the tests: stub auth sets the principal, engine errors render as
JSON, the notifier routes are mounted under /api/v1 as the engine will."""

from __future__ import annotations

from dataclasses import dataclass

import asyncpg
from starlette.applications import Starlette
from starlette.middleware.base import BaseHTTPMiddleware, RequestResponseEndpoint
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Mount

from engine.errors import EngineError
from notifier.api import create_service, routes
from notifier.settings import NotifierSettings


@dataclass
class Principal:
    role: str
    clinic: str | None
    doctor: str | None
    token_id: str


class StubAuth(BaseHTTPMiddleware):
    async def dispatch(self, request: Request, call_next: RequestResponseEndpoint) -> Response:
        request.state.principal = Principal(
            request.headers.get("x-role", "icu_doctor"),
            request.headers.get("x-clinic", "c1"),
            "d1",
            "tok1",
        )
        return await call_next(request)


async def render(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, EngineError)
    return JSONResponse(exc.to_json(), status_code=exc.status)


def build_app(pool: asyncpg.Pool, settings: NotifierSettings) -> Starlette:
    app = Starlette(
        routes=[Mount("/api/v1", routes=routes)], exception_handlers={EngineError: render}
    )
    app.add_middleware(StubAuth)
    app.state.sms = create_service(pool, settings)
    return app
