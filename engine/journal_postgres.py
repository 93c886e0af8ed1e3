"""The durable journal in PostgreSQL: group commit, the fence against a stale Redis, replay.

Writers hand over a command's events and wait; one flusher task per process commits everything
pending in one ``journal_append`` call, so a burst of concurrent requests costs one fsync, not
one each. ``journal_append`` (schema.sql) extends each clinic's hash chain in offset order and is
the fence: an event is committed only if the predecessor Redis decided it on is the journal's own
last entry (``prev_link``, the SHA-1 of that entry's body). Anything else is refused:

    JournalRefused            the entry contradicts the journal: the clinic's Redis is not the
                              journal's history (``clash``, ``diverged``) or a row was removed
                              from the journal (``hole``). Nothing was committed.
    JournalGap                its predecessors did not arrive in time (a worker died holding
                              them): the caller fills the gap from the Redis stream.

The flusher writes on a connection of its own, not the pool's: a pool resets every connection it
gets back (``Connection.reset``, one more round trip a batch), and ``journal_append`` leaves
nothing in the session to reset (no advisory lock, cursor, LISTEN or SET; its row locks end with
its transaction). A broken connection is dropped and opened again for the next batch; the batch
it broke under fails as ``Unavailable``, as any failed batch does.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import asyncpg

from engine.errors import Conflict, Unavailable
from engine.model.events import link_of

log = logging.getLogger(__name__)
GENESIS = b"\x00" * 32
SCHEMA = Path(__file__).with_name("schema.sql")
ROLES = Path(__file__).with_name("roles.sql")
GAP_WAIT_SECONDS = 1.0  # how long an entry may wait for another worker's predecessors
RETRY_PAUSE_SECONDS = 0.002  # between rounds when only waiting entries are left
WRITER_NAME = "clinicq journal writer"  # the group commit's connection in pg_stat_activity


@dataclass(frozen=True)
class Entry:
    clinic: str
    offset: int
    kind: str
    at_ms: int
    body: str
    idem_key: str | None = None
    idem_record: str | None = None
    prev_link: str = ""  # the link of the event Redis decided this one after

    @functools.cached_property
    def link(self) -> str:
        # Read twice per entry on the hot path (chaining, then the batch): hashed once.
        return link_of(self.body)


def chained(entries: Sequence[Entry], first_prev: str) -> list[Entry]:
    """Entries of one script answer (consecutive offsets), each linked to the one before it."""
    out, prev = [], first_prev
    for e in entries:
        out.append(
            Entry(e.clinic, e.offset, e.kind, e.at_ms, e.body, e.idem_key, e.idem_record, prev)
        )
        prev = e.link
    return out


class JournalRefused(Conflict):
    """The journal refused an entry: ``reason`` is clash, diverged or hole (see the module)."""

    def __init__(self, clinic: str, offset: int, reason: str) -> None:
        super().__init__(
            "the live state moved under this request; retry it", code="journal_diverged"
        )
        self.clinic, self.offset, self.reason = clinic, offset, reason


class JournalGap(Unavailable):
    def __init__(self, clinic: str, offset: int) -> None:
        super().__init__("the journal is waiting for earlier events; retry", code="journal_gap")
        self.clinic, self.offset = clinic, offset


@dataclass(frozen=True)
class Head:
    """A clinic's chain head: the last committed offset, its link and hash, how many entries."""

    offset: int = 0
    link: str = ""
    hash: bytes = GENESIS
    entries: int = 0


@dataclass
class _Pending:
    entries: Sequence[Entry]
    done: asyncio.Future[None] = field(
        default_factory=lambda: asyncio.get_running_loop().create_future()
    )
    since: float = field(default_factory=time.monotonic)


async def apply_schema(pool: asyncpg.Pool) -> None:
    """Create or upgrade the engine's tables (as the database's administrator)."""
    async with pool.acquire() as conn:
        # Several workers start at once: serialise the DDL.
        async with conn.transaction():
            await conn.execute("SELECT pg_advisory_xact_lock(727101)")
            await conn.execute(SCHEMA.read_text())
            # Heads carried over from the first release have no link (PostgreSQL has no SHA-1
            # built in): the next event Redis decides must follow their last body's.
            unlinked = await conn.fetch(
                "SELECT h.clinic, j.body FROM journal_head h JOIN journal j "
                'ON j.clinic = h.clinic AND j."offset" = h.last_offset '
                "WHERE h.last_link = '' AND h.last_offset > 0"
            )
            for row in unlinked:
                await conn.execute(
                    "UPDATE journal_head SET last_link = $2 WHERE clinic = $1",
                    row["clinic"],
                    link_of(row["body"]),
                )


