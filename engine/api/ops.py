"""What a serving process shows about itself: request metrics, the engine's recovery counters,
liveness and readiness."""

from __future__ import annotations

import time
from typing import Any

import msgspec
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
)
from prometheus_client.core import CounterMetricFamily
from starlette.applications import Starlette
from starlette.responses import JSONResponse, Response
from starlette.types import ASGIApp, Receive, Scope, Send

from engine.api.endpoint import Call
from engine.api.handlers import authenticate
from engine.api.http import JSON
from engine.errors import Forbidden
from engine.service import Engine


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
    snapshots taken and refused, and the journal's group commits."""

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
        sources = {
            "engine": engine,
            "snapshots": engine.snapshots if engine else None,
            "journal": engine.journal if engine else None,
        }
        for name, text, where, value in (
            ("clinicq_rebuilds", "Clinics rebuilt from the journal", "engine", "rebuilds"),
            ("clinicq_snapshots", "Snapshots taken", "snapshots", "taken"),
            ("clinicq_snapshots_refused", "Snapshots that did not hold against the journal",
             "snapshots", "rejected"),
            ("clinicq_journal_commits", "Group commits of journal entries", "journal", "batches"),
        ):  # fmt: skip
            family = CounterMetricFamily(name, text)
            source = sources[where]
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


class Status(msgspec.Struct):
    status: str


async def healthz(call: Call) -> Response:
    return JSON(Status("ok"))


async def readyz(call: Call) -> Response:
    engine = call.engine
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
    return JSON(Status("ready"))


LOOPBACK = frozenset({"127.0.0.1", "::1", "localhost"})


async def metrics_endpoint(call: Call) -> Response:
    """Prometheus metrics, to whom ``CLINICQ_METRICS`` allows: ``loopback`` (the default: a
    scraper on the same host, or behind a proxy that restricts it), ``token`` (an admin
    token), or ``public``."""
    request = call.request
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
