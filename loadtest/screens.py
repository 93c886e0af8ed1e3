"""Many screens at once: lean WebSocket clients in several generator processes.

A screen here is a raw asyncio protocol, not the ``websockets`` client: tens of thousands of
sockets receiving tens of thousands of frames a second share the machine's two cores with the
servers they measure, so the client parses only what it needs (the frame header, the ``offset``
and the event's ``at``) and keeps no task per socket. Each screen keeps the offsets it received
after its snapshot, so the invariant "every screen received every event of its clinic once and in
order" can be checked afterwards; for a long run it keeps only its newest offset and how often
order broke (``keep_offsets=False``), which is enough for the same check. The latencies go into
a histogram in batches (``FOLD``), so a generator's memory does not grow with the run.

Latency is measured at the client as wall-clock now minus the event's ``at`` (milliseconds, set
by the engine when it took the request, or by the calibration server when it made the event):
the same clock on one machine. ``at`` is truncated to the millisecond, so a figure is late by
0-1 ms.

Sockets are spread over ``processes`` generator processes (each far under the 20,000 open-files
cap); the parent drives them over pipes: open, record on/off, collect, close. Every socket goes to
127.0.0.1 only, every wait is bounded.
"""

from __future__ import annotations

import asyncio
import base64
import multiprocessing
import multiprocessing.connection
import os
import resource
import time
from array import array
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, cast

from hdrh.histogram import HdrHistogram

from loadtest.recorder import record_many

HOST = "127.0.0.1"
EVENT_PREFIX = b'{"type":"event","offset":'
AT = b'"at":'
OFFSET = b'"offset":'
# A client pong: FIN + text opcode, masked, 15 bytes of payload; the mask key is zero, so the
# payload goes as is (the server only requires that client frames be masked).
PONG = b"\x81\x8f\x00\x00\x00\x00" + b'{"type":"pong"}'
MAX_MICROS = 120_000_000
FOLD = 65_536  # latencies kept raw before they go into the histogram


@dataclass(frozen=True)
class Target:
    """One screen to open: its key ("clinic#n"), the port of its push process, and its path."""

    key: str
    port: int
    path: str


@dataclass
class Tally:
    """What the recording window saw in one generator process."""

    latencies_us: array[int] = field(default_factory=lambda: array("q"))
    frames: Counter[str] = field(default_factory=Counter)
    latency: HdrHistogram = field(default_factory=lambda: HdrHistogram(1, MAX_MICROS, 3))

    def fold(self) -> None:
        """Move the raw latencies into the histogram."""
        record_many(self.latency, self.latencies_us)
        self.latencies_us = array("q")


