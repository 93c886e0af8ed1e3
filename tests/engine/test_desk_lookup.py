"""The desk's engine calls: a ticket found by the number a patient reads out (either alphabet,
with or without the dash and the zeros), and a cancellation that keeps its reason in the journal,
in the pure model and in Lua alike."""

from __future__ import annotations

import uuid
from typing import Any

import asyncpg
import msgspec
import pytest

from engine import commands as c
from engine.clinic import parse_clinic
from engine.model import events as ev
from engine.model.clock import service_day
from engine.model.matching import number_key, number_matches
from engine.model.state import ClinicState
from engine.service import Engine
from tests.support import ClinicClient, Clock, MakeClinic, clinic_config, tomorrow

# As typed at the desk, each naming ticket "Т-042" (Cyrillic Т).
SAME = ["Т-042", "т42", "T-042", "t 42", "Т42", "042", "42", "n42", "Т—042"]
# Another ticket: another number, another letter (Х), a letter no prefix has.
OTHER = ["Т-043", "Х-042", "x42", "420", "A42"]


@pytest.mark.parametrize("typed", SAME)
def test_a_number_typed_loosely_names_the_ticket(typed: str) -> None:
    """Case, dash, leading zeros, a Latin look-alike or the key of the Russian letter: all match."""
    key = number_key(typed)
    assert key is not None
    assert number_matches(key, "Т-042")


@pytest.mark.parametrize("typed", OTHER)
def test_another_number_does_not_match(typed: str) -> None:
    """A different number or letter is another ticket."""
    key = number_key(typed)
    assert key is not None
    assert not number_matches(key, "Т-042")


def test_what_is_not_a_number_is_none() -> None:
    """Letters alone, nothing, or digits in the middle are not a ticket number."""
    assert [number_key(t) for t in ("", "Т", "Т-", "4Т2", "Т-1234567")] == [None] * 5


async def _take(cc: ClinicClient, service: str = "therapy", role: str = "registrar") -> Any:
    taken = await cc.http.post(
        cc.api + "/tickets",
        json={"service": service, "channel": "desk"},
        headers=cc.auth(role),
    )
    assert taken.status_code == 201, taken.text
    return taken.json()


@pytest.mark.integration
async def test_the_desk_finds_todays_ticket_by_its_number(clinics: MakeClinic) -> None:
    """GET /tickets?number=: the ticket with where it stands and its status link; a transferred
    ticket keeps its number; bare digits find every prefix's; nonsense is 422, nothing is []."""
    cc = await clinics("lookup")
    first = await _take(cc)
    second = await _take(cc)
    surgery = await _take(cc, "surgery")
    assert (first["number"], second["number"], surgery["number"]) == ("Т-001", "Т-002", "Х-001")
    for typed in ("т2", "T-002", "002"):
        found = await cc.http.get(
            cc.api + "/tickets", params={"number": typed}, headers=cc.auth("registrar")
        )
        assert found.status_code == 200, found.text
        [ticket] = found.json()["tickets"]
        assert ticket["id"] == second["id"]
        assert ticket["ahead"] == 1
        assert ticket["status_url"] == second["status_url"]
    both = await cc.http.get(cc.api + "/tickets?number=1", headers=cc.auth("head"))
    assert [t["number"] for t in both.json()["tickets"]] == ["Т-001", "Х-001"]
    moved = await cc.http.post(
        f"{cc.api}/tickets/{first['id']}/transfer",
        json={"service": "surgery"},
        headers=cc.auth("registrar"),
    )
    assert moved.status_code == 200, moved.text
    again = await cc.http.get(cc.api + "/tickets?number=Т1", headers=cc.auth("registrar"))
    assert [(t["id"], t["service"]) for t in again.json()["tickets"]] == [(first["id"], "surgery")]
    none = await cc.http.get(cc.api + "/tickets?number=Т-099", headers=cc.auth("registrar"))
    assert none.status_code == 200 and none.json() == {"tickets": []}
    for bad in ("", "Т", "abc"):
        refused = await cc.http.get(
            cc.api + "/tickets", params={"number": bad}, headers=cc.auth("registrar")
        )
        assert refused.status_code == 422, refused.text
        assert refused.json()["error"]["code"] == "invalid"


