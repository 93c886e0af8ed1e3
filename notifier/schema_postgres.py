"""The notifier's PostgreSQL schema (``schema.sql``, every table prefixed ``sms_``) and the
connection types its adapters share."""

from __future__ import annotations

from pathlib import Path

import asyncpg
from asyncpg.pool import PoolConnectionProxy

SCHEMA = Path(__file__).with_name("schema.sql")
TABLES = (
    "sms_outbox_history",
    "sms_outbox",
    "sms_inbox",
    "sms_alerts",
    "sms_observations",
    "sms_consent_history",
    "sms_relatives",
    "sms_patient_history",
    "sms_patients",
)

Conn = asyncpg.Connection | PoolConnectionProxy
Executor = asyncpg.Pool | Conn


async def init_schema(db: Executor) -> None:
    """Create the sms_ tables if missing; an advisory lock lets many processes start at once."""
    if isinstance(db, asyncpg.Pool):
        async with db.acquire() as conn:
            await init_schema(conn)
        return
    async with db.transaction():
        await db.execute("SELECT pg_advisory_xact_lock(hashtext('clinicq_sms_schema'))")
        await db.execute(SCHEMA.read_text())
