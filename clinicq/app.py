"""``create_app(settings)``: the engine's routes and every part's, with one lifespan.

This is the one place that knows all the parts: the engine underneath, the screens' pages, the
kiosk printers, the ICU notifier and the simulator's what-if page on top.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect, Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route

import displays.pages
import notifier.api
from clinicq import openapi
from clinicq.parts import ENDPOINTS, SCHEMAS
from clinicq.settings import Settings
from engine.api import endpoint
from engine.api.allow import AnswerOptions
from engine.api.http import (
    STORE_DOWN,
    on_client_gone,
    on_engine_error,
    on_http_error,
    on_store_down,
    on_unexpected,
)
from engine.api.metrics_port import serve_metrics
from engine.api.ops import Metrics, MetricsMiddleware, RecoveryCollector, metrics_answerer
from engine.auth import RateLimiter, TokenBook
from engine.errors import EngineError
from engine.listen_postgres import Listener
from engine.runtime import close_engine, open_engine, upkeep
from notifier import worker as sms_worker
from notifier.metrics import SmsMetrics
from ticketing.records_postgres import PrintJournal
from ticketing.records_redis import PrintRecords
from ticketing.service import PrintService


async def openapi_json(request: Request) -> Response:
    return Response(openapi.spec_json(), media_type="application/json")


async def docs(request: Request) -> Response:
    return HTMLResponse(openapi.docs_html())


ROUTES = [
    *endpoint.routes(ENDPOINTS),
    Route("/openapi.json", openapi_json),
    Route("/docs", docs),
    *displays.pages.routes,
]


def create_app(settings: Settings) -> Starlette:
    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        engine = await open_engine(settings, schemas=SCHEMAS, seed=True)
        app.state.engine = engine
        engine.on_events.append(metrics.events)
        app.state.tokens = TokenBook(
            engine.pool,
            failures_per_second=settings.auth_failures_per_second,
            failures_burst=settings.auth_failures_burst,
        )
        sender = None
        if settings.sms_enabled:
            app.state.sms = notifier.api.create_service(
                engine.pool, settings.notifier, max_body_bytes=settings.max_body_bytes
            )
        if settings.sms_sending:
            sender = await sms_worker.start_worker(
                engine.pool, settings.notifier, metrics=sms_metrics
            )
        task = asyncio.create_task(upkeep(engine))
        # One LISTEN connection for configuration changes and revoked tokens, reopened when it
        # is lost (a failover), and then both caches are refreshed.
        listener = Listener(engine.database_url)
        await engine.follow_config(listener)
        await app.state.tokens.follow_revocations(listener)
        await listener.start()
        port = None
        if settings.metrics_port:
            # This worker's own metrics: one target a worker for Prometheus (engine/api/metrics_port).
            answer = metrics_answerer(settings.metrics_access, app.state.tokens, metrics.registry)
            first = settings.metrics_port
            port = await serve_metrics(
                settings.host, range(first, first + settings.workers), answer
            )
        journal = PrintJournal(engine.pool)  # print jobs outlive a Redis loss
        app.state.printing = PrintService(PrintRecords(engine.store.client, journal))
        await app.state.printing.start()
        try:
            yield
        finally:
            await app.state.printing.close()
            if port is not None:
                port.close()
            if sender is not None:
                await sms_worker.stop_worker(sender)
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
            await listener.close()
            await close_engine(engine)

    metrics = Metrics()
    sms_metrics = SmsMetrics(metrics.registry) if settings.sms_sending else None
    app = Starlette(
        routes=ROUTES,
        lifespan=lifespan,
        exception_handlers={
            ClientDisconnect: on_client_gone,
            EngineError: on_engine_error,
            HTTPException: on_http_error,
            **dict.fromkeys(STORE_DOWN, on_store_down),
            Exception: on_unexpected,
        },
    )
    app.state.settings = settings
    app.state.metrics = metrics
    metrics.registry.register(RecoveryCollector(app))
    app.state.limiter = RateLimiter(settings.rate_limit_per_second, settings.rate_limit_burst)
    app.add_middleware(AnswerOptions, routes=app.routes)
    app.add_middleware(MetricsMiddleware, metrics=metrics)
    return app
