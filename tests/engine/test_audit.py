"""The audit means it: every column is covered, the engine cannot rewrite history, the anchor
catches a superuser's full rewrite, and a live system never raises a false alarm."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from engine import audit
from engine.database import as_role
from tests.support import ClinicClient, MakeClinic

pytestmark = pytest.mark.integration


def _cli(database_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DATABASE_URL": database_url}
    return subprocess.run(
        [sys.executable, "-m", "clinicq.cli", "audit", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


async def _history(c: ClinicClient, tickets: int = 5) -> None:
    for i in range(tickets):
        r = await c.http.post(
            f"{c.api}/tickets", json={"service": "therapy"}, headers=c.auth("kiosk", f"h{i}")
        )
        assert r.status_code == 201


@contextlib.asynccontextmanager
async def _as_superuser_editing(db: asyncpg.Pool) -> AsyncIterator[asyncpg.Connection]:
    """A superuser's session with the append-only triggers off: what a tamperer could do."""
    async with db.acquire() as conn, conn.transaction():
        await conn.execute("SET LOCAL session_replication_role = replica")
        yield conn


EDITS: dict[str, str] = {
    "kind": "'ticket_called'",
    "at_ms": "at_ms + 1",
    "body": "replace(body, 'therapy', 'surgery')",
    "idem_key": "'someone-else'",
    "idem_record": "replace(idem_record, 'Т-003', 'Т-099')",
    "recorded_at": "recorded_at - interval '1 day'",
    "prev_hash": "sha256(prev_hash)",
    "hash": "sha256(hash)",
    "offset": '"offset" + 1000',
    "clinic": "'elsewhere-clinic'",
}


@pytest.mark.parametrize("column", sorted(EDITS))
async def test_editing_any_column_breaks_the_chain(
    clinics: MakeClinic, db: asyncpg.Pool, database_url: str, column: str
) -> None:
    """Edit one column of the third ticket's entry: `audit verify` exits 1 and names where."""
    c = await clinics("audit")
    await _history(c)
    row = await db.fetchrow(
        "SELECT * FROM journal WHERE clinic = $1 AND kind = 'ticket_issued' "
        'ORDER BY "offset" OFFSET 2 LIMIT 1',
        c.clinic,
    )
    seq, offset = row["seq"], row["offset"]
    ok = _cli(database_url, "verify", "--clinic", c.clinic)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    async with _as_superuser_editing(db) as conn:
        await conn.execute(f'UPDATE journal SET "{column}" = {EDITS[column]} WHERE seq = $1', seq)
    try:
        broken = _cli(database_url, "verify", "--clinic", c.clinic)
        assert broken.returncode == 1, broken.stdout + broken.stderr
        assert f"{c.clinic}: BROKEN at offset" in broken.stdout
        if column not in ("offset", "clinic"):  # those move the row: the break shows after it
            assert f"BROKEN at offset {offset}:" in broken.stdout
    finally:
        async with _as_superuser_editing(db) as conn:
            names = [k for k in row.keys() if k != "seq"]  # noqa: SIM118 (a Record iterates values)
            columns = ", ".join(f'"{n}"' for n in names)
            places = ", ".join(f"${i}" for i in range(2, len(names) + 2))
            await conn.execute(
                f"UPDATE journal SET ({columns}) = ({places}) WHERE seq = $1",
                seq,
                *(row[n] for n in names),
            )
    assert _cli(database_url, "verify", "--clinic", c.clinic).returncode == 0


async def test_the_engine_role_cannot_rewrite_the_journal(
    clinics: MakeClinic, database_url: str, db: asyncpg.Pool
) -> None:
    """As clinicq_engine: no INSERT, UPDATE, DELETE, TRUNCATE or trigger change on the journal's
    tables; as a superuser, TRUNCATE is refused by a trigger even so."""
    c = await clinics("role")
    await _history(c, 1)
    conn = await asyncpg.connect(as_role(database_url))
    try:
        assert await conn.fetchval("SELECT current_user") == "clinicq_engine"
        assert await conn.fetchval("SELECT count(*) FROM journal WHERE clinic = $1", c.clinic) > 0
        for statement in (
            "UPDATE journal SET body = body WHERE clinic = $1",
            "DELETE FROM journal WHERE clinic = $1",
            "UPDATE journal_head SET entries = 0 WHERE clinic = $1",
            "DELETE FROM journal_snapshot WHERE clinic = $1",
            'INSERT INTO journal (clinic, "offset", kind, at_ms, body, prev_hash, hash, '
            "recorded_at) VALUES ($1, 999999, 'x', 0, '{}', '', '', now())",
        ):
            with pytest.raises(asyncpg.InsufficientPrivilegeError):
                await conn.execute(statement, c.clinic)
        for statement in (
            "TRUNCATE journal",
            "TRUNCATE journal_head",
            "ALTER TABLE journal DISABLE TRIGGER journal_append_only",
            "DROP TRIGGER journal_append_only ON journal",
        ):
            with pytest.raises(asyncpg.InsufficientPrivilegeError):
                await conn.execute(statement)
    finally:
        await conn.close()
    async with db.acquire() as su:
        for table in ("journal", "journal_head"):
            tx = su.transaction()
            await tx.start()
            try:
                with pytest.raises(asyncpg.RaiseError, match="append-only"):
                    await su.execute(f"TRUNCATE {table}")
            finally:
                await tx.rollback()
    assert await db.fetchval("SELECT count(*) FROM journal WHERE clinic = $1", c.clinic) > 0


