"""A database created before replies existed is migrated by the same idempotent start-up:
the outbox gains its kind, the one-a-day key covers daily rows only, the consent history
accepts ``stopped_by_reply``; rows already there keep their meaning."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime

import asyncpg
import pytest

from notifier.store_postgres import init_schema

pytestmark = pytest.mark.integration
NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)

# The shape of the tables before this change, made from today's by undoing it.
DOWNGRADE = """
DROP INDEX sms_outbox_daily;
DROP INDEX sms_outbox_reply;
DROP INDEX sms_relatives_phone;
ALTER TABLE sms_outbox DROP COLUMN kind, DROP COLUMN reply_to;
DROP TABLE sms_inbox;
ALTER TABLE sms_outbox ADD CONSTRAINT sms_outbox_patient_id_relative_id_local_date_key
    UNIQUE (patient_id, relative_id, local_date);
ALTER TABLE sms_consent_history DROP CONSTRAINT sms_consent_history_action_check;
ALTER TABLE sms_consent_history ADD CONSTRAINT sms_consent_history_action_check
    CHECK (action IN ('granted','revoked','number_bad'));
INSERT INTO sms_patients VALUES ('p1', 'c1', '', NULL, 'admitted', 'd', '2026-12-01');
INSERT INTO sms_relatives (patient_id, phone_enc, phone_fp, phone_masked, relation, language,
    active, consent_since) VALUES ('p1', '\\x01', '\\x02', '+7 *** ***-00-01', 'son', 'ru', true,
    '2026-11-01');
INSERT INTO sms_outbox (patient_id, relative_id, local_date, state, next_attempt_at,
    created_at, updated_at) VALUES ('p1', 1, '2026-11-30', 'sent', now(), now(), now());
"""


@pytest.fixture
async def old_db(database_url: str) -> AsyncIterator[asyncpg.Connection]:
    """A connection to a schema of its own holding the old tables and a row in each."""
    name = f"sms_old_{uuid.uuid4().hex[:8]}"
    conn = await asyncpg.connect(database_url)
    try:
        await conn.execute(f"CREATE SCHEMA {name}; SET search_path TO {name}")
        await init_schema(conn)
        await conn.execute(DOWNGRADE)
        yield conn
    finally:
        await conn.execute(f"DROP SCHEMA {name} CASCADE")
        await conn.close()


async def constraints(conn: asyncpg.Connection, table: str) -> set[str]:
    rows = await conn.fetch(
        "SELECT conname FROM pg_constraint WHERE conrelid = $1::regclass", table
    )
    return {r["conname"] for r in rows}


async def test_an_old_database_is_migrated_twice_over_without_harm(
    old_db: asyncpg.Connection,
) -> None:
    conn = old_db
    with pytest.raises(asyncpg.CheckViolationError):
        await conn.execute(
            "INSERT INTO sms_consent_history (relative_id, action, changed_by, changed_at)"
            " VALUES (1, 'stopped_by_reply', 'x', now())"
        )
    for _ in range(2):
        await init_schema(conn)
    assert await conn.fetchval("SELECT kind FROM sms_outbox WHERE id = 1") == "daily"
    assert "sms_outbox_patient_id_relative_id_local_date_key" not in await constraints(
        conn, "sms_outbox"
    )
    await conn.execute(
        "INSERT INTO sms_consent_history (relative_id, action, changed_by, changed_at)"
        " VALUES (1, 'stopped_by_reply', 'relative:sms', now())"
    )
    insert = (
        "INSERT INTO sms_outbox (patient_id, relative_id, local_date, state, kind,"
        " next_attempt_at, created_at, updated_at) VALUES ('p1', 1, $1, 'pending', $2, $3, $3, $3)"
    )
    # The daily key still holds for daily rows, and lets a confirmation share the day.
    with pytest.raises(asyncpg.UniqueViolationError):
        await conn.execute(insert, date(2026, 11, 30), "daily", NOW)
    await conn.execute(insert, date(2026, 11, 30), "stop_confirmation", NOW)
    with pytest.raises(asyncpg.CheckViolationError):
        await conn.execute(insert, date(2026, 12, 1), "weekly", NOW)
