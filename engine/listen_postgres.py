"""A PostgreSQL ``LISTEN`` connection that comes back after it is lost.

The engine hears configuration changes and token revocations by ``NOTIFY``. A listening
connection can be lost at any time (a primary failover, a PostgreSQL restart, a network cut),
and the notifications sent while it is gone are lost with it. So a ``Listener`` watches its
connection (asyncpg's termination callback for a closed socket, a periodic ``SELECT 1`` for a
silent one), opens another with a bounded backoff, listens again on every channel, and only then
runs each ``on_reconnect`` refresh, so that nothing sent after the refresh read can be missed.
An outage is logged once when it starts and once when it ends, however many attempts it takes.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

import asyncpg

log = logging.getLogger(__name__)
CHECK_EVERY_SECONDS = 5.0  # how often a quiet connection is asked whether it is still there
CHECK_TIMEOUT_SECONDS = 5.0
FIRST_PAUSE_SECONDS = 0.1  # between reconnection attempts: doubled each time, up to the last
LAST_PAUSE_SECONDS = 5.0
LISTENER_NAME = "clinicq listener"  # the connection's application_name in pg_stat_activity

Notified = Callable[[str], None]
Refresh = Callable[[], Awaitable[None]]


class Listener:
    """Channels and their callbacks (``listen``) on one connection to ``dsn``, kept open by a
    background task from ``start`` to ``close``; ``on_reconnect`` refreshes run after each
    reconnection, in the order they were added."""

    def __init__(self, dsn: str, *, name: str = LISTENER_NAME) -> None:
        self.dsn = dsn
        self.name = name
        self.reconnects = 0
        self._channels: dict[str, list[Notified]] = {}
        self._refreshes: list[Refresh] = []
        self._conn: asyncpg.Connection | None = None
        self._task: asyncio.Task[None] | None = None
        self._busy = asyncio.Lock()  # one operation at a time on the connection (asyncpg's rule)

    async def listen(self, channel: str, callback: Notified) -> None:
        """Call ``callback(payload)`` for each notification on ``channel``."""
        first = channel not in self._channels
        self._channels.setdefault(channel, []).append(callback)
        async with self._busy:
            if first and self._conn is not None and not self._conn.is_closed():
                await self._conn.add_listener(channel, self._dispatch)

    def on_reconnect(self, refresh: Refresh) -> None:
        """Run ``refresh()`` after each reconnection: what the lost notifications would have said."""
        self._refreshes.append(refresh)

    async def start(self) -> None:
        """Open the first connection (an error here is raised: the process cannot start) and
        keep it open from then on."""
        self._conn = await self._open()
        self._task = asyncio.create_task(self._keep(), name=f"{self.name} keeper")

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
        conn, self._conn = self._conn, None
        if conn is not None and not conn.is_closed():
            try:
                await conn.close(timeout=CHECK_TIMEOUT_SECONDS)
            except Exception:  # broken underneath: nothing to say goodbye to
                conn.terminate()

    @property
    def connection(self) -> asyncpg.Connection | None:
        """The current listening connection (None while reconnecting)."""
        return self._conn

    def _dispatch(self, _conn: Any, _pid: int, channel: str, payload: object) -> None:
        for callback in self._channels.get(channel, []):
            callback(str(payload))

    async def _open(self) -> asyncpg.Connection:
        conn = await asyncpg.connect(self.dsn, server_settings={"application_name": self.name})
        try:
            for channel in self._channels:
                await conn.add_listener(channel, self._dispatch)
        except BaseException:
            conn.terminate()
            raise
        return conn

    async def _keep(self) -> None:
        while True:
            assert self._conn is not None
            await self._watch(self._conn)
            self._conn.terminate()
            self._conn = None
            lost_at = time.monotonic()
            log.warning("%s: the connection to PostgreSQL was lost; reconnecting", self.name)
            attempts = await self._reconnect()
            self.reconnects += 1
            log.warning(
                "%s: listening again after %.1f s (%d attempts); what was missed is refreshed",
                self.name, time.monotonic() - lost_at, attempts,
            )  # fmt: skip

    async def _watch(self, conn: asyncpg.Connection) -> None:
        """Return once ``conn`` is lost: closed under us, or not answering a check."""
        lost = asyncio.Event()
        conn.add_termination_listener(lambda _conn: lost.set())
        while not conn.is_closed():
            try:
                await asyncio.wait_for(lost.wait(), CHECK_EVERY_SECONDS)
                return
            except TimeoutError:
                pass
            try:
                async with self._busy:
                    await conn.fetchval("SELECT 1", timeout=CHECK_TIMEOUT_SECONDS)
            except Exception:
                return

    async def _reconnect(self) -> int:
        """Open a connection, listen, refresh; until all three succeed, with a growing pause.
        Returns how many attempts it took."""
        pause, attempts = FIRST_PAUSE_SECONDS, 0
        while True:
            attempts += 1
            try:
                self._conn = await self._open()
                for refresh in self._refreshes:
                    await refresh()
                return attempts
            except Exception as exc:
                # A refresh that failed has not refreshed: start over on a new connection, so
                # that the refresh runs again after every notification it could have missed.
                log.debug("%s: reconnecting failed: %s", self.name, exc.__class__.__name__)
                if self._conn is not None:
                    self._conn.terminate()
                    self._conn = None
            await asyncio.sleep(pause)
            pause = min(pause * 2, LAST_PAUSE_SECONDS)
