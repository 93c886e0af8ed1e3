"""Retention: archive a month of the journal without rewriting its chain.

The journal is partitioned by month of commit (``journal_YYYY_MM``), and a clinic's entries are
stamped in offset order, so a month's partition holds one stretch of each clinic's chain. To
archive a month the administrator's ``clinicq journal archive --before YYYY-MM``, in one
transaction, for each month before that:

1. walks every clinic's stretch in the partition and checks every link and hash (a broken stretch
   is never archived: it is reported);
2. makes sure each clinic has a trusted snapshot at or past the stretch's end, so a rebuild never
   needs the archived entries;
3. writes a checkpoint per clinic: the stretch's last offset and hash and the entries counted so
   far, signed with ``CLINICQ_AUDIT_KEY`` (HMAC-SHA256) when one is set;
4. detaches the partition. It stays in the database as a plain table until it is exported
   (``pg_dump -t journal_YYYY_MM``) and dropped; until then a past reservation is still read
   from it (``engine/reservations_postgres.py``, through the table's copy of the indexes).

``audit verify`` then starts each chain from its newest checkpoint: the first attached entry's
``prev_hash`` must equal the checkpoint's hash, so the chain still holds across the boundary.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import asyncpg
from asyncpg.pool import PoolConnectionProxy

from engine.audit import checkpoint_signature, entry_hash
from engine.errors import ConfigError
from engine.journal_postgres import GENESIS
from engine.snapshots_postgres import Snapshots

Conn = asyncpg.Connection | PoolConnectionProxy


@dataclass(frozen=True)
class Archived:
    month: date
    partition: str
    clinics: int
    entries: int


def parse_month(text: str) -> date:
    try:
        year, month = (int(x) for x in text.split("-"))
        return date(year, month, 1)
    except ValueError:
        raise ConfigError(f"a month is YYYY-MM, got {text!r}") from None


async def months_before(conn: Conn, before: date) -> list[tuple[date, str]]:
    """The attached monthly partitions that end on or before ``before``, oldest first."""
    rows = await conn.fetch(
        "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
        "WHERE i.inhparent = 'journal'::regclass AND c.relname ~ '^journal_[0-9]{4}_[0-9]{2}$'"
    )
    found = []
    for r in rows:
        year, month = int(r["relname"][8:12]), int(r["relname"][13:15])
        if date(year, month, 1) < before:
            found.append((date(year, month, 1), r["relname"]))
    return sorted(found)


async def archive(pool: asyncpg.Pool, before: date, key: bytes = b"") -> list[Archived]:
    """Archive every month before ``before`` (see the module); raise ConfigError, archiving
    nothing, if a stretch does not hold or a snapshot past it cannot be made."""
    async with pool.acquire() as conn:
        # Partitions are by UTC month, and a retry may replay an entry for 48 hours (the
        # idempotency records' life): only months that ended longer ago than that.
        oldest_open = await conn.fetchval(
            "SELECT date_trunc('month', (now() - interval '2 days') AT TIME ZONE 'UTC')::date"
        )
        if before > oldest_open:
            raise ConfigError(
                f"only months that ended over two days ago can be archived (before {oldest_open:%Y-%m})"
            )
        months = await months_before(conn, before)
        ends = {
            r["clinic"]: r["last"]
            for _, partition in months
            for r in await conn.fetch(
                f'SELECT clinic, max("offset") AS last FROM "{partition}" GROUP BY clinic'
            )
        }
    # A rebuild must never need what is archived: a snapshot at or past each stretch's end.
    snapshots = Snapshots(pool)
    for clinic, last in ends.items():
        latest = await snapshots.latest(clinic)
        if latest is None or latest.offset < last:
            await snapshots.take(clinic)
            latest = await snapshots.latest(clinic)
        if latest is None or latest.offset < last:
            raise ConfigError(f"no snapshot of clinic {clinic} past offset {last} yet; retry")
    done = []
    for month, partition in months:
        # The walk reads a closed month; only the checkpoints and the detach hold a lock, and
        # not for long: appends to the live month wait on it.
        async with pool.acquire() as conn:
            checkpoints = [
                await _checkpoint(conn, partition, row["clinic"], month, key)
                for row in await conn.fetch(f'SELECT DISTINCT clinic FROM "{partition}"')
            ]
            async with conn.transaction():
                await conn.execute("SET LOCAL lock_timeout = '5s'")
                await conn.executemany(
                    "INSERT INTO journal_checkpoint (clinic, month, last_offset, last_hash, "
                    "entries, signature) VALUES ($1, $2, $3, $4, $5, $6)",
                    [c[:6] for c in checkpoints],
                )
                await conn.execute(f'ALTER TABLE journal DETACH PARTITION "{partition}"')
                # A past reservation is still read from the detached month while it is kept
                # (engine/reservations_postgres.py): the engine's role reads it directly now.
                if await conn.fetchval("SELECT 1 FROM pg_roles WHERE rolname = 'clinicq_engine'"):
                    await conn.execute(f'GRANT SELECT ON "{partition}" TO clinicq_engine')
        done.append(Archived(month, partition, len(checkpoints), sum(c[6] for c in checkpoints)))
    return done


async def _checkpoint(
    conn: Conn, partition: str, clinic: str, month: date, key: bytes
) -> tuple[str, date, int, bytes, int, bytes | None, int]:
    """Walk one clinic's stretch of a month: its checkpoint row, and how many entries it has."""
    previous = await conn.fetchrow(
        "SELECT last_offset, last_hash, entries FROM journal_checkpoint WHERE clinic = $1 "
        "ORDER BY month DESC LIMIT 1",
        clinic,
    )
    prev = bytes(previous["last_hash"]) if previous else GENESIS
    count = previous["entries"] if previous else 0
    rows = await conn.fetch(
        f'SELECT * FROM "{partition}" WHERE clinic = $1 ORDER BY "offset"', clinic
    )
    for row in rows:
        expected = entry_hash(prev, row)
        if bytes(row["prev_hash"]) != prev or bytes(row["hash"]) != expected:
            raise ConfigError(
                f"{partition}: clinic {clinic}'s chain breaks at offset {row['offset']}; "
                "run `clinicq audit verify` and resolve it before archiving"
            )
        prev, count = expected, count + 1
    last = rows[-1]["offset"]
    signature = checkpoint_signature(key, clinic, month, last, prev, count) if key else None
    return clinic, month, last, prev, count, signature, len(rows)
