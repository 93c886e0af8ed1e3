"""The durable journal in PostgreSQL: group commit, a per-clinic hash chain, replay, audit.

Writers hand over a command's events and wait; one flusher task per process commits everything
pending in one transaction, so a burst of concurrent requests costs one fsync, not one each.
Each entry's hash covers the previous entry's hash, so editing, deleting or reordering history
breaks the chain that ``verify`` walks.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import asyncpg

from engine.errors import Conflict, Unavailable

log = logging.getLogger(__name__)
GENESIS = b"\x00" * 32
SCHEMA = Path(__file__).with_name("schema.sql")


def chain_hash(prev: bytes, clinic: str, offset: int, body: str) -> bytes:
    return hashlib.sha256(prev + f"{clinic}\n{offset}\n".encode() + body.encode()).digest()


@dataclass(frozen=True)
class Entry:
    clinic: str
    offset: int
    kind: str
    at_ms: int
    body: str
    idem_key: str | None = None
    idem_record: str | None = None


@dataclass
class _Pending:
    entries: Sequence[Entry]
    done: asyncio.Future[None] = field(
        default_factory=lambda: asyncio.get_running_loop().create_future()
    )


@dataclass(frozen=True)
class VerifyReport:
    clinic: str
    entries: int
    head: str
    broken_at: int | None = None  # the seq of the first entry whose hash does not hold
    reason: str = ""

    @property
    def ok(self) -> bool:
        return self.broken_at is None


async def apply_schema(pool: asyncpg.Pool) -> None:
    async with pool.acquire() as conn:
        # Several workers start at once: serialise the DDL.
        async with conn.transaction():
            await conn.execute("SELECT pg_advisory_xact_lock(727101)")
            await conn.execute(SCHEMA.read_text())


class Journal:
    def __init__(self, pool: asyncpg.Pool, *, max_batch: int = 500) -> None:
        self.pool = pool
        self.max_batch = max_batch
        self._pending: list[_Pending] = []
        self._wakeup = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self.batches = 0
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
        for pending in self._pending:
            if not pending.done.done():
                pending.done.set_exception(Unavailable("the journal is shutting down"))

    async def append(self, entries: Sequence[Entry]) -> None:
        """Return once every entry is committed (or was already, with the same body)."""
        if not entries:
            return
        pending = _Pending(entries)
        self._pending.append(pending)
        self._wakeup.set()
        await pending.done

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
                    conflicts = await self._write([e for p in batch for e in p.entries])
                except Exception as exc:  # the flusher must outlive any one batch
                    log.warning("journal batch failed: %s", exc.__class__.__name__)
                    failure = Unavailable(f"the journal could not commit: {exc.__class__.__name__}")
                    for p in batch:
                        if not p.done.done():
                            p.done.set_exception(failure)
                    continue
                for p in batch:
                    if p.done.done():
                        continue
                    clash = next((e for e in p.entries if (e.clinic, e.offset) in conflicts), None)
                    if clash is None:
                        p.done.set_result(None)
                    else:
                        p.done.set_exception(
                            Conflict(
                                "the live state moved under this request; retry it",
                                code="journal_diverged",
                            )
                        )

    async def _write(self, entries: list[Entry]) -> set[tuple[str, int]]:
        """Commit new entries in one round trip; return those that clash with a committed one.

        ``journal_append`` (schema.sql) locks the clinics' chain heads, skips entries already
        journaled with the same body (a retry, or the reconciler got there first) and extends
        each chain as ``chain_hash`` does.
        """
        rows = await self.pool.fetch(
            "SELECT clash_clinic, clash_offset FROM journal_append("
            "$1::text[], $2::bigint[], $3::text[], $4::bigint[], $5::text[], $6::text[], $7::text[])",
            [e.clinic for e in entries],
            [e.offset for e in entries],
            [e.kind for e in entries],
            [e.at_ms for e in entries],
            [e.body for e in entries],
            [e.idem_key for e in entries],
            [e.idem_record for e in entries],
        )
        self.batches += 1
        self.entries_written += len(entries)
        return {(r["clash_clinic"], r["clash_offset"]) for r in rows}

    # -- reads ---------------------------------------------------------------------------------

    async def bodies(self, clinic: str) -> list[str]:
        """Every event body of a clinic in offset order, for a rebuild."""
        rows = await self.pool.fetch(
            'SELECT body FROM journal WHERE clinic = $1 ORDER BY "offset"', clinic
        )
        return [r["body"] for r in rows]

    async def idempotency_records(self, clinic: str, max_age_seconds: int) -> dict[str, str]:
        rows = await self.pool.fetch(
            "SELECT idem_key, idem_record FROM journal WHERE clinic = $1 AND idem_key IS NOT NULL "
            "AND recorded_at > now() - make_interval(secs => $2) ORDER BY seq",
            clinic,
            float(max_age_seconds),
        )
        return {r["idem_key"]: r["idem_record"] for r in rows if r["idem_record"]}

    async def offsets_after(self, clinic: str, offset: int) -> set[int]:
        rows = await self.pool.fetch(
            'SELECT "offset" FROM journal WHERE clinic = $1 AND "offset" > $2', clinic, offset
        )
        return {r["offset"] for r in rows}

    async def max_offset(self, clinic: str) -> int:
        value = await self.pool.fetchval(
            'SELECT coalesce(max("offset"), 0) FROM journal WHERE clinic = $1', clinic
        )
        return int(value)

    async def verify(self, clinic: str) -> VerifyReport:
        """Walk a clinic's chain in commit order and check every link and the head."""
        prev, count = GENESIS, 0
        async with self.pool.acquire() as conn, conn.transaction():
            cursor = conn.cursor(
                'SELECT seq, "offset", body, prev_hash, hash FROM journal '
                "WHERE clinic = $1 ORDER BY seq",
                clinic,
            )
            async for row in cursor:
                count += 1
                if bytes(row["prev_hash"]) != prev:
                    return VerifyReport(clinic, count, prev.hex(), row["seq"], "a link is missing")
                expected = chain_hash(prev, clinic, row["offset"], row["body"])
                if bytes(row["hash"]) != expected:
                    return VerifyReport(
                        clinic, count, prev.hex(), row["seq"], "an entry was altered"
                    )
                prev = expected
            head = await conn.fetchrow(
                "SELECT last_hash, entries FROM journal_head WHERE clinic = $1", clinic
            )
        if head is not None and (bytes(head["last_hash"]) != prev or head["entries"] != count):
            return VerifyReport(clinic, count, prev.hex(), -1, "entries were removed from the end")
        return VerifyReport(clinic, count, prev.hex())

    async def clinics(self) -> list[str]:
        rows = await self.pool.fetch("SELECT clinic FROM journal_head ORDER BY clinic")
        return [r["clinic"] for r in rows]
