"""A reservation Redis no longer holds, read from the journal: a past day's booking (a new day
drops them from the live state) or any other the journal has.

Its events are found by its id through two indexes on the journal (``schema.sql``:
``journal_reservation``, ``journal_reservation_expired``), so a lookup costs one index probe a
month's partition however long the clinic has run, and folded by the model's own
``state.apply``: every event carries the reservation's whole snapshot, so the fold is the same
one a rebuild does, and the last event decides.

Archived months (``engine/archive.py``) are detached, and stay as plain tables, with their copy
of the indexes, until exported and dropped: they are read here while they exist. A reservation
whose events may lie in a month that is gone is refused ``reservation_archived`` (404), saying
so, rather than "not found".
"""

from __future__ import annotations

import re
from datetime import date

import asyncpg

from engine.errors import NotFound
from engine.model import events as ev
from engine.model.entities import Reservation
from engine.model.state import fold

# The events that carry a reservation (``reservation``), and those that may mark another
# booking's lapsed hold ``expired``. The WHERE clauses repeat the indexes' predicates verbatim:
# that is what lets the planner use the partial indexes (tests/engine/test_past_reservations.py
# checks both, and that the lists match the events).
CARRYING = (
    "slot_reserved",
    "reservation_confirmed",
    "reservation_cancelled",
    "reservation_moved",
    "checked_in",
)
EXPIRING = ("slot_reserved", "reservation_moved")


def _kinds(kinds: tuple[str, ...]) -> str:
    return ", ".join(f"'{k}'" for k in kinds)


def events_query(table: str = "journal") -> str:
    """A reservation's events in one journal table ($1 clinic, $2 reservation id), in order."""
    return (
        f'SELECT "offset", body FROM {table} WHERE clinic = $1 AND kind IN ({_kinds(CARRYING)}) '
        "AND ((body::jsonb) #>> '{reservation,id}') = $2 "
        f'UNION ALL SELECT "offset", body FROM {table} WHERE clinic = $1 '
        f"AND kind IN ({_kinds(EXPIRING)}) AND ((body::jsonb) #>> '{{expired,id}}') = $2 "
        'ORDER BY "offset"'
    )


# Ids are ``r<offset>``, the offset of the event that made the reservation (reserve.lua,
# booking.reserve): its events all lie at or after it, which says which archived months may
# hold them. Anything else names no reservation.
_ID = re.compile(r"^r([1-9][0-9]{0,17})$")


def reservation_of(bodies: list[str], rid: str) -> Reservation | None:
    """The reservation's state after its events (their bodies, in offset order)."""
    return fold([ev.decode_event(b) for b in bodies]).reservations.get(rid)


async def past_reservation(pool: asyncpg.Pool, clinic: str, rid: str) -> Reservation | None:
    """The reservation as the journal has it, or None; raise NotFound ``reservation_archived``
    when none is found and a month that may hold its events has been archived and dropped."""
    made = _ID.match(rid)
    if made is None:
        return None
    rows = list(await pool.fetch(events_query(), clinic, rid))
    gone: list[date] = []
    for month, table in await _archived_since(pool, clinic, int(made.group(1))):
        if table is None:
            gone.append(month)
            continue
        try:
            rows += await pool.fetch(events_query(f'"{table}"'), clinic, rid)
        except asyncpg.InsufficientPrivilegeError:
            gone.append(month)  # detached before the grant archive.py now gives
    if rows:
        # Each event carries the whole reservation: the newest found is its final state, even
        # if older ones were in a month that is gone.
        rows.sort(key=lambda r: r["offset"])
        return reservation_of([r["body"] for r in rows], rid)
    if gone:
        months = ", ".join(f"{m:%Y-%m}" for m in gone)
        raise NotFound(
            f"reservation {rid} may be in an archived month of the journal ({months}) that is "
            "no longer in the database; the administrator has its export",
            code="reservation_archived",
        )
    return None


async def _archived_since(
    pool: asyncpg.Pool, clinic: str, offset: int
) -> list[tuple[date, str | None]]:
    """The archived months whose stretch of the clinic's chain reaches ``offset`` or later,
    each with its detached table if it is still in the database."""
    rows = await pool.fetch(
        "SELECT month, to_regclass('public.journal_' || to_char(month, 'YYYY_MM')) IS NOT NULL "
        "AS kept FROM journal_checkpoint WHERE clinic = $1 AND last_offset >= $2 ORDER BY month",
        clinic,
        offset,
    )
    return [(r["month"], f"journal_{r['month']:%Y_%m}" if r["kept"] else None) for r in rows]
