"""A database of the first release upgrades in place: its journal is kept and re-chained."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import pytest

from engine import audit
from engine.clinic import DEMO_CLINICS, load_clinics
from engine.journal_postgres import Entry, Journal, apply_schema, chained, link_of
from engine.model import events as ev
from loadtest.rebuild_bench import history

pytestmark = pytest.mark.integration
V1 = Path(__file__).with_name("data") / "schema_v1.sql"


@pytest.fixture
async def old_database(
    db: asyncpg.Pool, database_url: str
) -> AsyncIterator[tuple[asyncpg.Pool, str]]:
    """A new database holding the first release's schema: a pool on it and its URL."""
    name = f"clinicq_v1_{uuid.uuid4().hex[:8]}"
    await db.execute(f'CREATE DATABASE "{name}"')
    url = urlunsplit(urlsplit(database_url)._replace(path=f"/{name}"))
    pool = await asyncpg.create_pool(url, min_size=1, max_size=2)
    try:
        await pool.execute(V1.read_text())
        yield pool, url
    finally:
        await pool.close()
        await db.execute(f'DROP DATABASE "{name}"')


async def test_the_first_releases_journal_is_re_chained(
    old_database: tuple[asyncpg.Pool, str],
) -> None:
    """Entries journaled by the first release verify under the full encoding after the upgrade,
    in order, and the next entry the engine commits follows them."""
    pool, url = old_database
    clinic = load_clinics(DEMO_CLINICS)[0]
    written = {}
    for name in ("old-a", "old-b"):
        bodies = history(clinic, 40, seed=len(name) + ord(name[-1]))
        written[name] = bodies
        rows = [ev.decode_event(b) for b in bodies]
        await pool.fetch(
            "SELECT * FROM journal_append($1::text[], $2::bigint[], $3::text[], $4::bigint[], "
            "$5::text[], $6::text[], $7::text[])",
            [name] * len(rows), [e.offset for e in rows],
            [str(type(e).__struct_config__.tag) for e in rows], [e.at for e in rows], bodies,
            ["k1"] + [None] * (len(rows) - 1), ["fp|{}"] + [None] * (len(rows) - 1),
        )  # fmt: skip

    await apply_schema(pool)
    await apply_schema(pool)  # a second start-up changes nothing

    assert await pool.fetchval("SELECT count(*) FROM journal_v1") == 80
    for name, bodies in written.items():
        report = await audit.verify(pool, name)
        assert report.ok and report.entries == 40, report
        kept = await pool.fetch(
            'SELECT body, idem_key FROM journal WHERE clinic = $1 ORDER BY "offset"', name
        )
        assert [r["body"] for r in kept] == bodies
        assert kept[0]["idem_key"] == "k1"

    journal = Journal(pool, url)
    journal.start()
    try:
        last = written["old-a"][-1]
        assert (await journal.head("old-a")).link == link_of(last)
        nxt = ev.encode_event(ev.DayOpened(offset=41, at=1, day="2099-01-01")).decode()
        await journal.append(chained([Entry("old-a", 41, "day_opened", 1, nxt)], link_of(last)))
    finally:
        await journal.close()
    assert (await audit.verify(pool, "old-a")).entries == 41
