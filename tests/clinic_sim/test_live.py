"""The what-if endpoint and drive mode against the live two-worker engine."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import asyncpg
import pytest

from clinic_sim.drive import DriveError, DriveOptions, check_url, drive
from tests.support import MakeClinic, clinic_config

pytestmark = pytest.mark.integration


async def test_what_if_endpoint_predicts_a_shorter_wait(clinics: MakeClinic) -> None:
    """Ten waiting for one therapist; moving a surgeon to therapy shortens the longest wait."""
    c = await clinics("whatif")
    head = c.auth("head")
    assert (
        await c.http.put(f"{c.api}/doctors/d0/duty", json={"status": "on_duty"}, headers=head)
    ).status_code == 200
    moved = {"status": "on_duty", "services": ["surgery"]}
    assert (
        await c.http.put(f"{c.api}/doctors/d1/duty", json=moved, headers=head)
    ).status_code == 200
    for _ in range(10):
        r = await c.http.post(
            f"{c.api}/tickets", json={"service": "therapy"}, headers=c.auth("kiosk")
        )
        assert r.status_code == 201
    body = {"doctor": "d1", "services": ["therapy"], "runs": 20}
    r = await c.http.post(f"{c.api}/what-if", json=body, headers=head)
    assert r.status_code == 200, r.text
    answer = r.json()
    assert answer["before"]["queues"][0]["waiting"] == 10
    assert answer["after"]["longest_wait_minutes"] < answer["before"]["longest_wait_minutes"]
    assert "the longest wait falls from" in answer["summary"]
    admin = await c.http.post(f"{c.api}/what-if", json=body, headers=c.auth("admin"))
    assert admin.json() == answer  # same board, same seed: the same prediction


async def test_what_if_endpoint_refuses_bad_requests(clinics: MakeClinic) -> None:
    """Only a head (or admin) may ask; unknown doctors are 404; bad bodies are 422 with a code."""
    c = await clinics("whatif-bad")
    url = f"{c.api}/what-if"
    body = {"doctor": "d1", "services": ["therapy"]}
    for role in ("kiosk", "doctor", "display"):
        r = await c.http.post(url, json=body, headers=c.auth(role))
        assert r.status_code == 403, role
    assert (
        await c.http.post(url, json=body, headers=c.auth("other_clinic_head"))
    ).status_code == 403
    r = await c.http.post(url, json={"doctor": "nobody", "status": "off"}, headers=c.auth("head"))
    assert (r.status_code, r.json()["error"]["code"]) == (404, "doctor_not_found")
    for bad in (
        {"doctor": "d1"},
        {"doctor": "d1", "services": []},
        {"doctor": "d1", "services": ["therapy", "therapy"]},
        {"doctor": "d1", "services": ["dentistry"]},
        {"doctor": "d1", "status": "asleep"},
        {"doctor": "d1", "status": "off", "runs": 10_000},
        {"doctor": "d1", "status": "off", "extra": 1},
    ):
        r = await c.http.post(url, json=bad, headers=c.auth("head"))
        assert (r.status_code, r.json()["error"]["code"]) == (422, "invalid"), bad
    r = await c.http.post(url, content=b"{nope", headers=c.auth("head"))
    assert (r.status_code, r.json()["error"]["code"]) == (400, "malformed_json")


async def test_drive_mode_moves_the_board_and_the_journal(
    clinics: MakeClinic, db: asyncpg.Pool
) -> None:
    """20 simulated minutes at 600x: its tickets are in the journal and doctors saw patients."""
    c = await clinics("drive")
    options = DriveOptions(
        url=str(c.http.base_url), token=c.tokens["admin"], clinic=c.clinic, speed=600.0,
        minutes=20.0, season=2.0, seed=1,
    )  # fmt: skip
    report = await drive(options)
    assert report.errors == {}, report.errors
    assert len(report.tickets) >= 3 and report.called >= 3
    assert sorted(report.doctors) == ["d0", "d1", "d2"]
    rows = await db.fetch(
        "SELECT kind, body FROM journal WHERE clinic = $1 AND kind IN ('ticket_issued', 'checked_in')",
        c.clinic,
    )
    journaled = {json.loads(r["body"])["ticket"]["id"] for r in rows}
    assert set(report.tickets) <= journaled
    board = (await c.http.get(f"{c.api}/board", headers=c.auth("display"))).json()
    assert sum(d["served"] for d in board["doctors"]) == report.completed > 0
    assert {d["status"] for d in board["doctors"]} <= {"on_duty", "break"}


def test_drive_refuses_a_remote_url() -> None:
    """Drive mode sends traffic to loopback only, unless told otherwise."""
    check_url("http://127.0.0.1:8000", False)
    check_url("http://[::1]:8000", False)
    with pytest.raises(DriveError):
        check_url("http://example.org", False)
    check_url("http://example.org", True)


async def test_drive_mode_books_the_next_open_day_when_today_has_no_appointments(
    clinics: MakeClinic,
) -> None:
    """A clinic giving no appointments today (a Sunday): the bookings go to its next open day,
    as a booking channel would make them, and none is checked in today."""
    c = await clinics("drive-sunday")
    config = clinic_config(c.clinic)
    today = datetime.now(ZoneInfo(str(config["timezone"]))).isoweekday()
    doctors: list[dict[str, Any]] = config["doctors"]  # type: ignore[assignment]
    doctors[0]["schedule"]["weekdays"] = [d for d in range(1, 8) if d != today]
    put = await c.http.put(c.api, json=config, headers=c.auth("admin"))
    assert put.status_code == 200, put.text
    options = DriveOptions(
        url=str(c.http.base_url), token=c.tokens["admin"], clinic=c.clinic, speed=600.0,
        minutes=30.0, seed=1,
    )  # fmt: skip
    report = await drive(options)
    assert report.errors == {}, report.errors
    assert report.booked > 0 and report.checked_in == 0
    assert sum(report.booked_ahead.values()) == report.booked
    tomorrow = (datetime.now(ZoneInfo(str(config["timezone"]))) + timedelta(days=1)).date()
    assert list(report.booked_ahead) == [tomorrow.isoformat()]