@pytest.mark.integration
async def test_a_cancellation_keeps_its_reason_in_the_journal(
    clinics: MakeClinic, db: asyncpg.Pool
) -> None:
    """Cancel with {"reason": "patient_left"}: the journaled event says why; a reason not in the
    list, or on another action, is 422 and changes nothing."""
    cc = await clinics("reason")
    ticket = await _take(cc)
    path = f"{cc.api}/tickets/{ticket['id']}"
    for action, reason in (("cancel", "bored"), ("recall", "patient_left")):
        refused = await cc.http.post(
            f"{path}/{action}", json={"reason": reason}, headers=cc.auth("registrar")
        )
        assert refused.status_code == 422, refused.text
    still = await cc.http.get(path, headers=cc.auth("registrar"))
    assert still.json()["state"] == "waiting"
    done = await cc.http.post(
        f"{path}/cancel", json={"reason": "patient_left"}, headers=cc.auth("registrar")
    )
    assert done.status_code == 200, done.text
    assert done.json()["state"] == "cancelled"
    body = await db.fetchval(
        "SELECT body FROM journal WHERE clinic = $1 AND kind = 'ticket_cancelled'", cc.clinic
    )
    event = msgspec.json.decode(body)
    assert event["reason"] == "patient_left"
    assert event["ticket"]["id"] == ticket["id"]


@pytest.mark.integration
async def test_the_reason_is_the_same_event_in_the_model_and_in_lua(
    engine: tuple[Engine, Clock],
) -> None:
    """The pure model and the Lua script give one event body for a cancel with a reason, and
    for one without (where the reason is left out, as it always was)."""
    live, clock = engine
    clock.set("2026-11-26T09:00:00")
    # A clinic of its own each run: the pure state below starts empty, as the live one must.
    clinic = parse_clinic(clinic_config(f"reasons-{uuid.uuid4().hex[:6]}"))  # type: ignore[arg-type]
    await live.put_clinic(clinic)
    state = ClinicState()
    day = service_day(clock(), clinic.timezone)
    bodies: list[dict[str, Any]] = []
    for reason in ("duplicate", ""):
        issue = c.Issue("therapy", "", "desk", "link-" + (reason or "none"))
        issued = await live.execute(clinic.id, issue)
        c.run_pure(state, issue, clinic, clock(), day, live.hold_ms)
        cancel = c.Act(issued["ticket"].id, "cancel", reason=reason)
        await live.execute(clinic.id, cancel)
        pure = c.run_pure(state, cancel, clinic, clock(), day, live.hold_ms)
        [event] = [e for e in pure.events if isinstance(e, ev.TicketCancelled)]
        assert event.reason == reason
        [(_, body, _, _)] = (await live.store.stream_after(clinic.id, event.offset - 1))[:1]
        assert msgspec.json.decode(body) == msgspec.to_builtins(event)
        bodies.append(msgspec.json.decode(body))
    assert bodies[0]["reason"] == "duplicate"
    assert "reason" not in bodies[1]


async def _book(cc: ClinicClient, slot: str, patient: str) -> str:
    made = await cc.http.post(
        f"{cc.api}/slots/{slot}/reservation",
        json={"patient": patient, "channel": "desk", "confirm": True},
        headers=cc.auth("registrar"),
    )
    assert made.status_code == 201, made.text
    return str(made.json()["id"])


@pytest.mark.integration
async def test_the_desk_finds_a_patients_bookings_by_their_reference(clinics: MakeClinic) -> None:
    """POST /reservations/search: the patient's live bookings, soonest first, found as a kiosk
    reads the reference; a cancelled one is gone; the reference is never in the answer."""
    cc = await clinics("bookings")
    listed = await cc.http.get(
        f"{cc.api}/slots?free=true&date={tomorrow()}", headers=cc.auth("registrar")
    )
    slots = [s["id"] for s in listed.json()["slots"]]
    later = await _book(cc, slots[-1], "полис 7700 123456")
    sooner = await _book(cc, slots[-3], "7700-123456")
    await _book(cc, slots[-2], "полис 7700 654321")
    gone = await _book(cc, slots[-4], "7700123456")
    cancelled = await cc.http.post(
        f"{cc.api}/reservations/{gone}/cancel", headers=cc.auth("registrar")
    )
    assert cancelled.status_code == 200, cancelled.text
    found = await cc.http.post(
        cc.api + "/reservations/search",
        json={"patient": "ПОЛИС 7700 123 456"},
        headers=cc.auth("registrar"),
    )
    assert found.status_code == 200, found.text
    assert [r["id"] for r in found.json()["reservations"]] == [sooner, later]
    assert "123456" not in found.text
    for bad in ("", "-", "1"):
        refused = await cc.http.post(
            cc.api + "/reservations/search", json={"patient": bad}, headers=cc.auth("head")
        )
        assert refused.status_code == 422, refused.text
