"""The push server: screens' WebSockets on the ``websockets`` library's own asyncio server.

    WS /ws/clinics/{clinic}?token=...&from=<offset>&epoch=<epoch>     (staff screens)
    WS /ws/clinics/{clinic}?link=<status link>&from=...                 (a patient's status page)
    GET /healthz                                                        (readiness)
    GET /metrics                           (Prometheus, as CLINICQ_METRICS allows: push_metrics.py)

Not a Starlette route: measured here, the library's server with ``broadcast()`` costs about 20 us
of CPU per delivered message where a route with a task per socket costs 33-57 us. Each process
keeps one ``Feed`` per clinic it has sockets for (each event encoded once), all read by one
``Reader`` (one XREAD over every clinic's stream; one a slot in a Redis Cluster), and no task of
its own per socket beyond the library's handler. Keepalive pings of the library are
off (they add a task per socket): the feed pings every socket with one broadcast, clients answer
and ping back, and the feed drops sockets gone silent.

Several processes (``clinicq push --processes N``) either share one port through SO_REUSEPORT
(the kernel spreads sockets; every process reads the clinics its sockets want) or listen on
``port + i`` each (``--port-per-process``) for a proxy that spreads clinics by URL. Every process
reads Redis, so a ticket taken through any engine worker reaches screens on every process.
A clinic's configuration change reaches every process through PostgreSQL NOTIFY (as a token's
revocation does): the process forgets its copy and sends the clinic's sockets a ``reload`` frame.
Close codes: 4000 + the HTTP status of the refusal (4401 bad token, 4403 wrong clinic or role,
4404 no such clinic or ticket, 4400 bad query).
"""

from __future__ import annotations

import asyncio
import contextlib
import http
import logging
import multiprocessing
import multiprocessing.connection
import signal
import socket
import sys
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlsplit

from prometheus_client import CollectorRegistry
from redis.asyncio.cluster import RedisCluster
from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response

from displays.feed import Feed, FeedOptions
from displays.frames import PONG, hello_frame, parse_offset
from displays.gcpolicy import GcPolicy
from displays.public import suspended_tickets
from displays.push_metrics import PushCollector, PushTotals, metrics_response
from displays.reader import Reader
from engine import keys
from engine.api.http import STORE_DOWN, store_of
from engine.api.metrics_port import serve_metrics
from engine.api.ops import metrics_answerer
from engine.auth import ALL_STAFF, TokenBook
from engine.board import board
from engine.clinic import ID_PATTERN
from engine.errors import BadRequest, EngineError, NotFound, RateLimited, Unavailable
from engine.listen_postgres import Listener
from engine.runtime import close_engine, open_engine
from engine.service import Engine
from engine.settings import Settings

log = logging.getLogger(__name__)
PATH_PREFIX = "/ws/clinics/"
RELOAD_CLINICS_EVERY = 60.0


@dataclass(frozen=True)
class PushOptions:
    host: str = "127.0.0.1"
    port: int = 8001
    processes: int = 1
    port_per_process: bool = False
    max_sockets: int = 19_000  # open files are capped at 20,000 a process here
    sockets_per_token: int = 500
    sockets_per_ticket: int = 5
    # A fixed kernel send buffer per socket. Loopback and LAN autotuning grows it past 1 MB, which
    # hides a stalled client from the write-buffer check and costs 10 GB at 10,000 sockets.
    sndbuf: int = 64 * 1024
    feed: FeedOptions = field(default_factory=FeedOptions)
    gc_freeze_every: float = 60.0
    gc_full_every: float = 6 * 3600.0
    metrics_access: str = "loopback"  # who may read /metrics (CLINICQ_METRICS)
    metrics_port: int = 0  # process i also serves /metrics on metrics_port + i (0: none)


