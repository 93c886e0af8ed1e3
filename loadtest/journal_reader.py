"""The run's clinics' journal, read forward during the run for the check "all journaled".

Each pass reads every clinic's entries after the last offset it read (in batches, by the
``(clinic, offset)`` index) and tells ``Journaled`` each ticket and reservation it finds, so that
neither what clients were told nor the journal is held whole, however long the run. A pass that
fails (PostgreSQL restarting under a fault) is simply tried again at the next.
"""

from __future__ import annotations

import asyncio
import time

import asyncpg
import msgspec

from loadtest.invariants import Journaled

ISSUED = {"ticket_issued": "ticket", "slot_reserved": "reservation"}
CANCELLED = "reservation_cancelled"

FORWARD = """
SELECT j.clinic, j."offset", j.kind, CASE WHEN j.kind = ANY($3::text[]) THEN j.body END AS body
FROM unnest($1::text[], $2::bigint[]) AS c(clinic, after)
CROSS JOIN LATERAL (
    SELECT clinic, "offset", kind, body FROM journal
    WHERE journal.clinic = c.clinic AND journal."offset" > c.after
    ORDER BY "offset" LIMIT $4
) AS j
"""

LOOKUP = """
SELECT clinic, kind, body FROM journal
WHERE clinic = ANY($1::text[]) AND kind = ANY($2::text[])
  AND (body::jsonb #>> '{ticket,id}' = ANY($3::text[])
       OR body::jsonb #>> '{reservation,id}' = ANY($3::text[]))
"""


def _id(kind: str, body: str) -> str:
    return str(msgspec.json.decode(body)[ISSUED.get(kind, "reservation")]["id"])


class JournalReader:
    """Reads the clinics' journal forward into ``journaled``; collects cancelled reservations
    (as many as the run's reservations at most)."""

    def __init__(
        self, database_url: str, clinics: list[str], journaled: Journaled, batch: int = 2000
    ) -> None:
        self.database_url = database_url
        self.after = dict.fromkeys(clinics, 0)
        self.journaled = journaled
        self.batch = batch
        self.cancelled: set[str] = set()
        self.entries = 0

    async def read(self) -> None:
        """Read up to every clinic's newest entry."""
        conn = await asyncpg.connect(self.database_url)
        try:
            kinds = [*ISSUED, CANCELLED]
            while True:
                clinics = list(self.after)
                rows = await conn.fetch(
                    FORWARD, clinics, [self.after[c] for c in clinics], kinds, self.batch
                )
                now = time.monotonic()
                full: dict[str, int] = {}
                for row in rows:
                    clinic, offset, kind = row["clinic"], int(row["offset"]), row["kind"]
                    self.after[clinic] = max(self.after[clinic], offset)
                    full[clinic] = full.get(clinic, 0) + 1
                    self.entries += 1
                    if kind in ISSUED:
                        self.journaled.read(clinic, _id(kind, row["body"]), now)
                    elif kind == CANCELLED:
                        self.cancelled.add(_id(kind, row["body"]))
                if all(n < self.batch for n in full.values()):
                    return
        finally:
            await conn.close()

    async def follow(self, every: float = 10.0, horizon: float = 600.0) -> None:
        """Read every ``every`` seconds until cancelled; entries unacknowledged for ``horizon``
        seconds are forgotten (an answer lost to a fault is never acknowledged)."""
        while True:
            await asyncio.sleep(every)
            try:
                await self.read()
            except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError):
                continue  # the store is restarting; the next pass reads from the same place
            self.journaled.forget(time.monotonic() - horizon)

    async def lookup(self) -> set[tuple[str, str]]:
        """(clinic, id) of the acknowledgements still waiting that the journal has after all."""
        waiting = list(self.journaled.waiting)
        if not waiting:
            return set()
        conn = await asyncpg.connect(self.database_url)
        try:
            rows = await conn.fetch(
                LOOKUP, sorted({c for c, _ in waiting}), list(ISSUED), [i for _, i in waiting]
            )
        finally:
            await conn.close()
        return {(r["clinic"], _id(r["kind"], r["body"])) for r in rows}
