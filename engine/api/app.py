"""``create_app(settings)``: the Starlette application, its routes and its lifespan."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import asyncpg
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
)
from prometheus_client.core import CounterMetricFamily
from redis.exceptions import RedisError
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import ClientDisconnect, Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

import clinic_sim.api
import displays.pages
import notifier.api
import ticketing.api
from engine.api import booking, openapi, routes
from engine.api.auth import RateLimiter, TokenBook
from engine.api.handlers import authenticate
from engine.api.http import (
    JSON,
    on_client_gone,
    on_engine_error,
    on_http_error,
    on_store_down,
    on_unexpected,
)
from engine.clinic import DEMO_CLINICS, load_clinics
from engine.database import prepare
from engine.errors import EngineError, Forbidden
from engine.journal_postgres import Journal
from engine.redis_client import connect
from engine.service import Engine
from engine.settings import Settings
from engine.store_redis import RedisStore
from notifier import worker as sms_worker
from notifier.store_postgres import init_schema as init_sms_schema
from ticketing.records_redis import PrintRecords
from ticketing.service import PrintService

log = logging.getLogger(__name__)
CHECK_EVERY_SECONDS = 2.0
RECONCILE_EVERY_ROUNDS = 5
PARTITION_EVERY_ROUNDS = 1800  # about an hour


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "clinicq_http_requests",
            "HTTP requests",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "clinicq_http_seconds",
            "HTTP request latency",
            ["method", "route"],
            registry=self.registry,
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5),
        )


class RecoveryCollector:
    """The engine's recovery counters, read at scrape time: fences by cause, rebuilds,
    snapshots taken and refused."""

    def __init__(self, app: Starlette) -> None:
        self.app = app

    def collect(self) -> Any:
        engine: Engine | None = getattr(self.app.state, "engine", None)
        fenced = CounterMetricFamily(
            "clinicq_fenced",
            "Clinics fenced because their live state was not the journal's history",
            labels=["why"],
        )
        for why in ("behind", "diverged", "clash", "hole"):
            fenced.add_metric([why], engine.fenced[why] if engine else 0)
        yield fenced
        for name, text, value in (
            ("clinicq_rebuilds", "Clinics rebuilt from the journal", "rebuilds"),
            ("clinicq_snapshots", "Snapshots taken", "taken"),
            ("clinicq_snapshots_refused", "Snapshots that did not hold against the journal",
             "rejected"),
        ):  # fmt: skip
            family = CounterMetricFamily(name, text)
            source = engine if value == "rebuilds" else (engine.snapshots if engine else None)
            family.add_metric([], getattr(source, value) if source else 0)
            yield family


class MetricsMiddleware:
    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started, status = time.perf_counter(), 500

        async def tap(message: Any) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, tap)
        finally:
            route = scope.get("route")
            name = getattr(route, "path", "unmatched")
            self.metrics.requests.labels(scope["method"], name, str(status)).inc()
            self.metrics.latency.labels(scope["method"], name).observe(
                time.perf_counter() - started
            )


async def healthz(request: Request) -> Response:
    return JSONResponse({"status": "ok"})


async def readyz(request: Request) -> Response:
    engine: Engine = request.app.state.engine
    problems = []
    try:
        await engine.store.client.ping()
    except Exception:
        problems.append("redis")
    try:
        await engine.pool.fetchval("SELECT 1")
    except Exception:
        problems.append("postgres")
    if not engine.store._scripts:
        problems.append("scripts")
    if problems:
        body = {"error": {"code": "not_ready", "message": "unreachable: " + ", ".join(problems)}}
        return JSONResponse(body, status_code=503)
    # A yes or no: which clinics this server holds is nobody's business before a token.
    return JSONResponse({"status": "ready"})


LOOPBACK = frozenset({"127.0.0.1", "::1", "localhost"})


async def metrics_endpoint(request: Request) -> Response:
    """Prometheus metrics, to whom ``CLINICQ_METRICS`` allows: ``loopback`` (the default: a
    scraper on the same host, or behind a proxy that restricts it), ``token`` (an admin
    token), or ``public``."""
    access = request.app.state.settings.metrics_access
    if access == "loopback" and (request.client is None or request.client.host not in LOOPBACK):
        raise Forbidden("metrics are served to this host only (CLINICQ_METRICS)")
    if access == "token":
        principal = await authenticate(request)
        if principal.role != "admin":
            raise Forbidden("metrics need an admin token (CLINICQ_METRICS=token)")
    return Response(
        generate_latest(request.app.state.metrics.registry), media_type=CONTENT_TYPE_LATEST
    )


async def openapi_json(request: Request) -> Response:
    return JSON(openapi.spec())


async def docs(request: Request) -> Response:
    return HTMLResponse(openapi.docs_html())


class Authenticated:
    """Sets ``request.state.principal`` for routes that read it (the ICU routes)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            scope.setdefault("state", {})
            await authenticate(Request(scope))  # sets request.state.principal
        await self.app(scope, receive, send)


