"""What a serving process shows about itself: request metrics, queue waits, store errors, the
engine's recovery and journal counters, liveness and readiness.

Labels stay bounded: routes are the app's route templates, clinics are the configured ones
(hundreds), stores and causes are short fixed lists. ``deploy/prometheus`` alerts on these."""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

import msgspec
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
)
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from starlette.applications import Starlette
from starlette.responses import JSONResponse, Response
from starlette.types import ASGIApp, Receive, Scope, Send

from engine.api.endpoint import Call
from engine.api.http import JSON
from engine.api.metrics_port import Answer, Answerer
from engine.auth import TokenBook
from engine.errors import EngineError, Forbidden, Unavailable
from engine.model import events as ev
from engine.service import Engine

# From issue to call, in seconds: minutes to hours, with the default policy's yellow (20 min)
# and red (40 min) as bounds, which deploy/prometheus/alerts.yml's QueueWaitLong compares with.
WAIT_BUCKETS = (60, 300, 600, 900, 1200, 1800, 2400, 3600, 5400, 7200, 10800)


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
        self.store_errors = Counter(
            "clinicq_store_errors",
            "Requests answered 503 because a store did not answer, by store",
            ["store"],
            registry=self.registry,
        )
        self.issued = Counter(
            "clinicq_tickets_issued", "Tickets issued", ["clinic"], registry=self.registry
        )
        self.waits = Histogram(
            "clinicq_queue_wait_seconds",
            "Time from a ticket's issue to its call",
            ["clinic"],
            registry=self.registry,
            buckets=WAIT_BUCKETS,
        )

    def events(self, clinic: str, events: Sequence[ev.AnyEvent]) -> None:
        """Count a command's journaled events (an ``Engine.on_events`` listener)."""
        for event in events:
            if isinstance(event, ev.TicketIssued):
                self.issued.labels(clinic).inc()
            elif isinstance(event, ev.TicketCalled):
                waited = max(0, event.at - event.ticket.issued_at) / 1000
                self.waits.labels(clinic).observe(waited)


class RecoveryCollector:
    """The engine's recovery and journal figures, read at scrape time: fences by cause,
    rebuilds, snapshots taken and refused, group commits and failed ones, the group commit's
    backlog, events reconciled from the Redis stream, and each clinic's events Redis applied
    that the journal did not hold at the last check (its lag)."""

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
            ("clinicq_journal_failed_commits", "Group commits that failed (answered 503)",
             "journal", "failed_batches"),
            ("clinicq_journal_reconciled", "Events journaled from the Redis stream by reconcile",
             "engine", "reconciled"),
        ):  # fmt: skip
            family = CounterMetricFamily(name, text)
            source = sources[where]
            family.add_metric([], getattr(source, value) if source else 0)
            yield family
        entries, age = engine.journal.backlog() if engine else (0, 0.0)
        pending = GaugeMetricFamily(
            "clinicq_journal_pending", "Events waiting for this process's group commit"
        )
        pending.add_metric([], entries)
        yield pending
        oldest = GaugeMetricFamily(
            "clinicq_journal_pending_seconds", "How long the oldest waiting event has waited"
        )
        oldest.add_metric([], age)
        yield oldest
        lag = GaugeMetricFamily(
            "clinicq_journal_lag_events",
            "Events Redis applied that the journal did not hold at the last check (every 2 s)",
            labels=["clinic"],
        )
        for clinic, behind in sorted((engine.unjournaled if engine else {}).items()):
            lag.add_metric([clinic], behind)
        yield lag


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


async def check_metrics_access(
    access: str, tokens: TokenBook | None, client: str | None, authorization: str | None
) -> None:
    """Raise unless ``CLINICQ_METRICS`` lets this caller read metrics: ``loopback`` (the
    default: a scraper on the same host, or behind a proxy that restricts it), ``token`` (an
    admin token), or ``public``."""
    if access == "loopback" and client not in LOOPBACK:
        raise Forbidden("metrics are served to this host only (CLINICQ_METRICS)")
    if access == "token":
        if tokens is None:
            raise Unavailable("the token book is not open yet")
        principal = await tokens.authenticate(authorization, client)
        if principal.role != "admin":
            raise Forbidden("metrics need an admin token (CLINICQ_METRICS=token)")


async def metrics_endpoint(call: Call) -> Response:
    """Prometheus metrics, to whom ``CLINICQ_METRICS`` allows (``check_metrics_access``)."""
    request = call.request
    await check_metrics_access(
        request.app.state.settings.metrics_access,
        getattr(request.app.state, "tokens", None),  # opened by the lifespan
        request.client.host if request.client else None,
        request.headers.get("authorization"),
    )
    return Response(
        generate_latest(request.app.state.metrics.registry), media_type=CONTENT_TYPE_LATEST
    )


def metrics_answerer(access: str, tokens: TokenBook, registry: CollectorRegistry) -> Answerer:
    """The same metrics and rules for a process's own metrics port (``metrics_port``)."""

    async def answer(client: str | None, authorization: str | None) -> Answer:
        try:
            await check_metrics_access(access, tokens, client, authorization)
        except EngineError as exc:
            return Answer(exc.status, exc.message.encode() + b"\n")
        return Answer(200, generate_latest(registry), CONTENT_TYPE_LATEST)

    return answer