class Screen(asyncio.Protocol):
    """One screen: handshake, then frames; keeps its snapshot offset and the event offsets."""

    __slots__ = (
        "breaks", "buffer", "closed", "handshake", "keep", "key", "last", "offsets", "opened", "recording",
        "start", "tally", "transport", "upgraded",
    )  # fmt: skip

    def __init__(
        self, key: str, tally: Tally, recording: list[bool], handshake: bytes, keep: bool = True
    ) -> None:
        self.key = key
        self.keep = keep  # every offset, for the checks after a run; else only ``last``/``breaks``
        self.last = -1  # the newest offset: the snapshot's, then each event's
        self.breaks = 0  # events that were not the one after ``last`` (a gap, a repeat, disorder)
        self.handshake = handshake
        self.tally = tally
        self.recording = recording
        self.transport: asyncio.Transport | None = None
        self.buffer = bytearray()
        self.opened: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.start = -1  # the offset of the first snapshot; -1 before it
        self.offsets = array("q")
        self.closed: int | None = None  # a close code (or 1006 for a lost connection)
        self.upgraded = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)
        self.transport.write(self.handshake)

    def connection_lost(self, exc: Exception | None) -> None:
        if self.closed is None:
            self.closed = 1006
        if not self.opened.done():
            self.opened.set_exception(ConnectionError(f"{self.key}: lost during the join"))

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        if not self.upgraded:
            end = self.buffer.find(b"\r\n\r\n")
            if end < 0:
                return
            status = bytes(self.buffer[: self.buffer.find(b"\r\n")])
            if b" 101 " not in status:
                self.opened.set_exception(ConnectionError(f"{self.key}: {status.decode()}"))
                assert self.transport is not None
                self.transport.close()
                return
            self.upgraded = True
            del self.buffer[: end + 4]
        buf = self.buffer
        pos = 0
        size = len(buf)
        while size - pos >= 2:
            opcode, length = buf[pos] & 0x0F, buf[pos + 1] & 0x7F
            head = 2
            if length == 126:
                if size - pos < 4:
                    break
                length, head = int.from_bytes(buf[pos + 2 : pos + 4], "big"), 4
            elif length == 127:
                if size - pos < 10:
                    break
                length, head = int.from_bytes(buf[pos + 2 : pos + 10], "big"), 10
            if size - pos < head + length:
                break
            payload = bytes(buf[pos + head : pos + head + length])
            pos += head + length
            if opcode == 1:
                self.frame(payload)
            elif opcode == 8:
                self.closed = int.from_bytes(payload[:2], "big") if len(payload) >= 2 else 1005
                if not self.opened.done():
                    self.opened.set_exception(ConnectionError(f"{self.key}: closed {self.closed}"))
        del buf[:pos]

    def frame(self, payload: bytes) -> None:
        if payload.startswith(EVENT_PREFIX):
            offset = int(payload[25 : payload.index(b",", 25)])
            if self.keep:
                self.offsets.append(offset)
            if self.last < 0 or offset != self.last + 1:
                self.breaks += 1
            self.last = offset
            if self.recording[0]:
                at = payload.find(AT)
                stop = at + 5
                while 48 <= payload[stop] <= 57:
                    stop += 1
                micros = time.time_ns() // 1000 - int(payload[at + 5 : stop]) * 1000
                self.tally.latencies_us.append(micros)
                if len(self.tally.latencies_us) >= FOLD:
                    self.tally.fold()
                self.tally.frames["event"] += 1
            return
        kind = payload[9 : payload.index(b'"', 9)].decode()
        if self.recording[0]:
            self.tally.frames[kind] += 1
        if kind == "ping":
            assert self.transport is not None
            self.transport.write(PONG)
        elif kind in ("snapshot", "board") and self.start < 0:
            at = payload.index(OFFSET) + len(OFFSET)
            stop = at
            while 48 <= payload[stop] <= 57:
                stop += 1
            self.start = self.last = int(payload[at:stop])
            if not self.opened.done():
                self.opened.set_result(None)


def _handshake(target: Target) -> bytes:
    key = base64.b64encode(os.urandom(16)).decode()
    return (
        f"GET {target.path} HTTP/1.1\r\nHost: {HOST}:{target.port}\r\nUpgrade: websocket\r\n"
        f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
    ).encode()


async def _open_all(
    targets: list[Target],
    tally: Tally,
    recording: list[bool],
    parallel: int,
    within: float,
    keep: bool,
) -> tuple[list[Screen], list[str]]:
    loop = asyncio.get_running_loop()
    gate = asyncio.Semaphore(parallel)
    screens: list[Screen] = []
    failures: list[str] = []

    async def one(target: Target) -> None:
        async with gate:
            try:
                async with asyncio.timeout(within):
                    _, screen = await loop.create_connection(
                        lambda: Screen(target.key, tally, recording, _handshake(target), keep),
                        HOST,
                        target.port,
                    )
                    await screen.opened
                screens.append(screen)
            except (OSError, TimeoutError, ConnectionError) as exc:
                failures.append(f"{target.key}: {exc!r}"[:200])

    await asyncio.gather(*(one(t) for t in targets))
    return screens, failures


def _cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