class Hub:
    """One process's feeds, and the socket handler that authenticates and joins them."""

    def __init__(self, engine: Engine, tokens: TokenBook, options: PushOptions, process: int):
        self.engine = engine
        self.tokens = tokens
        self.options = options
        self.process = process
        self.feeds: dict[str, Feed] = {}
        self.readers: dict[int, Reader] = {}  # by cluster slot; -1 on a single Redis
        self.sockets = 0
        # Sockets per staff token (to close them on revoke) and per ticket link: both capped.
        self.by_token: dict[str, set[ServerConnection]] = {}
        self.by_ticket: dict[str, set[ServerConnection]] = {}
        self._held: dict[ServerConnection, tuple[dict[str, set[ServerConnection]], str]] = {}
        self._closing: set[asyncio.Task[None]] = set()
        self._hello = hello_frame(process, options.feed.heartbeat)
        self.totals = PushTotals()
        self.registry = CollectorRegistry()
        self.registry.register(PushCollector(self))

    def feed(self, clinic: str) -> Feed:
        found = self.feeds.get(clinic)
        if found is None or not found.alive:
            if found is not None:  # its counts live on in the totals
                self.totals.frames += found.frames
                self.totals.dropped.update(slow=found.dropped_slow, silent=found.dropped_silent)
            redis = self.engine.store.client
            found = self.feeds[clinic] = Feed(clinic, redis, self.build_board, self.options.feed)
            self.reader_for(clinic).add(found)
        return found

    def reader_for(self, clinic: str) -> Reader:
        """The process's one reader; in a Redis Cluster, one a slot (one ``XREAD`` reads one
        slot's keys only)."""
        redis = self.engine.store.client
        group = redis.keyslot(keys.events(clinic)) if isinstance(redis, RedisCluster) else -1
        found = self.readers.get(group)
        if found is None or not found.alive:
            if found is not None:
                self.totals.read_errors += found.errors
            wake = Reader.wake_key_for(clinic if group >= 0 else None)
            found = self.readers[group] = Reader(redis, self.options.feed, wake).start()
        return found

    async def build_board(self, clinic_id: str) -> dict[str, Any]:
        """The engine's board plus each doctor's suspended tickets (id and number)."""
        clinic = await self.engine.clinic(clinic_id)
        state, epoch = await self.engine.board_state(clinic_id)
        out = board(clinic, state, epoch=epoch, now=self.engine.clock())
        suspended = suspended_tickets(state)
        for doctor in out["doctors"]:
            doctor["suspended_tickets"] = suspended.get(doctor["id"], [])
        return out

    async def process_request(self, ws: ServerConnection, request: Request) -> Response | None:
        path = urlsplit(request.path).path
        if path == "/healthz":
            return ws.respond(http.HTTPStatus.OK, "ok\n")
        if path == "/metrics":
            return await metrics_response(self, ws, request)
        if not path.startswith(PATH_PREFIX):
            return ws.respond(http.HTTPStatus.NOT_FOUND, "no such path\n")
        if self.sockets >= self.options.max_sockets:
            self.totals.refused["full"] += 1
            return ws.respond(http.HTTPStatus.SERVICE_UNAVAILABLE, "this process is full\n")
        return None

    async def handle(self, ws: ServerConnection) -> None:
        self.sockets += 1
        sock = ws.transport.get_extra_info("socket")
        if sock is not None and self.options.sndbuf:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, self.options.sndbuf)
        try:
            try:
                clinic, start, epoch, holder = await self._authorize(ws)
                self._admit(ws, holder)
            except EngineError as exc:
                self.totals.refused[exc.code] += 1
                await ws.close(4000 + exc.status, exc.code)
                return
            except STORE_DOWN as exc:  # as the API's 503: the screen tries again
                log.warning("store unavailable on a socket's start: %s", type(exc).__name__)
                self.totals.refused[Unavailable.code] += 1
                self.totals.store_errors[store_of(exc)] += 1
                await ws.close(4503, Unavailable.code)
                return
            await ws.send(self._hello, text=True)
            feed = self.feed(clinic)
            feed.joining += 1
            try:
                await feed.join(ws, start, epoch)
            finally:
                feed.joining -= 1
            members = feed.members
            loop = asyncio.get_running_loop()
            async for message in ws:
                if ws in members:
                    members[ws] = loop.time()
                # Clients only send text pings; a binary frame is ignored, not an error.
                if isinstance(message, str) and '"ping"' in message:
                    await ws.send(PONG, text=True)
        except (ConnectionClosed, TimeoutError):
            pass
        finally:
            self.sockets -= 1
            for feed in self.feeds.values():
                feed.members.pop(ws, None)
            self._unregister(ws)

    def _admit(self, ws: ServerConnection, holder: tuple[str, str]) -> None:
        """Count the socket against its token or ticket link; refuse one past the cap (4429)."""
        kind, key = holder
        table, cap = (
            (self.by_token, self.options.sockets_per_token)
            if kind == "token"
            else (self.by_ticket, self.options.sockets_per_ticket)
        )
        sockets = table.setdefault(key, set())
        if len(sockets) >= cap:
            raise RateLimited(
                f"at most {cap} live sockets per {kind}", retry_after=60, code="too_many_sockets"
            )
        sockets.add(ws)
        self._held[ws] = (table, key)

    def _unregister(self, ws: ServerConnection) -> None:
        held = self._held.pop(ws, None)
        if held is not None:
            table, key = held
            sockets = table.get(key, set())
            sockets.discard(ws)
            if not sockets:
                table.pop(key, None)

    def revoked(self, token_id: str) -> None:
        """A token was revoked: close its sockets (4401, as a refused token would be)."""
        for ws in self.by_token.pop(token_id, set()):
            self._held.pop(ws, None)
            closing = asyncio.get_running_loop().create_task(ws.close(4401, "token_revoked"))
            self._closing.add(closing)  # a task nobody holds may be collected mid-close
            closing.add_done_callback(self._closing.discard)

    async def _authorize(
        self, ws: ServerConnection
    ) -> tuple[str, int | None, str | None, tuple[str, str]]:
        """(clinic, offset to start from, epoch, what holds the socket: ("token", its id) or
        ("ticket", clinic/ticket))."""
        assert ws.request is not None
        url = urlsplit(ws.request.path)
        clinic = url.path[len(PATH_PREFIX) :]
        if not ID_PATTERN.match(clinic):
            raise NotFound("no such clinic", code="clinic_not_found")
        query = {k: v[0] for k, v in parse_qs(url.query).items()}
        try:
            start = parse_offset(query.get("from"))
        except ValueError as exc:
            raise BadRequest(str(exc), code="bad_offset") from None
        await self.engine.clinic(clinic)
        if "token" in query:
            address = ws.remote_address[0] if ws.remote_address else None
            principal = await self.tokens.authenticate("Bearer " + query["token"], address)
            principal.require(clinic, *ALL_STAFF)
            holder = ("token", principal.token_id)
        elif "link" in query and len(query["link"]) <= 64:
            # A patient's phone: the status link is the credential, as for its public view;
            # a ticket's id opens nothing.
            await self.engine.ticket_by_link(clinic, query["link"])
            holder = ("ticket", f"{clinic}/{query['link']}")
        else:
            raise BadRequest("send ?token= or ?link=", code="no_credentials")
        return clinic, start, query.get("epoch") or None, holder

    def config_changed(self, clinic_id: str) -> None:
        """A clinic's configuration changed (PostgreSQL NOTIFY from the engine's PUT, heard after
        the engine forgot its cached copy): load it again, then tell its pages to reload."""
        task = asyncio.get_running_loop().create_task(self._reconfigure(clinic_id))
        self._closing.add(task)  # a task nobody holds may be collected mid-run
        task.add_done_callback(self._closing.discard)

    async def _reconfigure(self, clinic_id: str) -> None:
        # Loaded before the pages are told, so that their new sockets get boards built on it.
        with contextlib.suppress(EngineError):
            await self.engine.clinic(clinic_id)
        feed = self.feeds.get(clinic_id)
        if feed is not None:
            feed.reconfigured()

    async def reload_clinics(self) -> None:
        """A safety net for a change NOTIFY did not bring (beyond the listener's own refresh
        when it reconnects): now and then read every clinic's configuration again; the engine
        calls ``config_changed`` for each one that changed."""
        while True:
            await asyncio.sleep(RELOAD_CLINICS_EVERY)
            with contextlib.suppress(Exception):
                await self.engine.refresh_clinics()

    async def close(self) -> None:
        await asyncio.gather(*(r.close() for r in self.readers.values()))


