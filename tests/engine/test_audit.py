"""The journal is append-only and tamper-evident; `clinicq audit verify` finds falsification."""

from __future__ import annotations

import os
import subprocess
import sys

import asyncpg
import pytest

from tests.support import MakeClinic

pytestmark = pytest.mark.integration


def _verify(database_url: str, clinic: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DATABASE_URL": database_url}
    return subprocess.run(
        [sys.executable, "-m", "engine.cli", "audit", "verify", "--clinic", clinic],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


async def _journal_some(c) -> None:  # type: ignore[no-untyped-def]
    for _ in range(5):
        r = await c.http.post(
            f"{c.api}/tickets", json={"service": "therapy"}, headers=c.auth("kiosk")
        )
        assert r.status_code == 201


async def test_updates_and_deletes_are_refused(clinics: MakeClinic, db: asyncpg.Pool) -> None:
    """The journal table refuses UPDATE and DELETE outright."""
    c = await clinics("append-only")
    await _journal_some(c)
    for statement in [
        "UPDATE journal SET body = body WHERE clinic = $1",
        "DELETE FROM journal WHERE clinic = $1",
    ]:
        with pytest.raises(asyncpg.RaiseError, match="append-only"):
            await db.execute(statement, c.clinic)


async def test_verify_passes_an_honest_chain(clinics: MakeClinic, database_url: str) -> None:
    """An untouched journal verifies, with the entry count and head hash printed."""
    c = await clinics("honest")
    await _journal_some(c)
    result = _verify(database_url, c.clinic)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"{c.clinic}: ok, 6 entries" in result.stdout


@pytest.mark.parametrize(
    "tamper",
    [
        "UPDATE journal SET body = replace(body, 'Т-003', 'Т-001') WHERE clinic = $1 AND body LIKE '%Т-003%'",
        'DELETE FROM journal WHERE clinic = $1 AND "offset" = 3',
        "DELETE FROM journal WHERE clinic = $1 AND seq = (SELECT max(seq) FROM journal WHERE clinic = $1)",
    ],
    ids=["edited", "removed-in-the-middle", "removed-at-the-end"],
)
async def test_verify_detects_falsification(
    clinics: MakeClinic, db: asyncpg.Pool, database_url: str, tamper: str
) -> None:
    """A superuser who bypasses the trigger still cannot edit or drop history unseen."""
    c = await clinics("tampered")
    await _journal_some(c)
    async with db.acquire() as conn:
        await conn.execute("SET session_replication_role = replica")  # skips the trigger
        try:
            status = await conn.execute(tamper, c.clinic)
        finally:
            await conn.execute("SET session_replication_role = origin")
    assert status.endswith(" 1")
    result = _verify(database_url, c.clinic)
    assert result.returncode == 1
    assert "BROKEN" in result.stdout
