"""Snapshots on the real stores: a rebuild starts from one only if it holds, and a rebuild keeps
the print records that are not the journal's."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid

import asyncpg
import msgspec
import pytest

from engine import commands as cmd
from engine import keys
from engine.clinic import parse_clinic
from engine.database import as_role
from engine.model import events as ev
from engine.model.state import fold
from engine.service import Engine
from engine.snapshots_postgres import digest
from tests.support import Clock, clinic_config
from ticketing.records import PrinterRecord
from ticketing.records_redis import PrintRecords

pytestmark = pytest.mark.integration


async def _busy_clinic(e: Engine, clock: Clock) -> str:
    clinic = f"snap-{uuid.uuid4().hex[:6]}"
    await e.put_clinic(parse_clinic(clinic_config(clinic)))  # type: ignore[arg-type]
    clock.set("2026-11-26T09:00:00")
    await e.execute(clinic, cmd.SetDuty("d0", status="on_duty"))
    for _ in range(12):
        await e.execute(clinic, cmd.Issue("therapy"))
        clock.advance(3)
    await e.execute(clinic, cmd.CallNext("c0"))
    return clinic


async def _lose(e: Engine, clinic: str) -> None:
    """Redis loses the clinic's live state (a flush), then the next use rebuilds it."""
    await e.store.client.hdel(keys.meta(clinic), "epoch")
    await e.rebuild(clinic)


async def test_a_rebuild_from_a_snapshot_equals_the_full_fold(engine: tuple[Engine, Clock]) -> None:
    """A snapshot mid-history, more commands after it: the rebuilt state is the full fold's."""
    e, clock = engine
    clinic = await _busy_clinic(e, clock)
    assert await e.snapshots.take(clinic) is not None
    for _ in range(5):
        await e.execute(clinic, cmd.Issue("surgery"))
    snapshot = await e.snapshots.latest(clinic)
    assert snapshot is not None and snapshot.offset < (await e.journal.head(clinic)).offset
    await _lose(e, clinic)
    everything = fold([ev.decode_event(b) for b in await e.journal.bodies(clinic)])
    assert await e.store.dump(clinic) == everything


async def test_a_snapshot_that_does_not_hold_is_refused(
    engine: tuple[Engine, Clock], db: asyncpg.Pool
) -> None:
    """Its bytes edited (the digest no longer covers them): refused, logged, the full fold used."""
    e, clock = engine
    clinic = await _busy_clinic(e, clock)
    await e.snapshots.take(clinic)
    await db.execute(
        "UPDATE journal_snapshot SET state = convert_to(replace(convert_from(state, 'UTF8'), "
        "'Т-012', 'Т-099'), 'UTF8') WHERE clinic = $1",
        clinic,
    )
    rejected = e.snapshots.rejected
    assert await e.snapshots.latest(clinic) is None
    assert e.snapshots.rejected == rejected + 1
    await _lose(e, clinic)
    everything = fold([ev.decode_event(b) for b in await e.journal.bodies(clinic)])
    assert await e.store.dump(clinic) == everything


async def test_print_records_survive_a_rebuild(engine: tuple[Engine, Clock]) -> None:
    """A kiosk's print job binding and printer state are still there after the clinic is rebuilt."""
    e, clock = engine
    clinic = await _busy_clinic(e, clock)
    records = PrintRecords(e.store.client)
    await records.bind_ticket(clinic, "t3", "job-1")
    await records.save_printer(clinic, PrinterRecord(kiosk="hall", state="paper_near_end", at=1))
    epoch = (await e.store.position(clinic)).epoch
    await _lose(e, clinic)
    assert (await e.store.position(clinic)).epoch != epoch
    assert await records.ticket_job(clinic, "t3") == "job-1"
    assert (await records.printers(clinic))["hall"].state == "paper_near_end"


async def test_audit_refolds_snapshots_and_finds_a_forged_one(
    engine: tuple[Engine, Clock], database_url: str
) -> None:
    """The engine's role may add snapshots: one whose digest holds but whose state is not the
    journal's passes `audit verify` alone and fails `audit verify --snapshots`."""
    e, clock = engine
    clinic = await _busy_clinic(e, clock)
    await e.snapshots.take(clinic)
    await e.execute(clinic, cmd.Issue("therapy"))
    head = await e.journal.head(clinic)
    forged = fold([ev.decode_event(b) for b in await e.journal.bodies(clinic)])
    forged.seq["therapy"] = 1  # numbering would start again: the 2013 failure, planted
    raw = msgspec.json.encode(forged)
    conn = await asyncpg.connect(as_role(database_url))
    try:
        await conn.execute(
            'INSERT INTO journal_snapshot (clinic, "offset", chain_hash, state, digest) '
            "VALUES ($1, $2, $3, $4, $5)",
            clinic, head.offset, head.hash, raw, digest(head.hash, raw),
        )  # fmt: skip
    finally:
        await conn.close()
    plain = _audit(database_url, "verify", "--clinic", clinic)
    assert plain.returncode == 0, plain.stdout + plain.stderr
    deep = _audit(database_url, "verify", "--clinic", clinic, "--snapshots")
    assert deep.returncode == 1
    assert f"BROKEN at offset {head.offset}: the snapshot is not the journal's state" in deep.stdout


def _audit(database_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DATABASE_URL": database_url}
    return subprocess.run(
        [sys.executable, "-m", "clinicq.cli", "audit", *args],
        env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip


async def test_a_journal_cut_short_is_reported_once_not_rebuilt_forever(
    engine: tuple[Engine, Clock], db: asyncpg.Pool
) -> None:
    """Its last entry removed by a superuser, a clinic's entries end before its head: the
    rebuild cannot reach the head, so the periodic check does not rebuild it every round."""
    e, clock = engine
    clinic = await _busy_clinic(e, clock)
    async with db.acquire() as conn, conn.transaction():
        await conn.execute("SET LOCAL session_replication_role = replica")
        await conn.execute(
            'DELETE FROM journal WHERE clinic = $1 AND "offset" = '
            '(SELECT max("offset") FROM journal WHERE clinic = $1)',
            clinic,
        )
    await _lose(e, clinic)
    rebuilds = e.rebuilds
    assert not await e.check_fresh(clinic)
    assert not await e.check_fresh(clinic)
    assert e.rebuilds == rebuilds
