"""A queue with patients and no doctor on duty is the worst state, and says why."""

from __future__ import annotations

import pytest

from tests.support import MakeClinic

pytestmark = pytest.mark.integration


async def test_waiting_patients_and_nobody_on_duty_is_red_and_unstaffed(
    clinics: MakeClinic,
) -> None:
    """Surgery has a patient and no surgeon: red, unstaffed; an empty queue is not unstaffed."""
    cc = await clinics("unstaffed")
    r = await cc.http.post(
        f"{cc.api}/tickets", json={"service": "surgery"}, headers=cc.auth("kiosk")
    )
    assert r.status_code == 201, r.text
    board = (await cc.http.get(f"{cc.api}/board", headers=cc.auth("display"))).json()
    queues = {q["service"]: q for q in board["queues"]}
    surgery, therapy = queues["surgery"], queues["therapy"]
    assert surgery["waiting"] == 1 and surgery["on_duty"] == 0
    assert surgery["level"] == "red" and surgery["unstaffed"] is True
    assert therapy["waiting"] == 0 and therapy["unstaffed"] is False
    assert therapy["level"] == "green"


async def test_a_doctor_going_on_duty_lifts_the_unstaffed_state(clinics: MakeClinic) -> None:
    """Once a doctor serves the queue, a fresh patient is back to the wait's own level."""
    cc = await clinics("staffed")
    r = await cc.http.post(
        f"{cc.api}/tickets", json={"service": "therapy"}, headers=cc.auth("kiosk")
    )
    assert r.status_code == 201, r.text
    before = (await cc.http.get(f"{cc.api}/board", headers=cc.auth("display"))).json()
    assert before["queues"][0]["level"] == "red" and before["queues"][0]["unstaffed"] is True
    r = await cc.http.put(
        f"{cc.api}/doctors/d0/duty", json={"status": "on_duty"}, headers=cc.auth("head")
    )
    assert r.status_code == 200, r.text
    after = (await cc.http.get(f"{cc.api}/board", headers=cc.auth("display"))).json()
    assert after["queues"][0]["unstaffed"] is False
    assert after["queues"][0]["level"] == "green"
