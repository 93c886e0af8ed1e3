"""An archived month leaves the chain whole: verify crosses the boundary, a rebuild never needs
the archived entries, and a forged checkpoint is caught."""

from __future__ import annotations

import os
import random
import subprocess
import sys
import uuid
from datetime import UTC, datetime

import asyncpg
import pytest

from engine import commands as cmd
from engine.clinic import DEMO_CLINICS, load_clinics
from engine.journal_postgres import GENESIS, Entry, chained, link_of
from engine.model import events as ev
from engine.model.state import fold
from engine.service import Engine
from loadtest.rebuild_bench import history
from tests.support import Clock

pytestmark = pytest.mark.integration
AUDIT_KEY = "ab" * 32


def _cli(database_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DATABASE_URL": database_url, "CLINICQ_AUDIT_KEY": AUDIT_KEY}
    return subprocess.run(
        [sys.executable, "-m", "clinicq.cli", *args],
        env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip


def _entry(clinic: str, body: str) -> Entry:
    event = ev.decode_event(body)
    return Entry(clinic, event.offset, str(type(event).__struct_config__.tag), event.at, body)


async def _committed_in(db: asyncpg.Pool, month: datetime, clinic: str, bodies: list[str]) -> None:
    """Journal ``bodies`` for a new clinic as if committed in ``month`` (a superuser's insert
    through the chain's own function)."""
    prev = GENESIS
    async with db.acquire() as conn, conn.transaction():
        await conn.execute("SELECT journal_ensure_partition($1)", month.date().replace(day=1))
        for body in bodies:
            x = _entry(clinic, body)
            prev = await conn.fetchval(
                "SELECT journal_link_entry($1, $2, $3, $4, $5, $6, NULL, NULL, $7)",
                prev, clinic, x.offset, x.kind, x.at_ms, x.body, month,
            )  # fmt: skip
        await conn.execute(
            "INSERT INTO journal_head (clinic, last_offset, last_link, last_hash, entries) "
            "VALUES ($1, $2, $3, $4, $2)",
            clinic, len(bodies), link_of(bodies[-1]), prev,
        )  # fmt: skip


async def test_an_archived_month_keeps_the_chain_and_the_rebuild(
    engine: tuple[Engine, Clock], db: asyncpg.Pool, database_url: str
) -> None:
    """30 entries committed in an old month, 20 this month: archive the old month; 20 stay
    attached, verify says ok for all 50, the clinic rebuilds to the full fold, a clinic with
    nothing since rebuilds and goes on, a forged checkpoint fails verify."""
    e, _ = engine
    clinic = f"arch-{uuid.uuid4().hex[:6]}"
    e.clinics[clinic] = load_clinics(DEMO_CLINICS)[0]
    bodies = history(e.clinics[clinic], 50, seed=3)
    # A month nobody else writes to; its entries stamped there as if committed then.
    month = datetime(random.randrange(1990, 2000), random.randrange(1, 13), 10, tzinfo=UTC)
    await _committed_in(db, month, clinic, bodies[:30])
    await e.journal.append(chained([_entry(clinic, b) for b in bodies[30:]], link_of(bodies[29])))
    # A clinic with nothing since that month: everything it has is archived.
    idle = f"idle-{uuid.uuid4().hex[:6]}"
    e.clinics[idle] = e.clinics[clinic]
    await _committed_in(db, month, idle, bodies[:10])

    before = (
        f"{month.year:04d}-{month.month + 1:02d}" if month.month < 12 else f"{month.year + 1}-01"
    )
    archived = _cli(database_url, "journal", "archive", "--before", before)
    assert archived.returncode == 0, archived.stdout + archived.stderr
    assert "40 entries of 2 clinics" in archived.stdout
    assert await db.fetchval("SELECT count(*) FROM journal WHERE clinic = $1", clinic) == 20

    verified = _cli(database_url, "audit", "verify", "--clinic", clinic)
    assert verified.returncode == 0, verified.stdout + verified.stderr
    assert f"{clinic}: ok, 50 entries" in verified.stdout

    await e.rebuild(clinic)  # not in Redis yet: from the snapshot the archive took
    assert await e.store.dump(clinic) == fold([ev.decode_event(b) for b in bodies])

    await e.rebuild(idle)
    assert (await e.store.dump(idle)).offset == 10
    await e.execute(idle, cmd.SetDuty("ivanova", status="on_duty"))
    assert (await e.journal.head(idle)).offset == 11 and not e.fenced

    async with db.acquire() as conn, conn.transaction():
        await conn.execute("SET LOCAL session_replication_role = replica")
        await conn.execute(
            "UPDATE journal_checkpoint SET entries = entries + 1 WHERE clinic = $1", clinic
        )
    forged = _cli(database_url, "audit", "verify", "--clinic", clinic)
    assert forged.returncode == 1
    assert "not signed by the audit key" in forged.stdout
