"""A waiting-room screen as ``displays/static/cq.js`` behaves, for the city drill.

It joins, applies events only in offset order, and on a gap (an event past ``offset + 1``, or a
ping announcing an offset it never got), a lost socket or a silent one, reconnects with its last
offset and epoch after a jittered exponential back-off (0.2-15 s), as the product's screens do.
It keeps what is needed to check "every event once and in order" afterwards: events sent twice
or out of order, snapshots that replaced events (and which of them came with a new epoch: a
rebuild), and when each event arrived.
"""

from __future__ import annotations

import asyncio
import json
import random
import time
from dataclasses import dataclass, field

from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus

HEARTBEAT = 15.0  # the push server's default (the unit does not change it)


@dataclass
class Arrival:
    offset: int
    wall: float  # time.time() when it arrived
    at: float | None  # the event's own time (the engine took the request), seconds


@dataclass
class Screen:
    base: str  # ws://host:port
    clinic: str
    token: str
    key: str
    last: int = -1
    epoch: str | None = None
    arrivals: list[Arrival] = field(default_factory=list)
    repeated: int = 0  # an event at or below the last applied: sent twice or out of order
    gaps: int = 0  # an event or ping past the last applied: reconnected to fill it
    resyncs: int = 0  # a snapshot after the first: events replaced by a board
    # Of those, snapshots of a new epoch: the engine rebuilt the clinic from the journal (it
    # found Redis behind, as after a failover to a replica that had not had the last writes),
    # and the product's answer to that is a fresh board, by design (docs/ARCHITECTURE.md).
    rebuilt: int = 0
    connects: int = 0
    refused: str | None = None  # a 44xx close: the product stops reconnecting

    def url(self) -> str:
        query = f"token={self.token}"
        if self.last >= 0 and self.epoch is not None:
            query += f"&from={self.last}&epoch={self.epoch}"
        return f"{self.base}/ws/clinics/{self.clinic}?{query}"

    async def run(self, stop: asyncio.Event) -> None:
        backoff = 0.2
        while not stop.is_set() and self.refused is None:
            try:
                async with connect(
                    self.url(), compression=None, open_timeout=5, ping_interval=None
                ) as ws:
                    self.connects += 1
                    while not stop.is_set():
                        async with asyncio.timeout(2.5 * HEARTBEAT):
                            raw = await ws.recv()
                        if self.apply(json.loads(raw), ws_pong := []):
                            backoff = 0.2
                        if ws_pong:
                            await ws.send(json.dumps({"type": "pong"}))
                        if self._gap:
                            break
            except ConnectionClosed as exc:
                code = exc.rcvd.code if exc.rcvd is not None else 1006
                if 4400 <= code < 4500:
                    self.refused = f"closed {code}"
            except InvalidStatus as exc:
                if exc.response.status_code in (401, 403, 404):
                    self.refused = f"HTTP {exc.response.status_code}"
            except (OSError, TimeoutError, InvalidHandshake):
                pass
            self._gap = False
            if stop.is_set():
                return
            try:
                async with asyncio.timeout(backoff * random.uniform(0.5, 1.0)):
                    await stop.wait()
            except TimeoutError:
                pass
            backoff = min(15.0, backoff * 2)

    _gap: bool = False

    def apply(self, frame: dict[str, object], pong: list[bool]) -> bool:
        """Apply one frame; True when it showed the socket is live and in step."""
        kind = frame.get("type")
        offset = frame.get("offset")
        if kind == "snapshot":
            assert isinstance(offset, int)
            epoch = frame.get("epoch")
            if self.last >= 0:
                self.resyncs += 1
                self.rebuilt += epoch is not None and str(epoch) != self.epoch
            self.last, self.epoch = offset, None if epoch is None else str(epoch)
            return True
        if kind == "event":
            assert isinstance(offset, int)
            if offset <= self.last:
                self.repeated += 1
            elif offset > self.last + 1:
                self.gaps += 1
                self._gap = True
            else:
                self.last = offset
                event = frame["event"]
                assert isinstance(event, dict)
                at = event.get("at")
                seconds = float(at) / 1000 if isinstance(at, int | float) else None
                self.arrivals.append(Arrival(offset, time.time(), seconds))
                return True
            return False
        if kind == "ping":
            pong.append(True)
            if isinstance(offset, int) and offset > self.last:
                self.gaps += 1
                self._gap = True
        return False
