"""A past day's reservation, dropped from Redis when the next day opened, is still answered by
GET /reservations/{id}: its final state folded from the journal, found by its id through the
journal's indexes, marked ``source: "journal"``; a partner still sees only its own."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Any, get_args

import asyncpg
import pytest

from engine.archive import archive
from engine.auth import create_token
from engine.clinic import parse_clinic
from engine.errors import NotFound
from engine.journal_postgres import GENESIS, link_of
from engine.model import events as ev
from engine.model.booking import slots_for
from engine.reservations_postgres import CARRYING, EXPIRING, events_query, past_reservation
from engine.service import Engine
from tests.support import PAST_DAY, Clock, MakeClinic, clinic_config, past_bookings


def test_the_indexed_kinds_are_the_events_that_carry_a_reservation() -> None:
    """Every event with a ``reservation`` is looked up, and every one with an ``expired``."""
    kinds = {str(t.__struct_config__.tag): t.__struct_fields__ for t in get_args(ev.AnyEvent)}
    assert set(CARRYING) == {k for k, fields in kinds.items() if "reservation" in fields}
    expiring = {k for k, f in kinds.items() if "expired" in f and k != "day_opened"}
    assert set(EXPIRING) == expiring  # day_opened's ``expired`` lists ticket ids


@pytest.mark.integration
async def test_a_past_reservation_reads_its_final_state_from_the_journal(
    clinics: MakeClinic, engine: tuple[Engine, Clock], db: asyncpg.Pool
) -> None:
    """Moved, cancelled, checked in, lapsed: each reads as Redis last held it, over HTTP too,
    with source "journal"; a partner reads its own only; an unknown id is still not found."""
    e, clock = engine
    cc = await clinics("past")
    first_id, first = await create_token(db, "partner")
    second_id, second = await create_token(db, "partner")
    was = await past_bookings(e, clock, cc.clinic, (first_id, second_id))

    for name, reservation in was.items():
        assert await e.past_reservation(cc.clinic, reservation.id) == reservation, name
    target = slots_for(await e.clinic(cc.clinic), PAST_DAY + timedelta(days=1))[1]
    assert was["moved"].state == "confirmed" and was["moved"].slot == target.id
    assert was["cancelled"].state == "cancelled"
    assert was["arrived"].state == "checked_in" and was["arrived"].ticket
    assert was["lapsed"].state == "expired"

    async def get(rid: str, token: str) -> Any:
        headers = {"Authorization": f"Bearer {token}"}
        return await cc.http.get(cc.api + f"/reservations/{rid}", headers=headers)

    moved = await get(was["moved"].id, cc.tokens["registrar"])
    assert moved.status_code == 200, moved.text
    body = moved.json()
    assert body["source"] == "journal"
    assert (body["id"], body["slot"], body["state"]) == (
        was["moved"].id, was["moved"].slot, "confirmed")  # fmt: skip
    assert body["start"] == target.start.isoformat()
    arrived = (await get(was["arrived"].id, cc.tokens["head"])).json()
    assert (arrived["state"], arrived["ticket"]) == ("checked_in", was["arrived"].ticket)

    assert (await get(was["moved"].id, first)).json()["state"] == "confirmed"
    assert (await get(was["cancelled"].id, second)).json()["state"] == "cancelled"
    for rid, stranger in ((was["moved"].id, second), (was["cancelled"].id, first)):
        refused = await get(rid, stranger)
        assert refused.status_code == 404
        assert refused.json()["error"]["code"] == "reservation_not_found"
    for unknown in ("r999999999", "r0", "nothing"):
        missing = await get(unknown, cc.tokens["registrar"])
        assert missing.status_code == 404, unknown
        assert missing.json()["error"]["code"] == "reservation_not_found"


@pytest.mark.integration
async def test_a_live_reservation_says_so(clinics: MakeClinic) -> None:
    """A reservation Redis holds answers as before, with source "live"."""
    cc = await clinics("live")
    slots = await cc.http.get(cc.api + "/slots?free=true", headers=cc.auth("registrar"))
    slot = next(s for s in slots.json()["slots"])
    made = await cc.http.post(
        cc.api + f"/slots/{slot['id']}/reservation",
        json={"patient": "полис 7700 123456"},
        headers=cc.auth("registrar", uuid.uuid4().hex),
    )
    assert made.status_code == 201, made.text
    assert made.json()["source"] == "live"
    read = await cc.http.get(cc.api + f"/reservations/{made.json()['id']}", headers=cc.auth("head"))
    assert read.json() == made.json()


def _nodes(plan: dict[str, Any]) -> list[dict[str, Any]]:
    return [plan, *(n for child in plan.get("Plans", []) for n in _nodes(child))]


@pytest.mark.integration
async def test_the_lookup_is_keyed_by_the_reservation_not_a_scan(db: asyncpg.Pool) -> None:
    """The lookup's query reads every journal partition through the reservation indexes only:
    with sequential scans priced out, none is left (one would be if no index fitted)."""
    async with db.acquire() as conn, conn.transaction():
        await conn.execute("SET LOCAL enable_seqscan = off")
        raw = await conn.fetchval("EXPLAIN (FORMAT JSON) " + events_query(), "any", "r42")
        indexes = {
            r["relname"]
            for r in await conn.fetch(
                "SELECT c.relname FROM pg_class c JOIN pg_inherits i ON i.inhrelid = c.oid "
                "WHERE i.inhparent IN ('journal_reservation'::regclass, "
                "'journal_reservation_expired'::regclass)"
            )
        }
    nodes = _nodes((json.loads(raw) if isinstance(raw, str) else raw)[0]["Plan"])
    scans = [n for n in nodes if "Scan" in n["Node Type"]]
    assert scans and not [n for n in scans if n["Node Type"] == "Seq Scan"], raw
    used = {n["Index Name"] for n in nodes if "Index Name" in n}
    assert used and used <= indexes, (used, indexes)


async def _committed_in(db: asyncpg.Pool, month: date, clinic: str, bodies: list[str]) -> None:
    """Journal ``bodies`` for a new clinic as if committed in ``month`` (a superuser's insert
    through the chain's own function, as tests/engine/test_archive.py does)."""
    prev, stamp = GENESIS, datetime(month.year, month.month, 10, tzinfo=UTC)
    async with db.acquire() as conn, conn.transaction():
        await conn.execute("SELECT journal_ensure_partition($1)", month)
        for body in bodies:
            event = ev.decode_event(body)
            prev = await conn.fetchval(
                "SELECT journal_link_entry($1, $2, $3, $4, $5, $6, NULL, NULL, $7)",
                prev, clinic, event.offset, ev.kind_of(event), event.at, body, stamp,
            )  # fmt: skip
        await conn.execute(
            "INSERT INTO journal_head (clinic, last_offset, last_link, last_hash, entries) "
            "VALUES ($1, $2, $3, $4, $5)",
            clinic, ev.decode_event(bodies[-1]).offset, link_of(bodies[-1]), prev, len(bodies),
        )  # fmt: skip


@pytest.mark.integration
async def test_an_archived_month_is_read_while_kept_and_named_once_dropped(
    engine: tuple[Engine, Clock], db: asyncpg.Pool
) -> None:
    """A reservation whose events went to an archived month: read from the detached table (as
    the engine's role) while it is kept; once dropped, the answer says archived, naming it."""
    e, clock = engine
    made = f"arch-made-{uuid.uuid4().hex[:6]}"
    await e.put_clinic(parse_clinic(clinic_config(made)))  # type: ignore[arg-type]
    was = await past_bookings(e, clock, made, ("one", "two"))
    bodies = await e.journal.bodies(made)
    # The same history, journaled for another clinic in an old month that only it uses.
    clinic_id = f"arch-res-{uuid.uuid4().hex[:6]}"
    month = date(1970 + uuid.uuid4().int % 19, 1 + uuid.uuid4().int % 12, 1)
    await _committed_in(db, month, clinic_id, bodies)
    await archive(db, date(month.year + month.month // 12, month.month % 12 + 1, 1))
    assert not await db.fetchval("SELECT count(*) FROM journal WHERE clinic = $1", clinic_id)

    for reservation in was.values():
        assert await past_reservation(e.pool, clinic_id, reservation.id) == reservation
    await db.execute(f"DROP TABLE journal_{month:%Y_%m}")
    with pytest.raises(NotFound) as gone:
        await past_reservation(e.pool, clinic_id, was["moved"].id)
    assert gone.value.code == "reservation_archived"
    assert f"{month:%Y-%m}" in gone.value.message
    assert await past_reservation(e.pool, clinic_id, "r999999999") is None
    assert await past_reservation(e.pool, made, "r999999999") is None
