"""The WebSocket servers a screens run measures, each a process on its own port.

``start_push``: the product's push processes (``displays.push.serve_process``), optionally with
CPython's default collector in place of the GC policy. ``start_bare``: the calibration, a bare
``websockets`` server making the same number of events a second from memory and broadcasting
them (no Redis, no auth, no boards, no heartbeats, default GC). ``published``: what the push
processes read, each clinic's stream offsets, to check what the screens received against.
"""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import msgspec
import psutil
import redis.asyncio as aioredis
import uvloop

from engine import keys
from loadtest.ports import Ports
from loadtest.processes import wait_until_answers
from loadtest.screens import HOST


class _NoGcPolicy:
    """Stands in for ``displays.gcpolicy.GcPolicy``: CPython's default collector, untouched."""

    def __init__(self, **_: Any) -> None:
        self.pauses_ms: list[float] = []

    def install(self) -> None: ...

    def uninstall(self) -> None: ...

    async def run(self) -> None:
        await asyncio.Event().wait()


def _push_main(redis_url: str, database_url: str, port: int, index: int, gc_policy: bool) -> None:
    import displays.push
    from displays.push import PushOptions, serve_process
    from engine.settings import Settings

    logging.basicConfig(level=logging.WARNING, format=f"push[{index}] %(name)s: %(message)s")
    if not gc_policy:  # measure the policy's effect: the same server with the default collector
        displays.push.GcPolicy = _NoGcPolicy  # type: ignore[misc,assignment]
    settings = Settings.from_env({"REDIS_URL": redis_url, "DATABASE_URL": database_url})
    uvloop.run(serve_process(settings, PushOptions(host=HOST, port=port), index))


def _wait_ready(port: int, process: multiprocessing.process.BaseProcess) -> None:
    wait_until_answers(
        f"http://{HOST}:{port}/healthz",
        alive=process.is_alive,
        what=f"server process on port {port}",
        timeout=30,
    )


@dataclass
class ServerSet:
    """N server processes, process i on ``ports[i]``; a clinic goes to process (index % N)."""

    name: str
    processes: list[multiprocessing.process.BaseProcess] = field(default_factory=list)
    ports: list[int] = field(default_factory=list)

    def port_for(self, clinic_index: int) -> int:
        return self.ports[clinic_index % len(self.ports)]

    def cpu_seconds(self) -> float:
        total = 0.0
        for p in self.processes:
            assert p.pid is not None
            times = psutil.Process(p.pid).cpu_times()
            total += times.user + times.system
        return total

    def stop(self) -> None:
        for p in self.processes:
            if p.is_alive():
                p.terminate()
        for p in self.processes:
            p.join(timeout=20)
            if p.is_alive():
                p.kill()
                p.join(timeout=5)


def _spawn(
    name: str,
    count: int,
    target: Callable[..., None],
    args: Callable[[int, int], tuple[Any, ...]],
    ports: Ports,
) -> ServerSet:
    """``count`` processes running ``target(*args(i, port))``, each on the next of ``ports``,
    ready."""
    ctx = multiprocessing.get_context("spawn")
    servers = ServerSet(name)
    for i in range(count):
        port = ports.take()
        p = ctx.Process(target=target, args=args(i, port), name=f"{name}-{i}")
        p.start()
        servers.processes.append(p)
        servers.ports.append(port)
    for port, child in zip(servers.ports, servers.processes, strict=True):
        _wait_ready(port, child)
    return servers


def start_push(
    count: int,
    redis_url: str,
    database_url: str,
    gc_policy: bool = True,
    name: str = "push",
    ports: Ports | None = None,
) -> ServerSet:
    """``count`` push processes, each on its own port (``--port-per-process`` in effect)."""
    return _spawn(
        name,
        count,
        _push_main,
        lambda i, port: (redis_url, database_url, port, i, gc_policy),
        ports or Ports(),
    )


