"""The journal read behind the department head's history: a clinic's events since a moment."""

from __future__ import annotations

import asyncpg


async def bodies_since(pool: asyncpg.Pool, clinic: str, at_ms: int) -> list[str]:
    """The clinic's event bodies after its last event decided before ``at_ms``, in offset order.

    Offsets follow decision time, so the window starts just after that event. Found walking the
    (clinic, offset) index back from the newest entry, it costs about the window's own rows, not
    the clinic's whole journal (at_ms has no index: the write path should not pay for one).
    """
    rows = await pool.fetch(
        'SELECT body FROM journal WHERE clinic = $1 AND "offset" > coalesce(('
        '    SELECT "offset" FROM journal WHERE clinic = $1 AND at_ms < $2 '
        '    ORDER BY "offset" DESC LIMIT 1), 0) '
        'ORDER BY "offset"',
        clinic,
        at_ms,
    )
    return [r["body"] for r in rows]
