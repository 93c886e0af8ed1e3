"""The journal's audit: re-walk each clinic's hash chain, and anchor its heads outside the database.

Each entry's hash is ``sha256(prev_hash || canonical(entry))`` over every column the engine
reads back (``canonical`` below; ``journal_entry_hash`` in schema.sql is the same). ``verify``
reads one consistent snapshot (a REPEATABLE READ transaction), so writers moving the head while
it walks can never raise a false alarm. An anchor (``anchor``) is the heads printed and kept
elsewhere: a later rewrite of the whole chain by a database superuser no longer matches it.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import asyncpg
import msgspec

from engine.journal_postgres import GENESIS
from engine.model import events as ev
from engine.model.state import ClinicState, fold

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_state_decoder = msgspec.json.Decoder(ClinicState)


def _field(value: object) -> bytes:
    if value is None:
        return b"~"
    raw = str(value).encode()
    return str(len(raw)).encode() + b":" + raw


def microseconds(moment: datetime) -> int:
    return (moment - _EPOCH) // timedelta(microseconds=1)


def canonical(row: Any) -> bytes:
    """The bytes an entry's hash covers: length-prefixed fields in a fixed order."""
    return b"".join(
        _field(v)
        for v in (
            row["clinic"],
            row["offset"],
            row["kind"],
            row["at_ms"],
            microseconds(row["recorded_at"]),
            row["idem_key"],
            row["idem_record"],
            row["body"],
        )
    )


def entry_hash(prev: bytes, row: Any) -> bytes:
    return hashlib.sha256(prev + canonical(row)).digest()


def checkpoint_signature(
    key: bytes, clinic: str, month: date, offset: int, last_hash: bytes, entries: int
) -> bytes:
    """An archived month's checkpoint, signed with the audit key (HMAC-SHA256)."""
    message = f"{clinic}\n{month.isoformat()}\n{offset}\n{last_hash.hex()}\n{entries}".encode()
    return hmac.new(key, message, hashlib.sha256).digest()


@dataclass(frozen=True)
class VerifyReport:
    clinic: str
    entries: int
    head: str
    broken_at: int | None = None  # the offset of the first entry that does not hold
    reason: str = ""

    @property
    def ok(self) -> bool:
        return self.broken_at is None


@dataclass(frozen=True)
class Anchor:
    clinic: str
    offset: int
    hash: str
    entries: int

    def as_json(self) -> dict[str, Any]:
        return {"clinic": self.clinic, "offset": self.offset, "hash": self.hash,
                "entries": self.entries}  # fmt: skip


async def verify(
    pool: asyncpg.Pool,
    clinic: str,
    anchors: dict[str, Anchor] | None = None,
    key: bytes = b"",
) -> VerifyReport:
    """Walk a clinic's chain in offset order from its last archived month's checkpoint; check
    every link, every hash, the head, the anchor when one is given, and the checkpoint's
    signature when the audit ``key`` is given."""
    async with pool.acquire() as conn, conn.transaction(isolation="repeatable_read", readonly=True):
        start = await conn.fetchrow(
            "SELECT month, last_offset, last_hash, entries, signature FROM journal_checkpoint "
            "WHERE clinic = $1 ORDER BY month DESC LIMIT 1",
            clinic,
        )
        if start is not None and key:
            signed = checkpoint_signature(
                key, clinic, start["month"], start["last_offset"], bytes(start["last_hash"]),
                start["entries"],
            )  # fmt: skip
            if start["signature"] is None or bytes(start["signature"]) != signed:
                return VerifyReport(
                    clinic, 0, "", start["last_offset"],
                    "the archived month's checkpoint is not signed by the audit key",
                )  # fmt: skip
        prev = bytes(start["last_hash"]) if start else GENESIS
        after = start["last_offset"] if start else 0
        count = start["entries"] if start else 0
        anchor = (anchors or {}).get(clinic)
        anchored = anchor is None or anchor.offset <= after
        last_offset = after
        cursor = conn.cursor(
            'SELECT clinic, "offset", kind, at_ms, recorded_at, idem_key, idem_record, body, '
            'prev_hash, hash FROM journal WHERE clinic = $1 AND "offset" > $2 ORDER BY "offset"',
            clinic,
            after,
        )
        async for row in cursor:
            count += 1
            offset, expected = row["offset"], entry_hash(prev, row)
            if bytes(row["prev_hash"]) != prev:
                reason = "a link is missing: an entry before it was removed or reordered"
            elif bytes(row["hash"]) != expected:
                reason = "the entry was altered: its hash does not cover its columns"
            elif anchor is not None and offset == anchor.offset and expected.hex() != anchor.hash:
                reason = "the chain was rewritten since it was anchored"
            else:
                anchored = anchored or (anchor is not None and offset == anchor.offset)
                prev, last_offset = expected, offset
                continue
            return VerifyReport(clinic, count, prev.hex(), offset, reason)
        head = await conn.fetchrow(
            "SELECT last_offset, last_hash, entries FROM journal_head WHERE clinic = $1", clinic
        )
    if head is not None and (
        bytes(head["last_hash"]) != prev
        or head["last_offset"] != last_offset
        or head["entries"] != count
    ):
        return VerifyReport(
            clinic, count, prev.hex(), last_offset, "entries were removed from the end"
        )
    if not anchored:
        return VerifyReport(
            clinic, count, prev.hex(), anchor.offset if anchor else 0,
            "the anchored entry is gone: the chain is shorter than its anchor",
        )  # fmt: skip
    return VerifyReport(clinic, count, prev.hex())


