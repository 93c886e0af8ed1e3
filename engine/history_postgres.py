"""The journal read behind the department head's history: a clinic's events since a moment."""

from __future__ import annotations

import asyncpg

# Events are committed within moments of being decided: a day's slack on the commit time lets
# PostgreSQL skip every month's partition but the ones that can hold the window.
COMMIT_SLACK_MS = 24 * 3600 * 1000


async def bodies_since(pool: asyncpg.Pool, clinic: str, at_ms: int) -> list[str]:
    """The clinic's event bodies decided at or after ``at_ms``, in offset order."""
    rows = await pool.fetch(
        "SELECT body FROM journal WHERE clinic = $1 AND at_ms >= $2 "
        "AND recorded_at >= to_timestamp($3::bigint / 1000.0) "
        'ORDER BY "offset"',
        clinic,
        at_ms,
        at_ms - COMMIT_SLACK_MS,
    )
    return [r["body"] for r in rows]
