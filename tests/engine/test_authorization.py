"""The authorization matrix: every endpoint against every role, allowed or refused as designed."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from tests.support import ClinicClient, MakeClinic, midday_zone, tomorrow

pytestmark = pytest.mark.integration

STAFF = {"kiosk", "registrar", "doctor", "head", "display", "icu_doctor", "admin"}
BOOKERS = {"partner", "registrar", "head", "admin"}
# The desk acts in its own clinic only: another clinic's head and registrar are refused everywhere.
EVERYONE = STAFF | {"partner", "doctor_d1", "other_clinic_head", "other_clinic_registrar", None}

# (name, method, path under the clinic, body, roles allowed); None is "no token".
MATRIX: list[tuple[str, str, str, Any, set[str | None]]] = [
    (
        "take ticket",
        "POST",
        "/tickets",
        {"service": "therapy"},
        {"kiosk", "registrar", "head", "admin"},
    ),
    (
        "ticket",
        "GET",
        "/tickets/{ticket}",
        None,
        {"registrar", "doctor", "doctor_d1", "head", "admin"},
    ),
    ("find tickets", "GET", "/tickets?number=1", None, {"registrar", "head", "admin"}),
    (
        "cancel with a reason",
        "POST",
        "/tickets/{ticket}/cancel",
        {"reason": "patient_left"},
        {"doctor", "registrar", "head", "admin"},
    ),
    ("ticket status", "GET", "/ticket-status/{link}", None, EVERYONE),
    (
        "ticket action",
        "POST",
        "/tickets/{ticket}/recall",
        None,
        {"doctor", "registrar", "head", "admin"},
    ),
    ("call next", "POST", "/cabinets/c0/call-next", None, {"doctor", "head", "admin"}),
    ("duty", "PUT", "/doctors/d0/duty", {"status": "on_duty"}, {"doctor", "head", "admin"}),
    ("board", "GET", "/board", None, STAFF | {"doctor_d1"}),
    ("clinic", "GET", "", None, STAFF | {"partner", "doctor_d1"}),
    ("clinic config", "PUT", "", "config", {"admin"}),
    ("slots", "GET", "/slots", None, STAFF | {"partner", "doctor_d1"}),
    ("reserve", "POST", "/slots/{slot}/reservation", {"patient": "P"}, BOOKERS),
    ("reservation", "GET", "/reservations/{reservation}", None, BOOKERS),
    (
        "find bookings",
        "POST",
        "/reservations/search",
        {"patient": "P0"},
        {"registrar", "head", "admin"},
    ),
    ("confirm", "POST", "/reservations/{reservation}/confirm", None, BOOKERS),
    ("move", "POST", "/reservations/{reservation}/move", {"slot": "{slot2}"}, BOOKERS),
    (
        "check in",
        "POST",
        "/reservations/{reservation}/check-in",
        {"patient": "P"},
        {"kiosk", "registrar", "head", "admin"},
    ),
    ("cancel by slot", "DELETE", "/slots/{slot}/reservation", None, BOOKERS),
]
ROLES: list[str | None] = [*sorted(r for r in EVERYONE if r), None]


async def _fixtures(c: ClinicClient, role: str | None) -> dict[str, str]:
    """A called ticket in d0's hand and a reservation (a partner's own when testing partners)."""
    await c.http.put(f"{c.api}/doctors/d0/duty", json={"status": "on_duty"}, headers=c.auth("head"))
    taken = await c.http.post(
        f"{c.api}/tickets", json={"service": "therapy"}, headers=c.auth("kiosk")
    )
    called = await c.http.post(f"{c.api}/cabinets/c0/call-next", headers=c.auth("head"))
    day = tomorrow()  # two free slots at any hour
    listed = await c.http.get(f"{c.api}/slots?free=true&date={day}", headers=c.auth("head"))
    slots = listed.json()["slots"]
    reservation = await c.http.post(
        f"{c.api}/slots/{slots[-1]['id']}/reservation",
        json={"patient": "P"},
        headers=c.auth("partner" if role == "partner" else "registrar"),
    )
    return {
        "ticket": called.json()["ticket"]["id"],
        "link": taken.json()["status_url"].rsplit("/", 1)[1],
        "slot": slots[-1]["id"],
        "slot2": slots[-2]["id"],
        "reservation": reservation.json()["id"],
    }


@pytest.mark.parametrize("endpoint", MATRIX, ids=[m[0] for m in MATRIX])
async def test_every_role_against_every_endpoint(clinics: MakeClinic, endpoint: Any) -> None:
    """Allowed roles are never refused with 401/403; every other role is, and nothing 500s."""
    name, method, path, body, allowed = endpoint
    refused: dict[str | None, int] = {}
    for role in ROLES:
        c = await clinics("authz")
        ids = await _fixtures(c, role)
        if body == "config":
            body_now: Any = (await c.http.get(c.api, headers=c.auth("admin"))).json()
        elif isinstance(body, dict):
            body_now = {k: v.format(**ids) if isinstance(v, str) else v for k, v in body.items()}
        else:
            body_now = None
        headers = c.auth(role) if role else {}
        response = await c.http.request(
            method, c.api + path.format(**ids), json=body_now, headers=headers
        )
        assert response.status_code < 500, response.text
        if response.status_code in (401, 403):
            refused[role] = response.status_code
            assert "error" in response.json()
    expected = {r for r in ROLES if r not in allowed}
    assert set(refused) == expected, f"{name}: refused {sorted(map(str, refused))}"
    if None in refused:
        assert refused[None] == 401


ICU = "/api/v1/icu/patients/p-authz"
ICU_MATRIX: list[tuple[str, str, Any]] = [
    ("PUT", ICU + "/status", {"status": "admitted", "label": "Иванов И."}),
    ("POST", ICU + "/relatives", {"phone": "+7 916 123-45-67", "relation": "дочь"}),
    ("GET", ICU + "/relatives", None),
    ("POST", ICU + "/observations", {"temperature": 36.6, "pulse": 70}),
    ("GET", ICU + "/observations", None),
    ("GET", ICU + "/messages", None),
    ("POST", ICU + "/relatives/1/revoke", None),
    ("GET", "/api/v1/icu/alerts", None),
    ("GET", "/api/v1/icu/patients", None),
    ("GET", "/api/v1/icu/rules", None),
    ("GET", ICU + "/next-message", None),
]


async def test_every_role_against_the_icu_routes(clinics: MakeClinic) -> None:
    """Only the clinic's ICU doctor: every other role (admin too, bound to no hospital) is
    refused, no token is 401, and nothing 500s."""
    c = await clinics("icuauthz")
    method, path, body = ICU_MATRIX[0]
    admit = await c.http.request(method, path, json=body, headers=c.auth("icu_doctor"))
    assert admit.status_code == 200, admit.text
    for method, path, body in ICU_MATRIX:
        refused = {}
        for role in ROLES:
            headers = c.auth(role) if role else {}
            response = await c.http.request(method, path, json=body, headers=headers)
            assert response.status_code < 500, (method, path, role, response.text)
            if response.status_code in (401, 403):
                refused[role] = response.status_code
        assert set(refused) == {r for r in ROLES if r != "icu_doctor"}, (method, path, refused)
        assert refused[None] == 401


async def test_a_hospitals_wording_is_tried_by_its_icu_doctor_head_or_an_admin(
    clinics: MakeClinic,
) -> None:
    c = await clinics("wordingauthz")
    body = {"language": "ru", "wording": "{{ patient }} {{ date }}"}
    refused = {}
    for role in ROLES:
        headers = c.auth(role) if role else {}
        response = await c.http.post("/api/v1/icu/wording/preview", json=body, headers=headers)
        assert response.status_code in (200, 401, 403), (role, response.text)
        if response.status_code != 200:
            refused[role] = response.status_code
    # Any head may try a wording: it names no hospital and changes nothing.
    allowed = ("icu_doctor", "head", "other_clinic_head", "admin")
    assert set(refused) == {r for r in ROLES if r not in allowed}


async def test_printer_addresses_are_shown_to_heads_and_admins_only(clinics: MakeClinic) -> None:
    """A partner or a kiosk reading the clinic's configuration does not see its printers."""
    c = await clinics("printers")
    config = (await c.http.get(c.api, headers=c.auth("admin"))).json()
    config["kiosks"] = [{"id": "hall-1", "printer": "tcp://127.0.0.1:9100"}]
    assert (await c.http.put(c.api, json=config, headers=c.auth("admin"))).status_code == 200
    await asyncio.sleep(1)  # both workers hear of the change through NOTIFY within milliseconds
    for role, sees in [("admin", True), ("head", True), ("partner", False), ("kiosk", False)]:
        for _ in range(4):  # a few times, so both workers answer
            body = (await c.http.get(c.api, headers=c.auth(role))).json()
            assert ("kiosks" in body) is sees, role


async def test_a_kiosk_checks_in_only_with_the_patients_reference(clinics: MakeClinic) -> None:
    """Sequential reservation ids cannot be probed at a kiosk: a wrong pair is 'not found'."""
    c = await clinics("checkin", timezone=midday_zone())
    slots = (await c.http.get(f"{c.api}/slots?free=true", headers=c.auth("head"))).json()["slots"]
    made = await c.http.post(
        f"{c.api}/slots/{slots[-1]['id']}/reservation",
        json={"patient": "полис 7700 1234", "confirm": True},
        headers=c.auth("registrar"),
    )
    rid = made.json()["id"]
    url = f"{c.api}/reservations/{rid}/check-in"
    for body in (None, {"patient": "полис 0000 0000"}, {"patient": ""}):
        r = await c.http.post(url, json=body, headers=c.auth("kiosk"))
        assert (r.status_code, r.json()["error"]["code"]) == (404, "reservation_not_found")
    r = await c.http.post(url, json={"patient": "полис 7700 1234"}, headers=c.auth("kiosk"))
    assert r.status_code == 200, r.text
    assert r.json()["ticket"]["state"] == "waiting"