async def clinics(pool: asyncpg.Pool) -> list[str]:
    rows = await pool.fetch("SELECT clinic FROM journal_head ORDER BY clinic")
    return [r["clinic"] for r in rows]


async def anchor(pool: asyncpg.Pool) -> list[Anchor]:
    """Every clinic's chain head now, read in one snapshot."""
    async with pool.acquire() as conn, conn.transaction(isolation="repeatable_read", readonly=True):
        rows = await conn.fetch(
            "SELECT clinic, last_offset, last_hash, entries FROM journal_head "
            "WHERE entries > 0 ORDER BY clinic"
        )
    return [
        Anchor(r["clinic"], r["last_offset"], bytes(r["last_hash"]).hex(), r["entries"])
        for r in rows
    ]


def parse_anchors(lines: list[dict[str, Any]]) -> dict[str, Anchor]:
    return {
        str(a["clinic"]): Anchor(
            str(a["clinic"]), int(a["offset"]), str(a["hash"]), int(a["entries"])
        )
        for a in lines
    }


async def verify_snapshots(pool: asyncpg.Pool, clinic: str) -> VerifyReport | None:
    """Fold the journal from each snapshot to the next and compare: a snapshot whose state is
    not the journal's (forged, or from a bug) is reported. The oldest snapshot after an archived
    month is where the fold starts, so it is taken on trust (the month's checkpoint vouches
    for its offset); without archives the fold starts from the empty state."""
    async with pool.acquire() as conn, conn.transaction(isolation="repeatable_read", readonly=True):
        archived = await conn.fetchval(
            "SELECT 1 FROM journal_checkpoint WHERE clinic = $1 LIMIT 1", clinic
        )
        snaps = await conn.fetch(
            'SELECT "offset", state FROM journal_snapshot WHERE clinic = $1 ORDER BY "offset"',
            clinic,
        )
        base, after = (None, 0) if archived else (ClinicState(), 0)
        for snap in snaps:
            stored = _state_decoder.decode(bytes(snap["state"]))
            if base is None:
                base, after = stored, snap["offset"]
                continue
            bodies = await conn.fetch(
                'SELECT body FROM journal WHERE clinic = $1 AND "offset" > $2 AND "offset" <= $3 '
                'ORDER BY "offset"',
                clinic, after, snap["offset"],
            )  # fmt: skip
            base = fold([ev.decode_event(r["body"]) for r in bodies], base)
            if base != stored:
                return VerifyReport(
                    clinic, 0, "", snap["offset"], "the snapshot is not the journal's state there"
                )
            after = snap["offset"]
    return None
