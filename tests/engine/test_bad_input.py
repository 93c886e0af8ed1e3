"""Bad input gets a clear JSON error with a stable code, never a 500, and changes nothing."""

from __future__ import annotations

import asyncio

import pytest

from tests.support import MakeClinic, tomorrow

pytestmark = pytest.mark.integration

WEIRD = ["😀", "терапия", "Т-042", "..%2F..%2Fetc", "' OR 1=1 --", "a" * 300, "🏥\u200b", "%00"]


async def _waiting(c, service: str = "therapy") -> int:  # type: ignore[no-untyped-def]
    board = (await c.http.get(f"{c.api}/board", headers=c.auth("display"))).json()
    return int(next(q["waiting"] for q in board["queues"] if q["service"] == service))


async def test_malformed_and_mistyped_bodies(clinics: MakeClinic) -> None:
    """Truncated JSON, wrong types, unknown fields, a non-object: 400/422 with a code."""
    c = await clinics("bad")
    url, h = f"{c.api}/tickets", c.auth("kiosk")
    cases = [
        (b'{"service": ', 400, "malformed_json"),
        (b"\xff\xfe not json", 400, "malformed_json"),
        (b'{"service": 5}', 422, "invalid"),
        (b'{"service": "therapy", "extra": 1}', 422, "invalid"),
        (b'["therapy"]', 422, "invalid"),
        ('{"service": "therapy", "priority": "😀"}'.encode(), 422, "invalid"),
        (b'{"service": "therapy", "channel": "pigeon"}', 422, "invalid"),
    ]
    for body, status, code in cases:
        r = await c.http.post(url, content=body, headers=h)
        assert (r.status_code, r.json()["error"]["code"]) == (status, code), body
        assert r.json()["error"]["message"]
    assert await _waiting(c) == 0


async def test_an_oversized_body_is_refused_with_413(clinics: MakeClinic) -> None:
    """A megabyte body is cut off at the limit and answered 413, chunked or not."""
    c = await clinics("big")
    huge = b'{"service": "' + b"x" * 1_000_000 + b'"}'
    r = await c.http.post(f"{c.api}/tickets", content=huge, headers=c.auth("kiosk"))
    assert r.status_code == 413 and r.json()["error"]["code"] == "payload_too_large"

    async def chunks():  # type: ignore[no-untyped-def]
        for _ in range(100):
            yield b"x" * 10_000

    r = await c.http.post(f"{c.api}/tickets", content=chunks(), headers=c.auth("kiosk"))
    assert r.status_code == 413


async def test_unknown_ids_everywhere_are_404_with_a_code(clinics: MakeClinic) -> None:
    """Unknown clinic, ticket, cabinet, doctor, slot, reservation, action: each says what."""
    c = await clinics("unknown")
    head = c.auth("admin")
    cases = [
        ("GET", "/api/v1/clinics/nope/board", "clinic_not_found"),
        ("GET", f"{c.api}/tickets/t999999", "ticket_not_found"),
        ("POST", f"{c.api}/tickets/t999999/start", "ticket_not_found"),
        ("POST", f"{c.api}/tickets/t1/teleport", "action_not_found"),
        ("POST", f"{c.api}/cabinets/999/call-next", "cabinet_not_found"),
        ("PUT", f"{c.api}/doctors/house/duty", "doctor_not_found"),
        ("POST", f"{c.api}/slots/d0.20260101.0800x/reservation", "slot_not_found"),
        ("POST", f"{c.api}/reservations/r999999/confirm", "reservation_not_found"),
        ("GET", f"{c.api}/nothing-here", "route_not_found"),
    ]
    for method, path, code in cases:
        body = {"patient": "P"} if path.endswith("/reservation") else None
        if path.endswith("/duty"):
            body = {"status": "on_duty"}
        r = await c.http.request(method, path, json=body, headers=head)
        assert r.status_code == 404, (path, r.text)
        assert r.json()["error"]["code"] == code


