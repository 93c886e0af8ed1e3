"""One clinic's live feed in one push process: its sockets, fed by the process's reader.

    Redis stream q:{c}:events ──Reader (one XREAD for every clinic)──> Feed ──encode once──>
        websockets.broadcast(sockets)

However many screens a clinic has in this process, each event is encoded once. The process's
``Reader`` (``displays/reader.py``) reads every clinic's stream in one loop and hands the entries
over (``take``). ``broadcast`` applies no back-pressure, so after every batch the feed looks at
each socket's transport write buffer and drops a socket that falls behind (the client reconnects
with its last offset and catches up from the stream); a socket silent for too long is dropped too.

A joining socket is brought up to the feed's last offset by its own replay (XRANGE, awaited on that
socket only), and added to the broadcast set with no ``await`` between the last check and the
add, so it misses nothing and sees nothing twice. When the clinic's epoch changes (Redis lost it
and the engine rebuilt it from the journal) every socket gets a fresh snapshot: the feed leaves
the reader's set, builds the board in a task of its own and is read again from that board's
offset.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from websockets.asyncio.server import ServerConnection, broadcast

from displays.frames import RELOAD, board_frame, event_frame, ping_frame, plan_join, printer_frame
from engine import keys
from engine.api.http import STORE_DOWN
from engine.errors import Unavailable

log = logging.getLogger(__name__)

# What a store that does not answer raises here: Redis's and PostgreSQL's connection errors, and
# the engine's ``Unavailable``, which a board build raises for them (the board is read through
# the engine). A feed keeps its sockets and tries again.
STORES_DOWN: tuple[type[Exception], ...] = (*STORE_DOWN, Unavailable)


@dataclass(frozen=True)
class FeedOptions:
    heartbeat: float = 15.0  # seconds between pings to every socket
    silence: float = 50.0  # a socket heard from less recently than this is dead
    slow_bytes: int = 256 * 1024  # write buffer above this: the client is too slow, drop it
    board_every: float = 1.0  # at most one board refresh a second, after events
    idle_board_every: float = 30.0  # waits grow while nothing happens: refresh anyway
    linger: float = 30.0  # keep reading this long after the last socket left
    block_ms: int = 1000  # XREAD BLOCK; also how often heartbeats are checked
    batch: int = 500  # stream entries read at once, per stream
    epoch_every: float = 1.0  # every clinic's epoch, in one round trip (``displays/reader.py``)


# Builds a clinic's board (with its offset and epoch), rebuilding the clinic if Redis lost it.
BoardSource = Callable[[str], Awaitable[dict[str, Any]]]


class Resync(Exception):
    """The stream cannot serve this replay (trimmed, or the epoch changed): snapshot instead."""


class Feed:
    def __init__(
        self,
        clinic: str,
        redis: Any,
        build_board: BoardSource,
        options: FeedOptions,
        on_ready: Callable[[Feed], None] = lambda feed: None,
    ) -> None:
        self.clinic = clinic
        self.on_ready = on_ready  # called when a resync is done: the reader reads us again
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
        self.frames = 0  # event frames sent, one a socket an event
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
        self.cursor = b"0-0"  # the id of the last entry read from the clinic's stream
        self.stopped = False
        self._reason = "join"  # why the next resync happens
        self._resyncing: asyncio.Task[None] | None = None
        self._refreshing: asyncio.Task[None] | None = None
        self._idle_since: float | None = None

    @property
    def alive(self) -> bool:
        return not self.stopped

    # -- driven by the process's reader (``displays/reader.py``) ------------------------------

    @property
    def reading(self) -> bool:
        """Whether the reader should read this feed's stream: it is at a known position."""
        return self.epoch is not None and self._resyncing is None and not self.stopped

    def streams(self) -> dict[bytes, bytes]:
        """This feed's keys and the ids to read after, for the reader's XREAD."""
        return {self.key: self.cursor, self.printer_key: self._printer_last or b"0-0"}

    def take(self, name: bytes, entries: list[tuple[bytes, dict[bytes, bytes]]]) -> None:
        """Entries the reader read for one of this feed's keys."""
        if name == self.printer_key:
            for entry_id, fields in entries:
                self._printer_last = entry_id
                broadcast(self.members, printer_frame(fields[b"k"].decode()), text=True)
            return
        reason = self._deliver(entries)
        if reason:
            self.lost(reason)

    def lost(self, reason: str) -> None:
        """The stream no longer continues what screens have (a rebuild, a gap): resync."""
        self.epoch = None
        self._reason = reason
        self.resync()

    def resync(self) -> None:
        """Start over from a fresh board, in a task of its own: a slow rebuild of one clinic
        never holds the reader, which leaves this feed out until it is done."""
        if self._resyncing is None and not self.stopped:
            self._resyncing = asyncio.get_running_loop().create_task(
                self._resync_until_done(), name=f"resync:{self.clinic}"
            )

    async def _resync_until_done(self) -> None:
        backoff = 0.05
        try:
            while True:
                try:
                    if self._printer_last is None:
                        newest = await self.redis.xrevrange(self.printer_key, count=1)
                        self._printer_last = newest[0][0] if newest else b"0-0"
                    await self._resync(self._reason)
                    self._reason = "epoch"
                    break
                except STORES_DOWN as exc:
                    # Redis restarting or failing over: keep the sockets and try again.
                    log.warning("feed %s: %s; retrying", self.clinic, exc.__class__.__name__)
                    await asyncio.sleep(backoff)
                    backoff = min(backoff * 2, 2.0)
                except Exception:
                    log.exception("feed %s: resync failed; retrying", self.clinic)
                    await asyncio.sleep(1.0)
        finally:
            self._resyncing = None
        self.on_ready(self)

    def tick(self, now: float) -> None:
        """After a batch of this feed's events, and once a second: sweep, ping, refresh."""
        self._sweep(now)
        every = self.options.board_every if self._dirty else self.options.idle_board_every
        if (
            self.reading
            and self.members
            and now - self._board_at >= every
            and (self._refreshing is None or self._refreshing.done())
        ):
            self._board_at, self._dirty = now, False
            self._refreshing = asyncio.get_running_loop().create_task(self._refresh_board())

    def idle_for(self, now: float) -> float:
        """How long this feed has had no socket (0 while it has one or one is joining)."""
        if self.members or self.joining:
            self._idle_since = None
            return 0.0
        if self._idle_since is None:
            self._idle_since = now
        return now - self._idle_since

    def stop(self) -> None:
        self.stopped = True
        for task in (self._resyncing, self._refreshing):
            if task is not None:
                task.cancel()

    def _deliver(self, entries: list[tuple[bytes, dict[bytes, bytes]]]) -> str:
        """Broadcast stream entries in order; the reason to resync instead ("gap": the stream
        was trimmed past us; "epoch": a rebuild's entries), or "" when all were delivered."""
        for entry_id, fields in entries:
            # A rebuild tags the entries it writes, and a marker after them, with its epoch.
            tag = fields.get(b"x")
            if tag is not None and tag.decode() != self.epoch:
                log.info("feed %s: rebuilt (epoch %s); resyncing", self.clinic, tag.decode())
                return "epoch"
            body = fields.get(b"e")
            if body is None:  # the marker of the rebuild we are already on
                self.cursor = entry_id
                continue
            offset = int(entry_id.split(b"-", 1)[0])
            if offset != self.last + 1:
                log.warning("feed %s: gap %d -> %d; resyncing", self.clinic, self.last, offset)
                return "gap"
            broadcast(self.members, event_frame(offset, body), text=True)
            self.frames += len(self.members)
            self.last, self.cursor = offset, entry_id
            self._dirty = True
            if self._pending_board and self._pending_board[0] == offset:
                broadcast(self.members, self._pending_board[1], text=True)
                self._pending_board = None
        self._advance()
        return ""

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
        self.cursor = f"{self.last}-0".encode()
        self._pending_board = None
        broadcast(self.members, board_frame("snapshot", board, reason), text=True)
        self._ready.set()
        self._advance()

    async def _refresh_board(self) -> None:
        epoch = self.epoch
        try:
            board = await self._fresh_board()
        except STORES_DOWN:
            self._dirty = True  # try again at the next tick
            return
        if epoch is None or epoch != self.epoch or not self.reading:
            return  # a resync began meanwhile: it sends its own snapshot
        if board["epoch"] != epoch:
            self.lost("epoch")
            return
        frame = board_frame("board", board)
        # The reader runs on while the board is built: send the board right after the event it
        # includes, so that boards and events reach screens in offset order. One the reader
        # has already passed is dropped: the next refresh is newer.
        if board["offset"] == self.last:
            broadcast(self.members, frame, text=True)
        elif board["offset"] > self.last:
            self._pending_board = (board["offset"], frame)
        else:
            self._dirty = True

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
            tag = fields.get(b"x")
            if tag is not None and tag.decode() != self.epoch:
                raise Resync  # rebuilt since the reader last looked
            if b"e" not in fields:
                continue  # the marker of the rebuild we are on
            offset = int(entry_id.split(b"-", 1)[0])
            if offset != cursor + 1:
                raise Resync
            await ws.send(event_frame(offset, fields[b"e"]), text=True)
            cursor = offset
        return cursor