async def _generator(conn: multiprocessing.connection.Connection) -> None:
    """A generator process's loop: obey the parent's commands, one at a time, until "close"."""
    tally = Tally()
    recording = [False]
    screens: list[Screen] = []
    cpu_at_record = 0.0
    while True:
        command, arg = await asyncio.to_thread(conn.recv)
        if command == "open":
            targets, parallel, timeout, keep = arg
            opened, failures = await _open_all(targets, tally, recording, parallel, timeout, keep)
            screens += opened
            conn.send((len(opened), failures[:20], len(failures)))
        elif command == "record":
            if arg:
                tally.latencies_us, tally.frames = array("q"), Counter()
                tally.latency = HdrHistogram(1, MAX_MICROS, 3)
                cpu_at_record = _cpu_seconds()
            recording[0] = bool(arg)
            conn.send(_cpu_seconds() - cpu_at_record)
        elif command == "collect":
            received = {s.key: (s.start, s.offsets.tolist()) for s in screens} if arg else {}
            closed = Counter(s.closed for s in screens if s.closed is not None)
            tally.fold()
            conn.send((tally.latency.encode(), dict(tally.frames), received, dict(closed)))
        elif command == "tails":  # each screen's newest offset, and how often it broke order
            conn.send({s.key: (s.last, s.breaks) for s in screens})
        elif command == "close":
            for s in screens:
                if s.transport is not None:
                    s.transport.abort()
            conn.send(None)
            return


def _generator_main(conn: multiprocessing.connection.Connection) -> None:
    import uvloop

    uvloop.run(_generator(conn))


@dataclass
class Collected:
    latency: HdrHistogram
    frames: Counter[str]
    received: dict[str, tuple[int, list[int]]]  # screen -> (snapshot offset, event offsets)
    closed: Counter[int]
    generator_cpu_seconds: float


class Fleet:
    """Screens spread over ``processes`` generator processes (round robin by target)."""

    def __init__(self, processes: int) -> None:
        ctx = multiprocessing.get_context("spawn")
        self.pipes: list[multiprocessing.connection.Connection] = []
        self.children: list[Any] = []
        for i in range(processes):
            parent, child = ctx.Pipe()
            process = ctx.Process(target=_generator_main, args=(child,), name=f"screens-{i}")
            process.start()
            self.pipes.append(parent)
            self.children.append(process)
        self.cpu = 0.0

    def _all(self, command: str, args: list[Any], timeout: float = 300.0) -> list[Any]:
        for pipe, arg in zip(self.pipes, args, strict=True):
            pipe.send((command, arg))
        out = []
        deadline = time.monotonic() + timeout
        for pipe in self.pipes:
            if not pipe.poll(max(0.0, deadline - time.monotonic())):
                raise TimeoutError(f"a screen generator did not answer {command!r}")
            out.append(pipe.recv())
        return out

    def open(
        self,
        targets: list[Target],
        parallel: int = 64,
        timeout: float = 120.0,
        keep_offsets: bool = True,
    ) -> tuple[int, list[str]]:
        """Open every target; return how many are live, and a sample of the failures. Without
        ``keep_offsets`` a screen keeps only its newest offset and its breaks of order (a run of
        hours would otherwise hold every offset of every screen)."""
        n = len(self.pipes)
        shares = [(targets[i::n], parallel, timeout, keep_offsets) for i in range(n)]
        answers = self._all("open", shares, timeout + 30)
        failures = [f for _, sample, _ in answers for f in sample]
        return sum(opened for opened, _, _ in answers), failures

    def record(self, on: bool) -> None:
        cpu = self._all("record", [on] * len(self.pipes))
        if not on:
            self.cpu = sum(cpu)

    def tails(self) -> dict[str, tuple[int, int]]:
        """Each screen's newest offset (where it stands in its clinic's stream) and how many of
        its events were not the one after the previous (0: every event once and in order)."""
        out: dict[str, tuple[int, int]] = {}
        for part in self._all("tails", [None] * len(self.pipes)):
            out.update(part)
        return out

    def collect(self, offsets: bool = False) -> Collected:
        latency = HdrHistogram(1, MAX_MICROS, 3)
        frames: Counter[str] = Counter()
        closed: Counter[int] = Counter()
        received: dict[str, tuple[int, list[int]]] = {}
        for encoded, kinds, screens, codes in self._all("collect", [offsets] * len(self.pipes)):
            latency.decode_and_add(encoded)
            frames.update(kinds)
            received.update(screens)
            closed.update(codes)
        return Collected(latency, frames, received, closed, self.cpu)

    def close(self) -> None:
        try:
            self._all("close", [None] * len(self.pipes), timeout=60)
        finally:
            for process in self.children:
                process.join(timeout=10)
                if process.is_alive():
                    process.terminate()
                    process.join(timeout=5)
