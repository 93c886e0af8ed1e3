"""The core promise under concurrency, over HTTP against two workers: nothing issued twice."""

from __future__ import annotations

import asyncio
from collections import Counter

import pytest

from tests.support import MakeClinic, tomorrow

pytestmark = pytest.mark.integration


async def test_500_concurrent_tickets_are_distinct_and_gap_free(
    clinics: MakeClinic,
) -> None:
    """500 concurrent take-ticket requests for one service give Т-001..Т-500, each once."""
    c = await clinics("race-tickets")
    responses = await asyncio.gather(
        *(
            c.http.post(f"{c.api}/tickets", json={"service": "therapy"}, headers=c.auth("kiosk"))
            for _ in range(500)
        )
    )
    assert [r.status_code for r in responses] == [201] * 500
    numbers = sorted(r.json()["number"] for r in responses)
    assert numbers == [f"Т-{n:03d}" for n in range(1, 501)]
    assert len({r.json()["id"] for r in responses}) == 500


async def test_300_clients_racing_for_50_slots_get_exactly_50(
    clinics: MakeClinic,
) -> None:
    """Six clients per slot: each of 50 slots goes to exactly one, the rest hear slot_taken."""
    c = await clinics("race-slots")
    listing = await c.http.get(f"{c.api}/slots", params={"free": "true"}, headers=c.auth("partner"))
    slots = [s["id"] for s in listing.json()["slots"]][:50]
    if len(slots) < 50:  # late in the day: take tomorrow's
        next_day = await c.http.get(
            f"{c.api}/slots",
            params={"free": "true", "date": tomorrow()},
            headers=c.auth("partner"),
        )
        slots = (slots + [s["id"] for s in next_day.json()["slots"]])[:50]
    assert len(slots) == 50
    attempts = [(slot, f"пациент-{slot}-{i}") for slot in slots for i in range(6)]
    responses = await asyncio.gather(
        *(
            c.http.post(
                f"{c.api}/slots/{slot}/reservation",
                json={"patient": patient, "confirm": True},
                headers=c.auth("partner"),
            )
            for slot, patient in attempts
        )
    )
    won = [r.json() for r in responses if r.status_code == 201]
    lost = [r.json()["error"]["code"] for r in responses if r.status_code != 201]
    assert len(won) == 50
    assert Counter(w["slot"] for w in won) == Counter({s: 1 for s in slots})
    assert set(lost) == {"slot_taken"} and len(lost) == 250


async def test_20_doctors_calling_at_once_never_call_a_ticket_twice(
    clinics: MakeClinic,
) -> None:
    """20 therapists press call-next together, five times over: every call names a new ticket."""
    c = await clinics("race-calls", doctors=20)
    for i in range(20):
        r = await c.http.put(
            f"{c.api}/doctors/d{i}/duty", json={"status": "on_duty"}, headers=c.auth("head")
        )
        assert r.status_code == 200, r.text
    for _ in range(60):
        await c.http.post(f"{c.api}/tickets", json={"service": "therapy"}, headers=c.auth("kiosk"))
    called: list[str] = []
    for _ in range(5):
        calls = await asyncio.gather(
            *(
                c.http.post(f"{c.api}/cabinets/c{i}/call-next", headers=c.auth("head"))
                for i in range(20)
            )
        )
        assert all(r.status_code == 200 for r in calls), [r.text for r in calls]
        batch = [r.json()["ticket"] for r in calls if r.json()["ticket"]]
        called += [t["id"] for t in batch]
        for i, r in enumerate(calls):
            if r.json()["ticket"]:
                ticket = r.json()["ticket"]
                await c.http.post(f"{c.api}/tickets/{ticket['id']}/no-show", headers=c.auth("head"))
                assert ticket["cabinet"] == f"c{i}"
    assert len(called) == 60
    assert len(set(called)) == 60


async def test_one_idempotency_key_sent_50_times_at_once_gives_one_ticket(
    clinics: MakeClinic,
) -> None:
    """Fifty copies of one request with one Idempotency-Key: one ticket, fifty equal answers."""
    c = await clinics("race-idem")
    responses = await asyncio.gather(
        *(
            c.http.post(
                f"{c.api}/tickets",
                json={"service": "surgery"},
                headers=c.auth("kiosk", key="retry-me-once"),
            )
            for _ in range(50)
        )
    )
    assert {r.status_code for r in responses} == {201}
    assert len({r.text for r in responses}) == 1
    board = (await c.http.get(f"{c.api}/board", headers=c.auth("display"))).json()
    surgery = next(q for q in board["queues"] if q["service"] == "surgery")
    assert surgery["waiting"] == 1
    reused = await c.http.post(
        f"{c.api}/tickets",
        json={"service": "therapy"},
        headers=c.auth("kiosk", key="retry-me-once"),
    )
    assert reused.status_code == 409
    assert reused.json()["error"]["code"] == "idempotency_key_reused"
