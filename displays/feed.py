"""One clinic's live feed in one push process: a single stream reader and its sockets.

    Redis stream q:{c}:events ──XREAD BLOCK──> Feed ──encode once──> websockets.broadcast(sockets)

However many screens a clinic has in this process, one task reads its stream and each event is
encoded once. ``broadcast`` applies no back-pressure, so after every batch the feed looks at each
socket's transport write buffer and drops a socket that falls behind (the client reconnects with
its last offset and catches up from the stream); a socket silent for too long is dropped too.

A joining socket is brought up to the feed's last offset by its own replay (XRANGE, awaited on that
socket only), and added to the broadcast set with no ``await`` between the last check and the
add, so it misses nothing and sees nothing twice. When the clinic's epoch changes (Redis lost it
and the engine rebuilt it from the journal) every socket gets a fresh snapshot.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from redis.exceptions import RedisError
from websockets.asyncio.server import ServerConnection, broadcast

from displays.frames import RELOAD, board_frame, event_frame, ping_frame, plan_join, printer_frame
from engine import keys

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class FeedOptions:
    heartbeat: float = 15.0  # seconds between pings to every socket
    silence: float = 50.0  # a socket heard from less recently than this is dead
    slow_bytes: int = 256 * 1024  # write buffer above this: the client is too slow, drop it
    board_every: float = 1.0  # at most one board refresh a second, after events
    idle_board_every: float = 30.0  # waits grow while nothing happens: refresh anyway
    linger: float = 30.0  # keep reading this long after the last socket left
    block_ms: int = 1000  # XREAD BLOCK; also how often heartbeats and epochs are checked
    batch: int = 500  # stream entries read at once


# Builds a clinic's board (with its offset and epoch), rebuilding the clinic if Redis lost it.
BoardSource = Callable[[str], Awaitable[dict[str, Any]]]


class Resync(Exception):
    """The stream cannot serve this replay (trimmed, or the epoch changed): snapshot instead."""


class Feed:
    def __init__(
        self, clinic: str, redis: Any, build_board: BoardSource, options: FeedOptions
    ) -> None:
        self.clinic = clinic
        self.redis = redis
        self.build_board = build_board
        self.options = options
        self.key = keys.events(clinic).encode()
        # Printer changes (ticketing): not journal events, read in the same XREAD and passed on
        # as "printer" frames so that the dashboard's fleet view follows them live.
        self.printer_key = keys.printer_log(clinic).encode()
        self._printer_last: bytes | None = None  # the newest entry seen; None before the first
        # socket -> when it was last heard from (loop time); the only per-socket state we keep.
        self.members: dict[ServerConnection, float] = {}
        self.joining = 0
        self.last = -1  # the newest offset broadcast; -1 before the first snapshot
        self.epoch: str | None = None
        self.dropped_slow = 0
        self.dropped_silent = 0
        self._ready = asyncio.Event()
        self._moved = asyncio.Event()
        self._board: dict[str, Any] | None = None  # the newest board, for joiners' snapshots
        self._snapshot: bytes | None = None
        self._building: asyncio.Future[dict[str, Any]] | None = None
        self._configs = 0  # configuration changes heard (``reconfigured``)
        self._pending_board: tuple[int, bytes] | None = None
        self._dirty = False
        self._board_at = self._ping_at = 0.0
        self.task: asyncio.Task[None] | None = None

    def start(self) -> Feed:
        self.task = asyncio.get_running_loop().create_task(self.run(), name=f"feed:{self.clinic}")
        return self

    @property
    def alive(self) -> bool:
        return self.task is not None and not self.task.done()

    # -- the reader ----------------------------------------------------------------------------

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        idle_since: float | None = None
        backoff = 0.05
        resync_reason = "join"
        while True:
            now = loop.time()
            if self.members or self.joining:
                idle_since = None
            elif idle_since is None:
                idle_since = now
            elif now - idle_since > self.options.linger:
                return
            try:
                if self.epoch is None:
                    await self._resync(resync_reason)
                    resync_reason = "epoch"
                if self._printer_last is None:
                    newest = await self.redis.xrevrange(self.printer_key, count=1)
                    self._printer_last = newest[0][0] if newest else b"0-0"
                reply = await self.redis.xread(
                    {self.key: f"{self.last}-0", self.printer_key: self._printer_last},
                    count=self.options.batch,
                    block=self.options.block_ms,
                )
                reply = self._printers(reply)
                epoch = await self.redis.hget(keys.meta(self.clinic), "epoch")
                if epoch is None or epoch.decode() != self.epoch:
                    self.epoch = None
                    continue
                if reply and not self._deliver(reply[0][1]):
                    self.epoch, resync_reason = None, "gap"
                    continue
                now = loop.time()
                self._sweep(now)
                await self._refresh_board(now)
                backoff = 0.05
            except asyncio.CancelledError:
                raise
            except (RedisError, OSError) as exc:
                # Redis restarting or failing over: keep the sockets, retry, check the epoch.
                log.warning("feed %s: %s; retrying", self.clinic, exc.__class__.__name__)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 2.0)
            except Exception:
                log.exception("feed %s failed; retrying", self.clinic)
                self.epoch = None
                await asyncio.sleep(1.0)

    def _deliver(self, entries: list[tuple[bytes, dict[bytes, bytes]]]) -> bool:
        """Broadcast stream entries in order; False on a gap (the stream was trimmed past us)."""
        for entry_id, fields in entries:
            offset = int(entry_id.split(b"-", 1)[0])
            if offset != self.last + 1:
                log.warning("feed %s: gap %d -> %d; resyncing", self.clinic, self.last, offset)
                return False
            broadcast(self.members, event_frame(offset, fields[b"e"]), text=True)
            self.last = offset
            self._dirty = True
            if self._pending_board and self._pending_board[0] == offset:
                broadcast(self.members, self._pending_board[1], text=True)
                self._pending_board = None
        self._advance()
        return True

    def _printers(self, reply: Any) -> Any:
        """Pass printer changes on; the rest of ``reply`` (the events) as XREAD gave it."""
        events = []
        for name, entries in reply or []:
            if name != self.printer_key:
                events.append((name, entries))
                continue
            for entry_id, fields in entries:
                self._printer_last = entry_id
                broadcast(self.members, printer_frame(fields[b"k"].decode()), text=True)
        return events

    def _sweep(self, now: float) -> None:
        """Drop sockets that fall behind or went silent; ping everyone on the heartbeat."""
        if now - self._ping_at >= self.options.heartbeat:
            self._ping_at = now
            broadcast(self.members, ping_frame(self.last, time.time_ns() // 1_000_000), text=True)
        limit, heard = self.options.slow_bytes, now - self.options.silence
        drop = [
            (ws, seen < heard)
            for ws, seen in self.members.items()
            if seen < heard or ws.transport.get_write_buffer_size() > limit
        ]
        for ws, silent in drop:
            del self.members[ws]
            if silent:
                self.dropped_silent += 1
            else:
                self.dropped_slow += 1
            # A close frame would wait behind the backlog; abort frees it now. The client
            # reconnects with its last offset and replays from the stream.
            ws.transport.abort()

    async def _resync(self, reason: str) -> None:
        """Start over from a fresh board: broadcast it as a snapshot and read on after it."""
        board = await self._fresh_board()
        self.epoch, self.last = board["epoch"], board["offset"]
        self._pending_board = None
        broadcast(self.members, board_frame("snapshot", board, reason), text=True)
        self._ready.set()
        self._advance()

    async def _refresh_board(self, now: float) -> None:
        every = self.options.board_every if self._dirty else self.options.idle_board_every
        if now - self._board_at < every or not self.members:
            return
        self._board_at, self._dirty = now, False
        board = await self._fresh_board()
        if board["epoch"] != self.epoch:
            self.epoch = None
            return
        frame = board_frame("board", board)
        # The dump ran after our last read, so it is at or ahead of ``last``: send it right after
        # the event it includes, so that boards and events reach screens in offset order.
        if board["offset"] <= self.last:
            broadcast(self.members, frame, text=True)
        else:
            self._pending_board = (board["offset"], frame)

    async def _fresh_board(self) -> dict[str, Any]:
        """Build a board; concurrent callers share one build (a thousand joins, one dump)."""
        if self._building is None:
            self._building = asyncio.ensure_future(self.build_board(self.clinic))
            self._building.add_done_callback(self._built)
        building, configs = self._building, self._configs
        board = await asyncio.shield(building)
        if configs != self._configs:  # built on the old configuration: build again
            return await self._fresh_board()
        if self._board is None or board["offset"] >= self._board["offset"]:
            self._board, self._snapshot = board, None
        return board

    def _built(self, building: asyncio.Future[dict[str, Any]]) -> None:
        if self._building is building:
            self._building = None

    def reconfigured(self) -> None:
        """The clinic's configuration changed: forget boards built on the old one and tell every
        socket to load its page again (the page renders names from the configuration)."""
        self._configs += 1
        self._board = self._snapshot = self._building = None
        self._pending_board = None
        self._dirty = True
        broadcast(self.members, RELOAD, text=True)

    def _advance(self) -> None:
        self._moved.set()
        self._moved = asyncio.Event()

    # -- joining -------------------------------------------------------------------------------

    async def join(
        self, ws: ServerConnection, client_from: int | None, client_epoch: str | None
    ) -> None:
        """Bring ``ws`` up to the live position, then add it to the broadcast set."""
        await asyncio.wait_for(self._ready.wait(), timeout=30.0)
        replayed = False
        while True:
            epoch = self.epoch
            plan = plan_join(client_from, client_epoch, epoch, self.last)
            try:
                if plan.snapshot:
                    cursor = await self._send_snapshot(ws, plan.reason)
                else:
                    cursor = plan.offset
                while epoch == self.epoch and cursor < self.last:
                    cursor = await self._replay(ws, cursor, self.last)
                    replayed = replayed or not plan.snapshot
            except Resync:
                client_from = None
                continue
            # No await from the checks to the add: nothing can be broadcast in between.
            if epoch is not None and epoch == self.epoch and cursor == self.last:
                self.members[ws] = asyncio.get_running_loop().time()
                # Events alone do not refresh a page's counts: a board follows a replay within
                # board_every, not at the next idle refresh up to half a minute later.
                self._dirty = self._dirty or replayed
                return
            client_from, client_epoch = (None, None) if epoch != self.epoch else (cursor, epoch)

    async def _send_snapshot(self, ws: ServerConnection, reason: str) -> int:
        board = self._board
        if board is None or board["epoch"] != self.epoch or self.last - board["offset"] > 200:
            board = await self._fresh_board()
        if board is self._board and reason == "join":
            if self._snapshot is None:
                self._snapshot = board_frame("snapshot", board, "join")
            frame = self._snapshot
        else:
            frame = board_frame("snapshot", board, reason)
        await ws.send(frame, text=True)
        # A board dumped after our last read is ahead of ``last``: wait for the reader.
        while self.last < board["offset"] and self.epoch == board["epoch"]:
            await asyncio.wait_for(self._moved.wait(), timeout=5.0)
        return int(board["offset"])

    async def _replay(self, ws: ServerConnection, cursor: int, upto: int) -> int:
        """Send this socket the events after ``cursor`` up to ``upto`` from the stream."""
        rows = await self.redis.xrange(
            self.key, min=f"({cursor}-0", max=f"{upto}-0", count=self.options.batch
        )
        if not rows:
            raise Resync
        for entry_id, fields in rows:
            offset = int(entry_id.split(b"-", 1)[0])
            if offset != cursor + 1:
                raise Resync
            await ws.send(event_frame(offset, fields[b"e"]), text=True)
            cursor = offset
        return cursor
