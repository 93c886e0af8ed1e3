"""Snapshots: a clinic's folded live state at a journal offset, so a rebuild folds only the tail.

A snapshot is taken from the journal alone (never from Redis, which may be stale), in one
REPEATABLE READ transaction so the entries and the head it records belong together. It is
trusted only after two checks: the journal's entry at its offset still has the chain hash the
snapshot recorded (it belongs to this history), and its digest covers its bytes.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from dataclasses import dataclass

import asyncpg
import msgspec

from engine.model import events as ev
from engine.model.state import ClinicState, apply

log = logging.getLogger(__name__)
FOLD_CHUNK = 2000  # events folded between two yields to the event loop
SNAPSHOT_EVERY_ENTRIES = 5000
SNAPSHOT_EVERY_SECONDS = 6 * 3600
SNAPSHOTS_KEPT = 3  # per clinic; older ones are pruned (they are derived, the journal stays)

_encoder = msgspec.json.Encoder()
_decoder = msgspec.json.Decoder(ClinicState)


def digest(chain_hash: bytes, state: bytes) -> bytes:
    return hashlib.sha256(chain_hash + state).digest()


async def fold_bodies(bodies: list[str], state: ClinicState, after: int = 0) -> ClinicState:
    """Fold event bodies with an offset past ``after`` into ``state``, yielding now and then so
    that a long fold never stalls the worker's other requests."""
    for i, body in enumerate(bodies):
        event = ev.decode_event(body)
        if event.offset > after:
            apply(state, event)
        if i % FOLD_CHUNK == FOLD_CHUNK - 1:
            await asyncio.sleep(0)
    return state


@dataclass(frozen=True)
class Snapshot:
    clinic: str
    offset: int
    state: ClinicState


class Snapshots:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self.pool = pool
        self.taken = 0
        self.rejected = 0

    async def latest(self, clinic: str) -> Snapshot | None:
        """The newest snapshot that holds against the journal; a bad one is logged and skipped."""
        # An entry archived with its month is vouched for by the month's checkpoint.
        rows = await self.pool.fetch(
            'SELECT s."offset", s.chain_hash, s.state, s.digest, '
            "coalesce(j.hash, c.last_hash) AS journal_hash "
            "FROM journal_snapshot s "
            'LEFT JOIN journal j ON j.clinic = s.clinic AND j."offset" = s."offset" '
            'LEFT JOIN journal_checkpoint c ON c.clinic = s.clinic AND c.last_offset = s."offset" '
            'WHERE s.clinic = $1 ORDER BY s."offset" DESC LIMIT 3',
            clinic,
        )
        for row in rows:
            chain_hash, state = bytes(row["chain_hash"]), bytes(row["state"])
            journal_hash = row["journal_hash"]
            if journal_hash is None or bytes(journal_hash) != chain_hash:
                reason = "its offset is not this journal's history"
            elif digest(chain_hash, state) != bytes(row["digest"]):
                reason = "its bytes do not match its digest"
            else:
                return Snapshot(clinic, row["offset"], _decoder.decode(state))
            self.rejected += 1
            log.error("clinic %s: snapshot at offset %d refused: %s", clinic, row["offset"], reason)
        return None

    async def due(self, heads: dict[str, int]) -> set[str]:
        """The clinics (of ``heads``: clinic -> journal head offset) whose last snapshot is
        ``SNAPSHOT_EVERY_ENTRIES`` behind, or ``SNAPSHOT_EVERY_SECONDS`` old with anything new."""
        rows = await self.pool.fetch(
            'SELECT DISTINCT ON (clinic) clinic, "offset", '
            "extract(epoch FROM now() - taken_at) AS age "
            'FROM journal_snapshot ORDER BY clinic, "offset" DESC'
        )
        last = {r["clinic"]: (r["offset"], float(r["age"])) for r in rows}
        due = set()
        for clinic, head in heads.items():
            offset, age = last.get(clinic, (0, float("inf")))
            behind = head - offset
            if behind >= SNAPSHOT_EVERY_ENTRIES or (behind > 0 and age >= SNAPSHOT_EVERY_SECONDS):
                due.add(clinic)
        return due

    async def take(self, clinic: str) -> int | None:
        """Snapshot the clinic at its journal head; return the offset, or None when another
        process is taking one or there is nothing new."""
        base = await self.latest(clinic)
        async with self.pool.acquire() as conn, conn.transaction(isolation="repeatable_read"):
            locked = await conn.fetchval(
                "SELECT pg_try_advisory_xact_lock(hashtext('clinicq_snapshot:' || $1))", clinic
            )
            head = await conn.fetchrow(
                "SELECT last_offset, last_hash FROM journal_head WHERE clinic = $1", clinic
            )
            after = base.offset if base else 0
            if not locked or head is None or head["last_offset"] <= after:
                return None
            rows = await conn.fetch(
                'SELECT body FROM journal WHERE clinic = $1 AND "offset" > $2 '
                'AND "offset" <= $3 ORDER BY "offset"',
                clinic,
                after,
                head["last_offset"],
            )
            state = base.state if base else ClinicState()
            state = await fold_bodies([r["body"] for r in rows], state, after)
            raw, chain_hash = _encoder.encode(state), bytes(head["last_hash"])
            await conn.execute(
                'INSERT INTO journal_snapshot (clinic, "offset", chain_hash, state, digest) '
                "VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING",
                clinic,
                head["last_offset"],
                chain_hash,
                raw,
                digest(chain_hash, raw),
            )
            await conn.execute("SELECT journal_prune_snapshots($1, $2)", clinic, SNAPSHOTS_KEPT)
        self.taken += 1
        return int(head["last_offset"])
