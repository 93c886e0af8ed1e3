"""A patient's status link is a capability: unguessable, the only public way to a ticket, and it
shows the public view only. Reservations that are not yours are not found, whatever you try."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

import asyncpg
import pytest

from engine import keys
from engine.auth import create_token
from tests.support import MakeClinic, redis_client, tomorrow

pytestmark = pytest.mark.integration
# "appointment": a booking's own time, doctor and cabinet (null for a walk-in), never its
# reference or the patient's (tests/engine/test_booked_ticket_view.py).
PUBLIC_FIELDS = {"id", "number", "service", "service_name", "state", "cabinet", "ahead",
                 "expected_wait_minutes", "called_at", "recalls", "appointment"}  # fmt: skip


def _link(status_url: str) -> str:
    """The capability at the end of ``/t/{clinic}/{link}``."""
    return urlsplit(status_url).path.rsplit("/", 1)[1]


async def test_the_status_link_is_unguessable_and_shows_the_public_view(
    clinics: MakeClinic,
) -> None:
    """At least 96 random bits, unrelated to the id or number; no category, channel or booking."""
    cc = await clinics("links")
    taken = await cc.http.post(
        cc.api + "/tickets",
        json={"service": "therapy", "priority": "pregnant", "channel": "desk"},
        headers=cc.auth("registrar"),
    )
    assert taken.status_code == 201, taken.text
    ticket = taken.json()
    link = _link(ticket["status_url"])
    assert re.fullmatch(r"[A-Za-z0-9_-]{22,}", link), link  # token_urlsafe(16): 128 bits
    assert ticket["id"] not in link and ticket["number"] not in link
    other = await cc.http.post(
        cc.api + "/tickets", json={"service": "therapy"}, headers=cc.auth("kiosk")
    )
    assert _link(other.json()["status_url"]) != link

    public = await cc.http.get(cc.api + f"/ticket-status/{link}")
    assert public.status_code == 200, public.text
    view = public.json()
    assert view["number"] == ticket["number"] and view["ahead"] == 0
    assert set(view) <= PUBLIC_FIELDS
    assert "pregnant" not in public.text and "desk" not in public.text


async def test_internal_ids_open_nothing_without_a_token(clinics: MakeClinic) -> None:
    """Walking t1..t40 with no token finds no ticket; a staff token still reads the full view."""
    cc = await clinics("walk")
    taken = [
        await cc.http.post(
            cc.api + "/tickets", json={"service": "therapy"}, headers=cc.auth("kiosk")
        )
        for _ in range(3)
    ]
    first = taken[0].json()["id"]
    answers = [(await cc.http.get(cc.api + f"/tickets/t{i}")).status_code for i in range(1, 41)]
    assert set(answers) == {401}
    guesses = [
        (await cc.http.get(cc.api + f"/ticket-status/t{i}")).status_code for i in range(1, 6)
    ]
    assert set(guesses) == {404}
    staff = await cc.http.get(cc.api + f"/tickets/{first}", headers=cc.auth("registrar"))
    assert staff.status_code == 200 and "channel" in staff.json()


async def test_the_link_survives_the_loss_of_redis(clinics: MakeClinic, redis_url: str) -> None:
    """The link is in the journaled event: a clinic rebuilt from the journal still knows it."""
    cc = await clinics("linklost")
    taken = await cc.http.post(
        cc.api + "/tickets", json={"service": "therapy"}, headers=cc.auth("kiosk")
    )
    link = _link(taken.json()["status_url"])
    client = redis_client(redis_url)
    try:
        stale = [k async for k in client.scan_iter(match=keys.prefix(cc.clinic) + "*")]
        await client.delete(*stale)
    finally:
        await client.aclose()
    again = await cc.http.get(cc.api + f"/ticket-status/{link}")
    assert again.status_code == 200, again.text
    assert again.json()["number"] == taken.json()["number"]


async def test_another_partners_reservation_is_not_found_whatever_the_verb(
    clinics: MakeClinic, db: asyncpg.Pool
) -> None:
    """Read, confirm, cancel, move: the same 404 as for an id that does not exist."""
    cc = await clinics("notyours")
    listed = await cc.http.get(cc.api + f"/slots?date={tomorrow()}", headers=cc.auth("partner"))
    slots = listed.json()["slots"]
    free = [s["id"] for s in slots if s["free"]]
    held = await cc.http.post(
        cc.api + f"/slots/{free[-1]}/reservation",
        json={"patient": "Петров П."},
        headers=cc.auth("partner"),
    )
    assert held.status_code == 201, held.text
    rid = held.json()["id"]
    other = {"Authorization": f"Bearer {(await create_token(db, 'partner'))[1]}"}
    answers = {
        "get": await cc.http.get(cc.api + f"/reservations/{rid}", headers=other),
        "confirm": await cc.http.post(cc.api + f"/reservations/{rid}/confirm", headers=other),
        "cancel": await cc.http.post(cc.api + f"/reservations/{rid}/cancel", headers=other),
        "move": await cc.http.post(
            cc.api + f"/reservations/{rid}/move", json={"slot": free[-2]}, headers=other
        ),
        "cancel slot": await cc.http.delete(
            cc.api + f"/slots/{free[-1]}/reservation", headers=other
        ),
    }
    codes = {verb: (a.status_code, a.json()["error"]["code"]) for verb, a in answers.items()}
    assert set(codes.values()) == {(404, "reservation_not_found")}, codes
    missing = await cc.http.post(cc.api + "/reservations/r999999/confirm", headers=other)
    assert (missing.status_code, missing.json()["error"]["code"]) == (404, "reservation_not_found")
    kiosk = await cc.http.get(cc.api + f"/reservations/{rid}", headers=cc.auth("kiosk"))
    assert kiosk.status_code == 403  # a kiosk checks bookings in; it does not read them