_encode = msgspec.json.Encoder().encode


def bare_event(clinic: str, offset: int, at_ms: int) -> bytes:
    """A frame shaped and sized like the push server's ``ticket_called`` event frame."""
    event = {
        "kind": "ticket_called",
        "at": at_ms,
        "ticket": {
            "id": f"t_{clinic}_{offset:08d}",
            "number": f"Т-{offset % 1000:03d}",
            "service": "therapy",
            "state": "called",
            "cabinet": "c0",
        },
        "doctor": {"id": "d0", "status": "serving", "cabinet": "c0", "services": ["therapy"]},
    }
    return b'{"type":"event","offset":%d,"event":%s}' % (offset, _encode(event))


async def _bare(port: int, clinics: list[str], rate: float, seed: int) -> None:
    from websockets.asyncio.server import ServerConnection, broadcast, serve

    members: dict[str, set[ServerConnection]] = {c: set() for c in clinics}
    offsets = dict.fromkeys(clinics, 0)

    async def handler(ws: ServerConnection) -> None:
        assert ws.request is not None
        path = ws.request.path.split("?", 1)[0]
        if path == "/healthz":
            return
        clinic = path.rsplit("/", 1)[-1]
        group = members.get(clinic)
        if group is None:
            await ws.close(4404)
            return
        snapshot = b'{"type":"snapshot","offset":%d,"epoch":"bare","board":{}}' % offsets[clinic]
        broadcast([ws], snapshot, text=True)  # no await before the add: nothing missed
        group.add(ws)
        try:
            await ws.wait_closed()
        finally:
            group.discard(ws)

    def healthz(ws: ServerConnection, request: Any) -> Any:
        if request.path == "/healthz":
            return ws.respond(200, "ok\n")
        return None

    rng = random.Random(seed)
    async with serve(
        handler, HOST, port, compression=None, ping_interval=None, process_request=healthz
    ):
        loop = asyncio.get_running_loop()
        due = loop.time()
        while True:  # ends when the process is terminated
            due += rng.expovariate(rate)
            delay = due - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            clinic = rng.choice(clinics)
            offsets[clinic] += 1
            frame = bare_event(clinic, offsets[clinic], time.time_ns() // 1_000_000)
            broadcast(members[clinic], frame, text=True)


def _bare_main(port: int, clinics: list[str], rate: float, seed: int) -> None:
    logging.getLogger("websockets").setLevel(logging.ERROR)
    uvloop.run(_bare(port, clinics, rate, seed))


def start_bare(
    count: int, clinics: list[str], rate: float, ports: Ports | None = None
) -> ServerSet:
    """The calibration: ``count`` bare broadcast processes; clinic i on process i % count."""

    def args(i: int, port: int) -> tuple[Any, ...]:
        mine = clinics[i::count]
        return port, mine, rate * len(mine) / len(clinics), i

    return _spawn("bare", count, _bare_main, args, ports or Ports())


async def published(redis_url: str, clinics: list[str]) -> dict[str, list[int]]:
    """Every clinic's stream offsets, as the push processes read them."""
    client: Any = aioredis.from_url(redis_url)
    try:
        out = {}
        for clinic in clinics:
            rows = await client.xrange(keys.events(clinic), min="-", max="+")
            out[clinic] = [
                int(entry_id.split(b"-", 1)[0]) for entry_id, fields in rows if b"e" in fields
            ]
        return out
    finally:
        await client.aclose()


async def newest(redis_url: str, clinics: list[str]) -> dict[str, int]:
    """Every clinic's newest stream offset (0 for an empty stream), without reading the stream."""
    client: Any = aioredis.from_url(redis_url)
    try:
        out = {}
        for clinic in clinics:
            rows = await client.xrevrange(keys.events(clinic), max="+", min="-", count=1)
            out[clinic] = int(rows[0][0].split(b"-", 1)[0]) if rows else 0
        return out
    finally:
        await client.aclose()
