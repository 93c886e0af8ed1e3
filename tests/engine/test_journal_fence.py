"""The journal commits a clinic's events in order and only on its own history (the fence)."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable

import asyncpg
import pytest

from engine.errors import Unavailable
from engine.journal_postgres import (
    WRITER_NAME,
    Entry,
    Journal,
    JournalGap,
    JournalRefused,
    chained,
    link_of,
)

pytestmark = pytest.mark.integration


@pytest.fixture
async def journals(db: asyncpg.Pool, database_url: str) -> AsyncIterator[tuple[Journal, Journal]]:
    """Two writers on one database, as two engine workers are."""
    pair = (Journal(db, database_url), Journal(db, database_url))
    for j in pair:
        j.start()
    yield pair
    for j in pair:
        await j.close()


def _events(clinic: str, first: int, n: int, prev: str = "", tag: str = "") -> list[Entry]:
    raw = [
        Entry(clinic, o, "duty_changed", 1000 + o, f'{{"kind":"duty_changed","offset":{o}{tag}}}')
        for o in range(first, first + n)
    ]
    return chained(raw, prev)


async def _offsets(db: asyncpg.Pool, clinic: str) -> list[int]:
    rows = await db.fetch('SELECT "offset" FROM journal WHERE clinic = $1 ORDER BY seq', clinic)
    return [r["offset"] for r in rows]


async def test_an_entry_waits_for_its_predecessor_from_another_writer(
    journals: tuple[Journal, Journal], db: asyncpg.Pool
) -> None:
    """Offsets 3-4 arrive before 1-2 through another worker: they commit after them, in order."""
    a, b = journals
    clinic = f"fence-{uuid.uuid4().hex[:6]}"
    first, second = _events(clinic, 1, 2), None
    second = chained(_events(clinic, 3, 2), first[-1].link)
    late = asyncio.create_task(b.append(second))
    await asyncio.sleep(0.05)
    assert not late.done(), "3-4 must wait while 1-2 are missing"
    await a.append(first)
    await late
    assert await _offsets(db, clinic) == [1, 2, 3, 4]
    head = await a.head(clinic)
    assert head.offset == 4 and head.link == link_of(second[-1].body)


async def test_an_event_decided_on_another_history_is_refused(
    journals: tuple[Journal, Journal], db: asyncpg.Pool
) -> None:
    """The successor of a stale predecessor, a different body at a committed offset, and a
    removed entry are each refused, and nothing of them is committed."""
    a, _ = journals
    clinic = f"fence-{uuid.uuid4().hex[:6]}"
    await a.append(_events(clinic, 1, 3))
    stale_prev = _events(clinic, 1, 2, tag=',"stale":1')[-1].link
    with pytest.raises(JournalRefused) as diverged:
        await a.append(_events(clinic, 4, 1, prev=stale_prev))
    assert diverged.value.reason == "diverged" and diverged.value.offset == 4
    with pytest.raises(JournalRefused) as clash:
        await a.append(_events(clinic, 2, 1, tag=',"other":1'))
    assert clash.value.reason == "clash"
    await a.append(_events(clinic, 1, 3))  # the same entries again: a retry, accepted
    assert await _offsets(db, clinic) == [1, 2, 3]

    async with db.acquire() as conn, conn.transaction():
        await conn.execute("SET LOCAL session_replication_role = replica")  # a superuser's edit
        removed = await conn.fetchrow(
            'DELETE FROM journal WHERE clinic = $1 AND "offset" = 2 RETURNING *', clinic
        )
    try:
        with pytest.raises(JournalRefused) as hole:
            await a.append(_events(clinic, 1, 3))
        assert hole.value.reason == "hole" and hole.value.offset == 2
        assert await _offsets(db, clinic) == [1, 3], "a hole is reported, never patched over"
    finally:
        async with db.acquire() as conn, conn.transaction():
            await conn.execute("SET LOCAL session_replication_role = replica")
            names = ", ".join(f'"{c}"' for c in removed.keys())  # noqa: SIM118 (a Record iterates values)
            places = ", ".join(f"${i}" for i in range(1, len(removed) + 1))
            await conn.execute(
                f"INSERT INTO journal ({names}) VALUES ({places})", *removed.values()
            )


async def test_a_predecessor_that_never_comes_is_a_gap(journals: tuple[Journal, Journal]) -> None:
    """An entry whose predecessors nobody sends is not committed: the writer is told of the gap."""
    a, _ = journals
    clinic = f"fence-{uuid.uuid4().hex[:6]}"
    with pytest.raises(JournalGap) as gap:
        await a.append(_events(clinic, 5, 1, prev="f" * 40))
    assert gap.value.offset == 5
    with contextlib.suppress(JournalRefused):
        await a.append(_events(clinic, 1, 1))
    assert (await a.head(clinic)).offset == 1


async def _writers(db: asyncpg.Pool) -> dict[int, str]:
    """The group commit connections PostgreSQL has now, each with its last statement."""
    rows = await db.fetch(
        "SELECT pid, query FROM pg_stat_activity WHERE application_name = $1", WRITER_NAME
    )
    return {r["pid"]: r["query"] for r in rows}


async def _wait_until(check: Callable[[], Awaitable[bool]], what: str) -> None:
    for _ in range(100):
        if await check():
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"timed out waiting until {what}")


async def test_batches_share_one_connection_that_is_never_reset(
    journals: tuple[Journal, Journal], db: asyncpg.Pool
) -> None:
    """Every batch goes over the writer's own connection, and nothing runs on it between them:
    no pool release, so no ``Connection.reset`` round trip after a commit."""
    a, _ = journals
    clinic = f"fence-{uuid.uuid4().hex[:6]}"
    before = await _writers(db)
    await a.append(_events(clinic, 1, 1))
    [pid] = (await _writers(db)).keys() - before.keys()
    events = _events(clinic, 1, 4)
    for i in range(1, 4):
        await a.append(events[i : i + 1])
        writers = await _writers(db)
        assert writers.keys() - before.keys() == {pid}, "one connection for every batch"
        assert "journal_append" in writers[pid], f"ran after the commit: {writers[pid]!r}"
    assert await _offsets(db, clinic) == [1, 2, 3, 4]


async def test_a_connection_ended_between_batches_is_replaced_unnoticed(
    journals: tuple[Journal, Journal], db: asyncpg.Pool
) -> None:
    """PostgreSQL ends the writer's idle connection (a restart, an administrator): the next
    batch commits over a new one, without an error."""
    a, _ = journals
    clinic = f"fence-{uuid.uuid4().hex[:6]}"
    before = await _writers(db)
    await a.append(_events(clinic, 1, 1))
    [pid] = (await _writers(db)).keys() - before.keys()
    assert await db.fetchval("SELECT pg_terminate_backend($1)", pid)
    await _wait_until(lambda: _gone(db, pid), "the backend is gone")
    await asyncio.sleep(0.1)  # the client reads the server's goodbye
    await a.append(_events(clinic, 1, 2)[1:])
    [again] = (await _writers(db)).keys() - before.keys()
    assert again != pid
    assert await _offsets(db, clinic) == [1, 2]


async def _gone(db: asyncpg.Pool, pid: int) -> bool:
    return not await db.fetchval("SELECT count(*) FROM pg_stat_activity WHERE pid = $1", pid)


async def test_a_connection_lost_mid_batch_fails_that_batch_only(
    journals: tuple[Journal, Journal], db: asyncpg.Pool
) -> None:
    """The writer's connection dies while its batch waits for a lock: that batch's callers are
    told the journal is unavailable, nothing of it is committed, and the retry commits it."""
    a, _ = journals
    clinic = f"fence-{uuid.uuid4().hex[:6]}"
    before = await _writers(db)
    first = _events(clinic, 1, 2)
    await a.append(first[:1])
    [pid] = (await _writers(db)).keys() - before.keys()
    async with db.acquire() as holder:
        locked = holder.transaction()
        await locked.start()
        await holder.execute("SELECT 1 FROM journal_head WHERE clinic = $1 FOR UPDATE", clinic)
        batch = asyncio.create_task(a.append(first[1:]))

        async def waiting() -> bool:
            query = "SELECT wait_event_type FROM pg_stat_activity WHERE pid = $1"
            return await db.fetchval(query, pid) == "Lock"

        await _wait_until(waiting, "the batch waits for the head's lock")
        assert await db.fetchval("SELECT pg_terminate_backend($1)", pid)
        with pytest.raises(Unavailable):
            await batch
        await locked.rollback()
    assert await _offsets(db, clinic) == [1]
    await a.append(first[1:])
    assert await _offsets(db, clinic) == [1, 2]