async def test_an_anchor_catches_a_superusers_full_rewrite(
    clinics: MakeClinic, db: asyncpg.Pool, database_url: str, tmp_path: Path
) -> None:
    """A superuser edits an entry and recomputes every hash after it: the chain holds again on
    its own, but no longer passes through the anchor printed before."""
    c = await clinics("anchor")
    await _history(c, 4)
    anchors = tmp_path / "anchors.jsonl"
    printed = _cli(database_url, "anchor", "--out", str(anchors))
    assert printed.returncode == 0, printed.stderr
    mine = [json.loads(line) for line in anchors.read_text().splitlines()]
    assert any(a["clinic"] == c.clinic for a in mine)

    rows = await db.fetch('SELECT * FROM journal WHERE clinic = $1 ORDER BY "offset"', c.clinic)
    head = await db.fetchrow("SELECT * FROM journal_head WHERE clinic = $1", c.clinic)
    async with _as_superuser_editing(db) as conn:
        await conn.execute(
            "UPDATE journal SET body = replace(body, 'therapy', 'surgery') WHERE seq = $1",
            rows[1]["seq"],
        )
        prev = rows[0]["hash"]
        for r in rows[1:]:
            prev = await conn.fetchval(
                "UPDATE journal SET prev_hash = $2, hash = journal_entry_hash($2, clinic, "
                '"offset", kind, at_ms, recorded_at, idem_key, idem_record, body) '
                "WHERE seq = $1 RETURNING hash",
                r["seq"],
                prev,
            )
        await conn.execute(
            "UPDATE journal_head SET last_hash = $2 WHERE clinic = $1", c.clinic, prev
        )
    try:
        assert _cli(database_url, "verify", "--clinic", c.clinic).returncode == 0
        caught = _cli(database_url, "verify", "--clinic", c.clinic, "--anchor", str(anchors))
        assert caught.returncode == 1
        assert "rewritten since it was anchored" in caught.stdout
    finally:
        async with _as_superuser_editing(db) as conn:
            for r in rows:
                await conn.execute(
                    "UPDATE journal SET body = $2, prev_hash = $3, hash = $4 WHERE seq = $1",
                    r["seq"], r["body"], r["prev_hash"], r["hash"],
                )  # fmt: skip
            await conn.execute(
                "UPDATE journal_head SET last_hash = $2 WHERE clinic = $1",
                c.clinic,
                head["last_hash"],
            )


async def test_verify_during_load_never_raises_a_false_alarm(
    clinics: MakeClinic, db: asyncpg.Pool
) -> None:
    """Writers move the head while `verify` walks: every run, start to end, says ok."""
    c = await clinics("live")
    stop = asyncio.Event()

    async def kiosk() -> None:
        while not stop.is_set():
            await c.http.post(
                f"{c.api}/tickets", json={"service": "therapy"}, headers=c.auth("kiosk")
            )

    writers = [asyncio.create_task(kiosk()) for _ in range(8)]
    reports: list[Any] = []
    try:
        await asyncio.sleep(0.3)
        for _ in range(25):
            reports.append(await audit.verify(db, c.clinic))
    finally:
        stop.set()
        await asyncio.gather(*writers)
    assert all(r.ok for r in reports), [r for r in reports if not r.ok][:1]
    assert reports[-1].entries > reports[0].entries, "the head must have moved during the runs"


async def test_updates_and_deletes_are_refused(clinics: MakeClinic, db: asyncpg.Pool) -> None:
    """Even for the administrator, the journal refuses UPDATE and DELETE outright."""
    c = await clinics("append-only")
    await _history(c)
    for statement in [
        "UPDATE journal SET body = body WHERE clinic = $1",
        "DELETE FROM journal WHERE clinic = $1",
    ]:
        with pytest.raises(asyncpg.RaiseError, match="append-only"):
            await db.execute(statement, c.clinic)


async def test_verify_passes_an_honest_chain(clinics: MakeClinic, database_url: str) -> None:
    """An untouched journal verifies, with the entry count and head hash printed."""
    c = await clinics("honest")
    await _history(c)
    result = _cli(database_url, "verify", "--clinic", c.clinic)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"{c.clinic}: ok, 6 entries" in result.stdout


@pytest.mark.parametrize(
    "tamper",
    [
        'DELETE FROM journal WHERE clinic = $1 AND "offset" = 3',
        'DELETE FROM journal WHERE clinic = $1 AND "offset" = '
        '(SELECT max("offset") FROM journal WHERE clinic = $1)',
    ],
    ids=["removed-in-the-middle", "removed-at-the-end"],
)
async def test_verify_detects_removed_entries(
    clinics: MakeClinic, db: asyncpg.Pool, database_url: str, tamper: str
) -> None:
    """A superuser who bypasses the trigger still cannot drop history unseen."""
    c = await clinics("tampered")
    await _history(c)
    async with _as_superuser_editing(db) as conn:
        status = await conn.execute(tamper, c.clinic)
    assert status.endswith(" 1")
    result = _cli(database_url, "verify", "--clinic", c.clinic)
    assert result.returncode == 1
    assert f"{c.clinic}: BROKEN at offset" in result.stdout