async def apply_roles(pool: asyncpg.Pool) -> None:
    """Create the engine's least-privilege role and its grants (after every schema is applied)."""
    async with pool.acquire() as conn, conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock(727101)")
        await conn.execute(ROLES.read_text())


class Journal:
    """The group commit (``append``) on its own connection to ``dsn``, reads on ``pool``."""

    def __init__(self, pool: asyncpg.Pool, dsn: str, *, max_batch: int = 500) -> None:
        self.pool = pool
        self.dsn = dsn
        self.max_batch = max_batch
        self._conn: asyncpg.Connection | None = None  # the flusher's; opened on its first batch
        self._pending: list[_Pending] = []
        self._wakeup = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self.batches = 0
        self.failed_batches = 0  # PostgreSQL down, slow or broken: answered 503
        self.entries_written = 0

    def start(self) -> None:
        self._task = asyncio.create_task(self._flusher(), name="journal-flusher")

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
        await self._close_connection()
        for pending in self._pending:
            if not pending.done.done():
                pending.done.set_exception(Unavailable("the journal is shutting down"))

    async def append(self, entries: Sequence[Entry]) -> None:
        """Return once every entry is committed (or was already, with the same body); raise
        JournalRefused or JournalGap otherwise."""
        if not entries:
            return
        pending = _Pending(entries)
        self._pending.append(pending)
        self._wakeup.set()
        await pending.done

    def backlog(self) -> tuple[int, float]:
        """Entries waiting for their group commit, and how long the oldest has waited."""
        if not self._pending:
            return 0, 0.0
        oldest = min(p.since for p in self._pending)
        return sum(len(p.entries) for p in self._pending), time.monotonic() - oldest

    async def _flusher(self) -> None:
        while True:
            await self._wakeup.wait()
            self._wakeup.clear()
            while self._pending:
                batch, taken = [], 0
                while self._pending and taken < self.max_batch:
                    item = self._pending.pop(0)
                    batch.append(item)
                    taken += len(item.entries)
                try:
                    refused = await self._write([e for p in batch for e in p.entries])
                except Exception as exc:  # the flusher must outlive any one batch
                    log.warning("journal batch failed: %s", exc.__class__.__name__)
                    self.failed_batches += 1
                    failure = Unavailable(f"the journal could not commit: {exc.__class__.__name__}")
                    for p in batch:
                        if not p.done.done():
                            p.done.set_exception(failure)
                    continue
                waiting = self._settle(batch, refused)
                if waiting:
                    # Another worker's commit holds the predecessors: try again next round.
                    self._pending.extend(waiting)
                    if len(waiting) == len(batch):
                        await asyncio.sleep(RETRY_PAUSE_SECONDS)

    @staticmethod
    def _settle(batch: list[_Pending], refused: dict[tuple[str, int], str]) -> list[_Pending]:
        """Answer each pending request of a written batch; return those still waiting."""
        now, waiting = time.monotonic(), []
        for p in batch:
            if p.done.done():
                continue
            statuses = [(e, refused.get((e.clinic, e.offset))) for e in p.entries]
            bad = next(((e, s) for e, s in statuses if s not in (None, "waiting")), None)
            late = next((e for e, s in statuses if s == "waiting"), None)
            if bad is not None:
                p.done.set_exception(JournalRefused(bad[0].clinic, bad[0].offset, str(bad[1])))
            elif late is None:
                p.done.set_result(None)
            elif now - p.since > GAP_WAIT_SECONDS:
                p.done.set_exception(JournalGap(late.clinic, late.offset))
            else:
                waiting.append(p)
        return waiting

    async def _connection(self) -> asyncpg.Connection:
        """The flusher's connection, opened anew when there is none or it was closed (the
        server restarted, the socket broke)."""
        if self._conn is None or self._conn.is_closed():
            self._conn = None
            self._conn = await asyncpg.connect(
                self.dsn, server_settings={"application_name": WRITER_NAME}
            )
        return self._conn

    async def _close_connection(self) -> None:
        conn, self._conn = self._conn, None
        if conn is None or conn.is_closed():
            return
        try:
            await conn.close(timeout=5)
        except Exception:  # broken underneath: nothing to say goodbye to
            conn.terminate()

    async def _write(self, entries: list[Entry]) -> dict[tuple[str, int], str]:
        """One round trip; the entries not committed, with why."""
        conn = await self._connection()
        try:
            rows = await self._append(conn, entries)
        except asyncpg.PostgresError:
            raise  # the server answered with an error: the connection is idle and usable
        except BaseException:
            # Broken, or cut off mid-statement (cancelled, timed out): its state is unknown, so
            # it is not used again; the next batch opens another.
            conn.terminate()
            self._conn = None
            raise
        self.batches += 1
        self.entries_written += len(entries) - len(rows)
        return {(r["r_clinic"], r["r_offset"]): r["r_status"] for r in rows}

    @staticmethod
    async def _append(conn: asyncpg.Connection, entries: list[Entry]) -> list[asyncpg.Record]:
        return await conn.fetch(
            "SELECT r_clinic, r_offset, r_status FROM journal_append($1::text[], $2::bigint[], "
            "$3::text[], $4::bigint[], $5::text[], $6::text[], $7::text[], $8::text[], $9::text[])",
            [e.clinic for e in entries],
            [e.offset for e in entries],
            [e.kind for e in entries],
            [e.at_ms for e in entries],
            [e.body for e in entries],
            [e.idem_key for e in entries],
            [e.idem_record for e in entries],
            [e.prev_link for e in entries],
            [e.link for e in entries],
        )

    # -- reads ---------------------------------------------------------------------------------

    async def head(self, clinic: str) -> Head:
        row = await self.pool.fetchrow(
            "SELECT last_offset, last_link, last_hash, entries FROM journal_head WHERE clinic = $1",
            clinic,
        )
        if row is None:
            return Head()
        return Head(row["last_offset"], row["last_link"], bytes(row["last_hash"]), row["entries"])

    async def heads(self) -> dict[str, Head]:
        rows = await self.pool.fetch(
            "SELECT clinic, last_offset, last_link, last_hash, entries FROM journal_head"
        )
        return {
            r["clinic"]: Head(r["last_offset"], r["last_link"], bytes(r["last_hash"]), r["entries"])
            for r in rows
        }

    async def bodies(self, clinic: str, after: int = 0) -> list[str]:
        """A clinic's event bodies after an offset, in offset order (a rebuild's tail)."""
        rows = await self.pool.fetch(
            'SELECT body FROM journal WHERE clinic = $1 AND "offset" > $2 ORDER BY "offset"',
            clinic,
            after,
        )
        return [r["body"] for r in rows]

    async def idempotency_records(self, clinic: str, max_age_seconds: int) -> dict[str, str]:
        rows = await self.pool.fetch(
            "SELECT idem_key, idem_record FROM journal WHERE clinic = $1 AND idem_key IS NOT NULL "
            'AND recorded_at > now() - make_interval(secs => $2) ORDER BY "offset"',
            clinic,
            float(max_age_seconds),
        )
        return {r["idem_key"]: r["idem_record"] for r in rows if r["idem_record"]}

    async def ensure_partitions(self) -> None:
        """This month's and next month's partitions exist, and the default one stays empty
        (rows there would stop that month's partition from ever being made)."""
        await self.pool.execute(
            "SELECT journal_ensure_partition((date_trunc('month', now() AT TIME ZONE 'UTC') "
            "+ make_interval(months => m))::date) FROM generate_series(0, 1) AS m"
        )
        if await self.pool.fetchval("SELECT 1 FROM journal_default LIMIT 1"):
            log.error("journal entries landed in journal_default: a month's partition is missing")

    async def archived(self, clinic: str) -> bool:
        """Whether some of the clinic's months are archived (detached)."""
        found = await self.pool.fetchval(
            "SELECT 1 FROM journal_checkpoint WHERE clinic = $1 LIMIT 1", clinic
        )
        return found is not None
