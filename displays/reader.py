"""One stream reader for many clinics' feeds in a push process.

    q:{c1}:events ─┐
    q:{c2}:events ─┼─ one XREAD BLOCK ──> Reader ──dispatch──> Feed(c1), Feed(c2), ...
    q:{cN}:events ─┘

A process with 220 clinics used to run 220 ``XREAD BLOCK`` loops, each waking at least once a
second and reading its clinic's epoch after every wake: most of the push server's fixed cost.
Here one loop reads every clinic's stream (and printer log) in one ``XREAD``, hands each
clinic's entries to its ``Feed``, and once a second sweeps and pings every feed and reads every
clinic's epoch in one pipelined round trip.

Epochs. A rebuild (``RedisStore.restore``) tags the entries it writes with its epoch and appends
a marker ``{offset}-1`` carrying it, so a feed at or behind the rebuilt head reads the new epoch
in its stream, in order, before any entry of the new history. The once-a-second poll covers what
the stream cannot show: a Redis that came back empty (nothing to read, and redis-py reconnects
without an error) and a rebuild to an offset behind the feed's. A feed that must resync does it
in a task of its own, left out of the ``XREAD`` meanwhile.

Redis Cluster: the keys of one ``XREAD`` must share a slot, so the hub runs one reader per slot
(in practice one per clinic, each clinic being its own hash tag). A reader that is blocked when a
feed joins or comes back from a resync is woken by an entry on its own small stream, which it
reads in the same ``XREAD`` (one key in the slot it reads, expiring when unused).
"""

from __future__ import annotations

import asyncio
import logging
import uuid

from redis.exceptions import RedisError

from displays.feed import Feed, FeedOptions
from engine import keys

log = logging.getLogger(__name__)
WAKE_TTL_MS = 60_000


class Reader:
    """Reads the streams of ``feeds`` for one process (or one cluster slot)."""

    def __init__(self, redis: object, options: FeedOptions, wake_key: str) -> None:
        self.redis: object = redis
        self.options = options
        self.feeds: dict[str, Feed] = {}
        self.wake_key = wake_key.encode()
        self._wake_last = b"0-0"
        self._reading: frozenset[Feed] = frozenset()  # the feeds of the XREAD in flight
        self._changed = asyncio.Event()
        self._waking = False
        self._tasks: set[asyncio.Task[None]] = set()
        self.task: asyncio.Task[None] | None = None
        self.xreads = 0  # for the tests: round trips of the reader
        self.polls = 0
        self.errors = 0  # failed reads (Redis down or failing over): shown at /metrics

    @classmethod
    def wake_key_for(cls, clinic: str | None) -> str:
        """A reader's own wake stream: in the slot of ``clinic`` (cluster), or anywhere."""
        return keys.push_wake(uuid.uuid4().hex[:12], clinic)

    def start(self) -> Reader:
        self.task = asyncio.get_running_loop().create_task(self.run(), name="push-reader")
        return self

    @property
    def alive(self) -> bool:
        return self.task is not None and not self.task.done()

    def add(self, feed: Feed) -> None:
        self.feeds[feed.clinic] = feed
        feed.on_ready = self.ready
        feed.resync()

    def ready(self, feed: Feed) -> None:
        """A feed has a position to read from: read it now, not after the XREAD in flight."""
        self._changed.set()
        if self._reading and feed not in self._reading and not self._waking:
            self._waking = True
            task = asyncio.get_running_loop().create_task(self._wake())
            self._tasks.add(task)  # a task nobody holds may be collected mid-run
            task.add_done_callback(self._tasks.discard)

    async def _wake(self) -> None:
        try:
            async with self.redis.pipeline(transaction=False) as pipe:  # type: ignore[attr-defined]
                pipe.xadd(self.wake_key, {"w": "1"}, maxlen=1, approximate=False)
                pipe.pexpire(self.wake_key, WAKE_TTL_MS)
                await pipe.execute()
        except (RedisError, OSError):
            pass  # the XREAD in flight ends within block_ms anyway
        finally:
            self._waking = False

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        tick_at = poll_at = loop.time()
        backoff = 0.05
        while True:
            now = loop.time()
            if now >= tick_at:
                tick_at = now + min(1.0, self.options.block_ms / 1000)
                self._tick(now)
                if not self.feeds:
                    return  # every clinic left: the hub starts a new reader for the next one
            try:
                if now >= poll_at:
                    poll_at = now + self.options.epoch_every
                    await self._poll_epochs()
                await self._read_once()
                backoff = 0.05
            except asyncio.CancelledError:
                raise
            except (RedisError, OSError) as exc:
                # Redis restarting or failing over: keep the sockets, retry, and look at every
                # clinic's epoch first (it may have come back empty).
                log.warning("push reader: %s (%s); retrying", exc.__class__.__name__, exc)
                self.errors += 1
                self._reading = frozenset()
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 2.0)
                poll_at = loop.time()
            except Exception:
                log.exception("push reader failed; retrying")
                self._reading = frozenset()
                await asyncio.sleep(1.0)

    async def _read_once(self) -> None:
        reading = [f for f in self.feeds.values() if f.reading]
        if not reading:
            self._changed.clear()
            try:
                await asyncio.wait_for(self._changed.wait(), self.options.block_ms / 1000)
            except TimeoutError:
                pass
            return
        streams: dict[bytes, bytes] = {self.wake_key: self._wake_last}
        owner: dict[bytes, tuple[Feed, bytes]] = {}
        for feed in reading:
            for key, after in feed.streams().items():
                streams[key] = after
                owner[key] = (feed, after)
        self._reading = frozenset(reading)
        try:
            self.xreads += 1
            reply = await self.redis.xread(  # type: ignore[attr-defined]
                streams, count=self.options.batch, block=self.options.block_ms
            )
        finally:
            self._reading = frozenset()
        now = asyncio.get_running_loop().time()
        touched: set[Feed] = set()
        for name, entries in reply or []:
            if name == self.wake_key:
                self._wake_last = entries[-1][0]
                continue
            feed, after = owner[name]
            # A feed that started a resync, or stopped, while we read: its entries are stale.
            if not feed.reading or feed.streams().get(name) != after:
                continue
            feed.take(name, entries)
            touched.add(feed)
        for feed in touched:
            feed.tick(now)

    def _tick(self, now: float) -> None:
        """Once a second: sweep and ping every feed, refresh boards, stop feeds left idle."""
        for clinic, feed in list(self.feeds.items()):
            if feed.idle_for(now) > self.options.linger:
                feed.stop()
                del self.feeds[clinic]
                continue
            feed.tick(now)

    async def _poll_epochs(self) -> None:
        """Every feed's clinic epoch in one pipelined round trip; a feed on another resyncs."""
        reading = [(f, f.epoch) for f in self.feeds.values() if f.reading]
        if not reading:
            return
        self.polls += 1
        async with self.redis.pipeline(transaction=False) as pipe:  # type: ignore[attr-defined]
            for feed, _ in reading:
                pipe.hget(keys.meta(feed.clinic), "epoch")
            epochs = await pipe.execute()
        for (feed, seen), epoch in zip(reading, epochs, strict=True):
            if feed.epoch == seen and feed.reading and (epoch is None or epoch.decode() != seen):
                feed.lost("epoch")

    async def close(self) -> None:
        for feed in self.feeds.values():
            feed.stop()
        tasks = [t for t in (self.task, *self._tasks) if t is not None]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
