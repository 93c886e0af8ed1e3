"""A checked-in booking's ticket tells the patient their time, doctor and cabinet, and the wait
to their slot: never "nobody ahead, 0 min" because the walk-in queue happens to be short."""

from __future__ import annotations

import math
import time
from datetime import datetime
from typing import Any

import pytest

from tests.support import ClinicClient, MakeClinic, midday_zone, status_link

pytestmark = pytest.mark.integration

PATIENT = "полис 7700 123456"


async def book_and_check_in(c: ClinicClient, min_ahead: float = 30) -> tuple[dict[str, Any], Any]:
    """Book today's first free slot at least ``min_ahead`` minutes away and check in at the kiosk;
    the slot and the check-in's answer."""
    listed = await c.http.get(f"{c.api}/slots?free=true", headers=c.auth("head"))
    assert listed.status_code == 200, listed.text
    soon = time.time() + min_ahead * 60
    slot = next(
        s for s in listed.json()["slots"] if datetime.fromisoformat(s["start"]).timestamp() > soon
    )
    made = await c.http.post(
        f"{c.api}/slots/{slot['id']}/reservation",
        json={"patient": PATIENT, "confirm": True},
        headers=c.auth("registrar", "reserve-1"),
    )
    assert made.status_code == 201, made.text
    answer = await c.http.post(
        f"{c.api}/reservations/{made.json()['id']}/check-in",
        json={"patient": PATIENT},
        headers=c.auth("kiosk", "check-in-1"),
    )
    assert answer.status_code == 200, answer.text
    return slot, answer


def minutes_to(slot: dict[str, Any], since: float, until: float) -> range:
    """The whole minutes to the slot's start as the engine may have counted them in between."""
    start = datetime.fromisoformat(slot["start"]).timestamp()
    return range(math.floor((start - until) / 60), math.ceil((start - since) / 60) + 1)


async def test_a_checked_in_booking_is_told_its_time_doctor_cabinet_and_wait(
    clinics: MakeClinic,
) -> None:
    """With walk-ins waiting and a doctor on duty, the booked ticket's view (check-in answer,
    staff view and the public status link) names the appointment and counts to its slot."""
    c = await clinics("booked", timezone=midday_zone())
    duty = await c.http.put(
        f"{c.api}/doctors/d1/duty", json={"status": "on_duty"}, headers=c.auth("head")
    )
    assert duty.status_code == 200, duty.text
    for i in range(3):
        walk_in = await c.http.post(
            f"{c.api}/tickets", json={"service": "therapy"}, headers=c.auth("kiosk", f"w{i}")
        )
        assert walk_in.status_code == 201, walk_in.text
    assert walk_in.json()["expected_wait_minutes"] == 30  # two ahead, 15 min each, one doctor

    since = time.time()
    slot, answer = await book_and_check_in(c)
    ticket = answer.json()["ticket"]
    status = await c.http.get(f"{c.api}/ticket-status/{status_link(ticket)}")
    staff = await c.http.get(f"{c.api}/tickets/{ticket['id']}", headers=c.auth("registrar"))
    until = time.time()
    assert status.status_code == 200 and staff.status_code == 200, (status.text, staff.text)

    expected = {
        "time": slot["start"],
        "doctor": "d0",
        "doctor_name": "Доктор 0",
        "cabinet": "c0",
        "cabinet_name": "Кабинет 0",
    }
    for view in (ticket, status.json(), staff.json()):
        assert view["state"] == "waiting"
        assert view["appointment"] == expected
        assert view["ahead"] == 0
        assert view["expected_wait_minutes"] in minutes_to(slot, since, until)
        assert view["expected_wait_minutes"] >= 29
    public = status.json()
    assert not {"channel", "priority", "slot_time", "issued_at"} & public.keys()


async def test_the_appointment_follows_the_doctor_to_another_cabinet(
    clinics: MakeClinic,
) -> None:
    """A head moves the booked doctor to cabinet c2 before the shift: the status link says c2."""
    c = await clinics("bookedmove", timezone=midday_zone())
    _, answer = await book_and_check_in(c)
    link = status_link(answer.json()["ticket"])
    moved = await c.http.put(
        f"{c.api}/doctors/d0/duty", json={"cabinet": "c2"}, headers=c.auth("head")
    )
    assert moved.status_code == 200, moved.text
    status = await c.http.get(f"{c.api}/ticket-status/{link}")
    assert status.status_code == 200, status.text
    appointment = status.json()["appointment"]
    assert (appointment["cabinet"], appointment["cabinet_name"]) == ("c2", "Кабинет 2")


async def test_a_walk_in_ticket_has_no_appointment(clinics: MakeClinic) -> None:
    """A walk-in's status has ``appointment: null`` and the queue's own wait."""
    c = await clinics("walkin")
    taken = await c.http.post(
        f"{c.api}/tickets", json={"service": "therapy"}, headers=c.auth("kiosk", "w")
    )
    assert taken.status_code == 201, taken.text
    assert taken.json()["appointment"] is None
    status = await c.http.get(f"{c.api}/ticket-status/{status_link(taken.json())}")
    assert status.json()["appointment"] is None
    assert status.json()["expected_wait_minutes"] is None  # no doctor on duty
