"""What a push process shows about itself at ``GET /metrics`` (Prometheus' text format): its
sockets and feeds, the frames it sent, the sockets it dropped and refused, and its store errors.

Read at scrape time from the hub, which keeps the counts of feeds and readers it replaced, so
that every counter only grows. Labels are short fixed lists (why a socket was dropped, the
refusal's code, the store). Who may read it is ``CLINICQ_METRICS``, as for the engine's.
"""

from __future__ import annotations

import http
from collections import Counter
from typing import TYPE_CHECKING, Any

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from websockets.asyncio.server import ServerConnection
from websockets.datastructures import Headers
from websockets.http11 import Request, Response

from engine.api.ops import check_metrics_access
from engine.errors import EngineError

if TYPE_CHECKING:
    from displays.push import Hub


class PushTotals:
    """Counts that outlive the feeds and readers that made them."""

    def __init__(self) -> None:
        self.frames = 0
        self.dropped: Counter[str] = Counter()
        self.read_errors = 0
        self.refused: Counter[str] = Counter()  # handshakes closed with a 4xxx code, by its code
        self.store_errors: Counter[str] = Counter()


class PushCollector:
    def __init__(self, hub: Hub) -> None:
        self.hub = hub

    def collect(self) -> Any:
        hub, totals = self.hub, self.hub.totals
        feeds = list(hub.feeds.values())
        readers = list(hub.readers.values())
        sockets = GaugeMetricFamily("clinicq_push_sockets", "Open WebSockets in this process")
        sockets.add_metric([], hub.sockets)
        yield sockets
        live = GaugeMetricFamily("clinicq_push_feeds", "Clinics this process has screens for")
        live.add_metric([], sum(1 for f in feeds if f.alive))
        yield live
        frames = CounterMetricFamily(
            "clinicq_push_frames", "Event frames sent to screens (one a socket an event)"
        )
        frames.add_metric([], totals.frames + sum(f.frames for f in feeds))
        yield frames
        dropped = CounterMetricFamily(
            "clinicq_push_dropped",
            "Sockets dropped: too slow to take their frames, or silent past the heartbeat",
            labels=["why"],
        )
        dropped.add_metric(["slow"], totals.dropped["slow"] + sum(f.dropped_slow for f in feeds))
        dropped.add_metric(
            ["silent"], totals.dropped["silent"] + sum(f.dropped_silent for f in feeds)
        )
        yield dropped
        refused = CounterMetricFamily(
            "clinicq_push_refused", "Sockets refused at their start, by code", labels=["code"]
        )
        for code, count in sorted(totals.refused.items()):
            refused.add_metric([code], count)
        yield refused
        errors = CounterMetricFamily(
            "clinicq_push_read_errors", "Failed reads of the clinics' event streams from Redis"
        )
        errors.add_metric([], totals.read_errors + sum(r.errors for r in readers))
        yield errors
        stores = CounterMetricFamily(
            "clinicq_store_errors",
            "Sockets refused (4503) because a store did not answer, by store",
            labels=["store"],
        )
        for store, count in sorted(totals.store_errors.items()):
            stores.add_metric([store], count)
        yield stores


def text_response(status: http.HTTPStatus, body: bytes, content_type: str) -> Response:
    headers = Headers([("Content-Type", content_type), ("Content-Length", str(len(body)))])
    return Response(status.value, status.phrase, headers, body)


async def metrics_response(hub: Hub, ws: ServerConnection, request: Request) -> Response:
    """The metrics, to whom ``CLINICQ_METRICS`` allows (as the engine's); with several
    processes on one port this is whichever took the connection (``--metrics-port``)."""
    address = ws.remote_address[0] if ws.remote_address else None
    try:
        await check_metrics_access(
            hub.options.metrics_access, hub.tokens, address, request.headers.get("Authorization")
        )
    except EngineError as exc:
        return ws.respond(http.HTTPStatus(exc.status), exc.message + "\n")
    return text_response(http.HTTPStatus.OK, generate_latest(hub.registry), CONTENT_TYPE_LATEST)