async def serve_process(settings: Settings, options: PushOptions, index: int = 0) -> None:
    """Serve until SIGTERM or SIGINT: one push process."""
    # Reads and rebuilds only: the journal's group-commit writer is never started here. A ticket
    # socket for a ticket the live state lacks may find the clinic stale and fence it.
    engine = await open_engine(settings, writer=False)
    pool = engine.pool
    tokens = TokenBook(
        pool,
        failures_per_second=settings.auth_failures_per_second,
        failures_burst=settings.auth_failures_burst,
    )
    hub = Hub(engine, tokens, options, index)
    listener = Listener(engine.database_url)
    await hub.tokens.follow_revocations(listener, hub.revoked)
    await engine.follow_config(listener, hub.config_changed)
    await listener.start()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    shared = options.processes > 1 and not options.port_per_process
    port = options.port + (index if options.port_per_process else 0)
    policy = GcPolicy(freeze_every=options.gc_freeze_every, full_every=options.gc_full_every)
    tasks: list[asyncio.Task[None]] = []
    metrics = None
    if options.metrics_port:
        answer = metrics_answerer(options.metrics_access, tokens, hub.registry)
        first = options.metrics_port + index
        metrics = await serve_metrics(options.host, range(first, first + 1), answer)
    try:
        server: Server
        async with serve(
            hub.handle,
            options.host,
            port,
            process_request=hub.process_request,
            compression=None,  # per-message deflate costs CPU and memory per socket
            ping_interval=None,  # heartbeats are broadcast by the feeds instead
            max_size=4096,  # clients only send pings
            max_queue=4,
            close_timeout=2,
            server_header=None,
            reuse_port=shared,
        ) as server:
            policy.install()
            tasks = [
                loop.create_task(policy.run(), name="gc-policy"),
                loop.create_task(hub.reload_clinics(), name="reload-clinics"),
            ]
            log.info("push process %d serving on %s:%d", index, options.host, port)
            await stop.wait()
            server.close()
    finally:
        for task in tasks:
            task.cancel()
        policy.uninstall()
        if metrics is not None:
            metrics.close()
        await hub.close()
        await listener.close()
        await close_engine(engine)


def _child(settings: Settings, options: PushOptions, index: int) -> None:
    import uvloop

    logging.basicConfig(
        level=logging.INFO, format=f"%(asctime)s %(levelname)s push[{index}] %(name)s: %(message)s"
    )
    # The library logs every connection at INFO: at 10,000 screens that is noise, not news.
    logging.getLogger("websockets").setLevel(logging.WARNING)
    uvloop.run(serve_process(settings, options, index))


def run(settings: Settings, options: PushOptions) -> None:
    """Run ``options.processes`` push processes; end them all when one ends or on a signal."""
    if options.processes == 1:
        _child(settings, options, 0)
        return
    ctx = multiprocessing.get_context("spawn")
    children = [
        ctx.Process(target=_child, args=(settings, options, i), name=f"clinicq-push-{i}")
        for i in range(options.processes)
    ]
    for child in children:
        child.start()

    def stop(*_: object) -> None:
        for child in children:
            if child.is_alive():
                child.terminate()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    multiprocessing.connection.wait([c.sentinel for c in children])
    failed = any(c.exitcode not in (0, None, -signal.SIGTERM) for c in children)
    stop()
    for child in children:
        child.join(timeout=15)
    if failed:
        sys.exit(1)