async def test_cyrillic_and_emoji_in_every_text_field(clinics: MakeClinic) -> None:
    """Odd text in ids, bodies, queries and headers gets a 4xx, never a 500, and adds nothing."""
    c = await clinics("emoji")
    h = c.auth("admin")
    for text in WEIRD:
        for method, path, body in [
            ("POST", f"{c.api}/tickets", {"service": text}),
            ("POST", f"{c.api}/tickets", {"service": "therapy", "priority": text}),
            ("GET", f"{c.api}/tickets/{text}", None),
            ("POST", f"{c.api}/tickets/{text}/cancel", None),
            ("POST", f"{c.api}/tickets/t1/transfer", {"service": text}),
            ("POST", f"{c.api}/cabinets/{text}/call-next", None),
            ("PUT", f"{c.api}/doctors/{text}/duty", {"status": "on_duty"}),
            ("PUT", f"{c.api}/doctors/d0/duty", {"status": text}),
            ("PUT", f"{c.api}/doctors/d0/duty", {"cabinet": text}),
            ("PUT", f"{c.api}/doctors/d0/duty", {"services": [text]}),
            ("GET", f"/api/v1/clinics/{text}/board", None),
            ("GET", f"{c.api}/slots?date={text}", None),
            ("GET", f"{c.api}/slots?doctor={text}", None),
            ("POST", f"{c.api}/slots/{text}/reservation", {"patient": "P"}),
            ("POST", f"{c.api}/reservations/{text}/move", {"slot": text}),
        ]:
            r = await c.http.request(method, path, json=body, headers=h)
            assert 400 <= r.status_code < 500, (method, path, body, r.status_code, r.text)
            assert r.json()["error"]["code"]
    r = await c.http.post(
        f"{c.api}/tickets",
        json={"service": "therapy"},
        headers={**h, "Idempotency-Key": "ключ😀".encode()},
    )
    assert r.status_code == 400 and r.json()["error"]["code"] == "bad_idempotency_key"
    assert await _waiting(c) == 0
    slots = (await c.http.get(f"{c.api}/slots?free=true&date={tomorrow()}", headers=h)).json()[
        "slots"
    ]
    r = await c.http.post(
        f"{c.api}/slots/{slots[-1]['id']}/reservation",
        json={"patient": "Иванов 😀", "channel": "портал"},
        headers=h,
    )
    assert r.status_code == 201, r.text


async def test_illegal_moves_are_409_with_a_code(clinics: MakeClinic) -> None:
    """Completing a waiting ticket, resuming twice, calling with a patient in hand: 409s."""
    c = await clinics("illegal")
    h = c.auth("head")
    await c.http.put(f"{c.api}/doctors/d0/duty", json={"status": "on_duty"}, headers=h)
    t = (await c.http.post(f"{c.api}/tickets", json={"service": "therapy"}, headers=h)).json()
    r = await c.http.post(f"{c.api}/tickets/{t['id']}/complete", headers=h)
    assert (r.status_code, r.json()["error"]["code"]) == (409, "illegal_transition")
    await c.http.post(f"{c.api}/tickets", json={"service": "therapy"}, headers=h)
    await c.http.post(f"{c.api}/cabinets/c0/call-next", headers=h)
    r = await c.http.post(f"{c.api}/cabinets/c0/call-next", headers=h)
    assert (r.status_code, r.json()["error"]["code"]) == (409, "patient_in_hand")
    r = await c.http.put(
        f"{c.api}/doctors/d1/duty", json={"status": "on_duty", "cabinet": "c0"}, headers=h
    )
    assert (r.status_code, r.json()["error"]["code"]) == (409, "cabinet_occupied")


