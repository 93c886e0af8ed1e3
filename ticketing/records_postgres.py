"""Print jobs in PostgreSQL: the record that survives Redis (``schema.sql``, table print_jobs).

Redis holds the working copy every worker reads first; a job missing there (Redis lost the
clinic and it was rebuilt from the journal) is read back from here, so a reprint after a rebuild
renders the same stored ticket data to the same bytes, and a ticket already printed is not
printed again as a "first" print.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Final

import asyncpg
import msgspec

from ticketing.records import JobRecord

SCHEMA: Final = Path(__file__).with_name("schema.sql")


async def init_schema(db: asyncpg.Pool) -> None:
    """Create print_jobs if missing; an advisory lock lets many processes start at once."""
    async with db.acquire() as conn, conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock(hashtext('clinicq_print_schema'))")
        await conn.execute(SCHEMA.read_text())


class PrintJournal:
    """Job records by clinic and id; a later save of a job replaces the earlier one."""

    def __init__(self, db: asyncpg.Pool) -> None:
        self.db = db

    async def save(self, record: JobRecord) -> None:
        await self.db.execute(
            """INSERT INTO print_jobs (clinic, id, ticket, kiosk, state, reprint_of, record,
                                       submitted_at)
               VALUES ($1, $2, $3, $4, $5, $6, $7::jsonb, $8)
               ON CONFLICT (clinic, id) DO UPDATE SET state = EXCLUDED.state,
                                                      record = EXCLUDED.record""",
            record.clinic,
            record.id,
            record.ticket,
            record.kiosk,
            record.state,
            record.reprint_of,
            msgspec.json.encode(record).decode(),
            datetime.fromtimestamp(record.submitted_at / 1000, UTC),
        )

    async def job(self, clinic: str, job: str) -> JobRecord | None:
        raw = await self.db.fetchval(
            "SELECT record::text FROM print_jobs WHERE clinic = $1 AND id = $2", clinic, job
        )
        return msgspec.json.decode(raw, type=JobRecord) if raw is not None else None

    async def first_job(self, clinic: str, ticket: str) -> str | None:
        """The ticket's first print job (not a reprint), if it was ever printed."""
        found: str | None = await self.db.fetchval(
            """SELECT id FROM print_jobs WHERE clinic = $1 AND ticket = $2 AND reprint_of IS NULL
               ORDER BY submitted_at LIMIT 1""",
            clinic,
            ticket,
        )
        return found