API = "/api/v1/clinics/{clinic}"
ROUTES = [
    Route("/healthz", healthz),
    Route("/readyz", readyz),
    Route("/metrics", metrics_endpoint),
    Route("/openapi.json", openapi_json),
    Route("/docs", docs),
    Route(API, routes.get_clinic, methods=["GET"]),
    Route(API, routes.put_clinic, methods=["PUT"]),
    Route(API + "/tickets", routes.take_ticket, methods=["POST"]),
    Route(API + "/tickets/{ticket}", routes.get_ticket, methods=["GET"]),
    Route(API + "/tickets/{ticket}/{action}", routes.ticket_action, methods=["POST"]),
    Route(API + "/cabinets/{cabinet}/call-next", routes.call_next, methods=["POST"]),
    Route(API + "/doctors/{doctor}/duty", routes.put_duty, methods=["PUT"]),
    Route(API + "/board", routes.get_board, methods=["GET"]),
    Route(API + "/slots", booking.list_slots, methods=["GET"]),
    Route(API + "/slots/{slot}/reservation", booking.reserve_slot, methods=["POST"]),
    Route(API + "/slots/{slot}/reservation", booking.cancel_slot, methods=["DELETE"]),
    Route(API + "/reservations/{reservation}", booking.get_reservation, methods=["GET"]),
    Route(
        API + "/reservations/{reservation}/{action}", booking.reservation_action, methods=["POST"]
    ),
    *displays.pages.routes,
    *clinic_sim.api.routes,
    *ticketing.api.routes,
    # The ICU routes read request.state.principal; one Route each (not a Mount, which would
    # swallow every /api/v1 path and turn a wrong method elsewhere into a 404).
    *[
        Route(
            "/api/v1" + r.path,
            r.endpoint,
            methods=sorted(r.methods or ()),
            middleware=[Middleware(Authenticated)],
        )
        for r in notifier.api.routes
        if isinstance(r, Route)
    ],
]


async def open_engine(settings: Settings) -> Engine:
    """Connect the stores, prepare schema and scripts, load clinics (seeding the demo if none)."""
    assert settings.redis_url and settings.database_url, "stores must be configured"
    client = connect(settings.redis_url, cluster=settings.redis_cluster)
    engine_url = await prepare(
        settings.database_url, settings.engine_database_url, schemas=[init_sms_schema]
    )
    pool = await asyncpg.create_pool(engine_url, min_size=1, max_size=10)
    store = RedisStore(
        client, stream_max=settings.stream_max_len, idempotency_ttl=settings.idempotency_ttl_seconds
    )
    await store.load_scripts()
    journal = Journal(pool, max_batch=settings.group_commit_max_batch)
    journal.start()
    engine = Engine(
        store,
        journal,
        pool,
        hold_seconds=settings.hold_seconds,
        idempotency_ttl=settings.idempotency_ttl_seconds,
    )
    engine.database_url = engine_url
    await engine.load_clinics()
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


async def _background(engine: Engine) -> None:
    """Catch a live state that fell behind the journal, take due snapshots, keep the journal
    whole (orphaned events), pick up clinics other workers added, prepare next month's
    partition."""
    rounds = 0
    while True:
        await asyncio.sleep(CHECK_EVERY_SECONDS)
        rounds += 1
        # Each task on its own: one failing (a transient outage) must not hold up the others
        # nor end the loop.
        tasks: list[tuple[str, Callable[[], Awaitable[Any]]]] = [("maintain", engine.maintain)]
        if rounds % RECONCILE_EVERY_ROUNDS == 0:
            tasks.append(("reconcile", lambda: _reconcile_all(engine)))
        if rounds % PARTITION_EVERY_ROUNDS == 1:
            tasks.append(("partitions", engine.journal.ensure_partitions))
        for name, task in tasks:
            try:
                await task()
            except Exception as exc:
                log.warning("background %s failed: %s", name, exc.__class__.__name__)


async def _reconcile_all(engine: Engine) -> None:
    await engine.load_clinics()
    for clinic_id in list(engine.clinics):
        try:
            await engine.reconcile(clinic_id)
        except Exception as exc:
            log.warning("clinic %s: reconcile failed: %s", clinic_id, exc.__class__.__name__)


def create_app(settings: Settings) -> Starlette:
    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        engine = await open_engine(settings)
        app.state.engine = engine
        app.state.tokens = TokenBook(
            engine.pool,
            failures_per_second=settings.auth_failures_per_second,
            failures_burst=settings.auth_failures_burst,
        )
        sender = None
        if settings.sms_enabled:
            app.state.sms = notifier.api.create_service(
                engine.pool, settings.notifier(), max_body_bytes=settings.max_body_bytes
            )
        if settings.sms_sending:
            sender = await sms_worker.start_worker(engine.pool, settings.notifier())
        task = asyncio.create_task(_background(engine))
        listener = await engine.listen_for_config(engine.database_url)
        await app.state.tokens.follow_revocations(listener)
        app.state.printing = PrintService(PrintRecords(engine.store.client))
        await app.state.printing.start()
        try:
            yield
        finally:
            await app.state.printing.close()
            if sender is not None:
                await sms_worker.stop_worker(sender)
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
            await listener.close()
            await close_engine(engine)

    metrics = Metrics()
    app = Starlette(
        routes=ROUTES,
        lifespan=lifespan,
        exception_handlers={
            ClientDisconnect: on_client_gone,
            EngineError: on_engine_error,
            HTTPException: on_http_error,
            RedisError: on_store_down,
            OSError: on_store_down,
            asyncpg.PostgresConnectionError: on_store_down,
            asyncpg.InterfaceError: on_store_down,
            Exception: on_unexpected,
        },
    )
    app.state.settings = settings
    app.state.metrics = metrics
    metrics.registry.register(RecoveryCollector(app))
    app.state.limiter = RateLimiter(settings.rate_limit_per_second, settings.rate_limit_burst)
    app.add_middleware(MetricsMiddleware, metrics=metrics)
    return app