async def test_a_clinic_named_with_emoji_and_cyrillic_round_trips(clinics: MakeClinic) -> None:
    """Names are data: emoji and Cyrillic in a clinic's, service's and doctor's names come back intact."""
    c = await clinics("names")
    config = (await c.http.get(c.api, headers=c.auth("admin"))).json()
    config["name"] = "Поликлиника № 7 🏥"
    config["services"][0]["name"] = "Терапевт 👩‍⚕️"
    config["doctors"][0]["name"] = "Ёлкина Ä. 😷"
    r = await c.http.put(c.api, json=config, headers=c.auth("admin"))
    assert r.status_code == 200, r.text
    for _ in range(50):  # every worker hears of the change through PostgreSQL NOTIFY
        board = (await c.http.get(f"{c.api}/board", headers=c.auth("display"))).json()
        if board["name"] == "Поликлиника № 7 🏥":
            break
        await asyncio.sleep(0.1)
    assert board["name"] == "Поликлиника № 7 🏥"
    assert board["queues"][0]["name"] == "Терапевт 👩‍⚕️"
    assert board["doctors"][0]["name"] == "Ёлкина Ä. 😷"


@pytest.mark.parametrize(
    ("where", "name"),
    [
        ("clinic", "Поликлиника \u202e24 №"),  # a right-to-left override flips the header
        ("service", "Т" * 20_000),  # squeezes the board to a strip
        ("doctor", "Иванова\x00"),  # a NUL cannot even be stored
        ("cabinet", "\u2067Кабинет"),  # a direction isolate
        ("clinic", "   "),
    ],
)
async def test_names_with_control_or_direction_characters_are_refused(
    clinics: MakeClinic, where: str, name: str
) -> None:
    """Every name goes through one rule: plain text, 1-80 characters; the clinic is unchanged."""
    c = await clinics("badnames")
    before = (await c.http.get(c.api, headers=c.auth("admin"))).json()
    config = {**before, "services": [dict(s) for s in before["services"]],
              "doctors": [dict(d) for d in before["doctors"]],
              "cabinets": [dict(x) for x in before["cabinets"]]}  # fmt: skip
    if where == "clinic":
        config["name"] = name
    else:
        config[where + "s"][0]["name"] = name
    r = await c.http.put(c.api, json=config, headers=c.auth("admin"))
    assert r.status_code == 422, r.text
    assert r.json()["error"]["code"] == "invalid"
    assert (await c.http.get(c.api, headers=c.auth("admin"))).json() == before
    slots = (
        await c.http.get(c.api + f"/slots?free=true&date={tomorrow()}", headers=c.auth("partner"))
    ).json()
    held = await c.http.post(
        c.api + f"/slots/{slots['slots'][-1]['id']}/reservation",
        json={"patient": "Петров \u202eП."},
        headers=c.auth("partner"),
    )
    assert held.status_code == 422, held.text


async def test_slots_beyond_the_booking_window_are_refused(clinics: MakeClinic) -> None:
    """A slot in the year 9999 (or past the window) is refused before it reaches the store."""
    c = await clinics("window")
    h = c.auth("partner")
    url = f"{c.api}/slots/{{}}/reservation"
    far = await c.http.post(url.format("d0.20991231.0800"), json={"patient": "P"}, headers=h)
    assert (far.status_code, far.json()["error"]["code"]) == (409, "outside_booking_window")
    edge = await c.http.post(url.format("d0.99991231.2345"), json={"patient": "P"}, headers=h)
    assert (edge.status_code, edge.json()["error"]["code"]) == (404, "slot_not_found")
    listing = await c.http.get(f"{c.api}/slots", params={"date": "9999-12-31"}, headers=h)
    assert listing.status_code == 422
    board = await c.http.get(f"{c.api}/board", headers=c.auth("display"))
    assert board.status_code == 200


async def test_a_wrong_method_is_405_with_a_code(clinics: MakeClinic) -> None:
    """PATCH on the tickets route is 'method not allowed', not 'not found'."""
    c = await clinics("method")
    r = await c.http.patch(f"{c.api}/tickets", json={}, headers=c.auth("kiosk"))
    assert (r.status_code, r.json()["error"]["code"]) == (405, "method_not_allowed")
