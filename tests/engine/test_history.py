"""The department head's history: per-bucket series folded from the journal, and its endpoint."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from engine import commands as c
from engine.clinic import Clinic, parse_clinic
from engine.history import History, history, window
from engine.model import events as ev
from engine.model.clock import service_day
from engine.model.state import ClinicState
from tests.support import Clock, MakeClinic, clinic_config, redis_client


class Morning:
    """Commands on the pure model at set local times; the events they emit, as journaled."""

    def __init__(self) -> None:
        self.clinic: Clinic = parse_clinic(clinic_config("hist"))  # type: ignore[arg-type]
        self.state = ClinicState()
        self.clock = Clock()
        self.events: list[ev.AnyEvent] = []

    def at(self, local: str, cmd: c.Command) -> dict[str, Any]:
        self.clock.set(local)
        now = self.clock()
        day = service_day(now, self.clinic.timezone)
        out = c.run_pure(self.state, cmd, self.clinic, now, day, 300_000)
        self.events.extend(out.events)
        return out.result

    def history(self, now: str, hours: int = 1, bucket: int = 15) -> History:
        self.clock.set(now)
        start, end = window(self.clock(), hours, bucket)
        return history(self.clinic, self.events, start=start, end=end, bucket_minutes=bucket)


def test_series_follow_a_known_morning() -> None:
    """Issued, called, completed, waiting, longest wait and a doctor's load land in their buckets."""
    m = Morning()
    m.at("2026-03-10T08:00", c.SetDuty("d0", "on_duty"))
    m.at("2026-03-10T09:02", c.Issue("therapy"))
    m.at("2026-03-10T09:05", c.Issue("therapy"))
    m.at("2026-03-10T09:20", c.Issue("surgery"))
    first = m.at("2026-03-10T09:31", c.CallNext("c0"))["ticket"]
    m.at("2026-03-10T09:32", c.Act(first.id, "start"))
    m.at("2026-03-10T09:44", c.Act(first.id, "complete"))

    h = m.history("2026-03-10T09:50")
    nine = Clock()
    nine.set("2026-03-10T09:00")
    assert h.buckets == [nine() + i * 15 * 60_000 for i in range(4)]
    therapy, surgery = h.queues
    assert therapy.issued == [2, 0, 0, 0]
    assert therapy.called == [0, 0, 1, 0]
    assert therapy.completed == [0, 0, 1, 0]
    assert therapy.waiting == [2, 2, 1, 1]
    assert therapy.peak_waiting == [2, 2, 2, 1]
    # T-001 waited 13 min by 09:15, 28 by 09:30, left at 29; T-002 waited 40 by 09:45, 45 now.
    assert therapy.longest_wait_minutes == [13, 28, 40, 45]
    assert therapy.on_duty == [1, 1, 1, 1]
    assert therapy.unstaffed == [False] * 4
    assert surgery.issued == [0, 1, 0, 0]
    assert surgery.waiting == [0, 1, 1, 1]
    assert surgery.expected_wait_minutes == [None] * 4
    assert surgery.unstaffed == [False, True, True, True]
    d0 = h.doctors[0]
    assert d0.served == [0, 0, 1, 0]
    assert d0.serving_minutes == [0.0, 0.0, 12.0, 0.0]


def test_a_patient_in_service_counts_until_now_and_yesterdays_tickets_do_not() -> None:
    """Serving minutes run to now; tickets left over from yesterday expire without a wait."""
    m = Morning()
    m.at("2026-03-09T17:00", c.SetDuty("d0", "on_duty"))
    m.at("2026-03-09T17:10", c.Issue("therapy"))
    m.at("2026-03-10T08:55", c.Issue("therapy"))  # opens the day: yesterday's ticket expires
    called = m.at("2026-03-10T09:00", c.CallNext("c0"))["ticket"]
    m.at("2026-03-10T09:10", c.Act(called.id, "start"))

    h = m.history("2026-03-10T09:40", hours=1, bucket=30)
    therapy = h.queues[0]
    assert therapy.waiting == [0, 0]
    # The longest wait is today's patient's 5 minutes, not the night's 16 hours.
    assert therapy.longest_wait_minutes == [5, 0]
    assert therapy.called == [1, 0]
    assert h.doctors[0].serving_minutes == [20.0, 10.0]


def test_a_doctor_on_duty_since_before_the_window_is_counted_on_duty() -> None:
    """A doctor first seen in a ticket event held that duty from the start of what was read."""
    m = Morning()
    m.at("2026-03-10T07:00", c.SetDuty("d0", "on_duty"))
    m.events.clear()  # as if the duty was set before the events read
    m.at("2026-03-10T09:20", c.Issue("therapy"))
    m.at("2026-03-10T09:40", c.CallNext("c0"))
    h = m.history("2026-03-10T09:50", hours=1, bucket=15)
    assert h.queues[0].on_duty == [1, 1, 1, 1]
    assert h.queues[0].unstaffed == [False] * 4


# -- the endpoint, on the real engine ---------------------------------------------------------

integration = pytest.mark.integration


async def _morning(cc: Any) -> None:
    r = await cc.http.put(
        f"{cc.api}/doctors/d0/duty", json={"status": "on_duty"}, headers=cc.auth("head")
    )
    assert r.status_code == 200, r.text
    for service in ["therapy", "therapy", "therapy", "surgery"]:
        r = await cc.http.post(
            f"{cc.api}/tickets", json={"service": service}, headers=cc.auth("kiosk")
        )
        assert r.status_code == 201, r.text
    for _ in range(2):
        r = await cc.http.post(f"{cc.api}/cabinets/c0/call-next", headers=cc.auth("doctor"))
        tid = r.json()["ticket"]["id"]
        for action in ("start", "complete"):
            r = await cc.http.post(f"{cc.api}/tickets/{tid}/{action}", headers=cc.auth("doctor"))
            assert r.status_code == 200, r.text
    r = await cc.http.post(f"{cc.api}/cabinets/c0/call-next", headers=cc.auth("doctor"))
    assert r.status_code == 200, r.text


def _totals(h: dict[str, Any]) -> dict[str, Any]:
    q = {x["service"]: x for x in h["queues"]}
    return {
        "issued": {s: sum(x["issued"]) for s, x in q.items()},
        "called": {s: sum(x["called"]) for s, x in q.items()},
        "completed": {s: sum(x["completed"]) for s, x in q.items()},
        "waiting_now": {s: x["waiting"][-1] for s, x in q.items()},
        "unstaffed_now": {s: x["unstaffed"][-1] for s, x in q.items()},
        "served": {d["id"]: sum(d["served"]) for d in h["doctors"]},
    }


@integration
async def test_history_matches_the_tickets_and_survives_a_redis_loss(
    clinics: MakeClinic, redis_url: str
) -> None:
    """The series add up to what was issued, called and completed, before and after FLUSHALL."""
    cc = await clinics("history")
    await _morning(cc)
    url = f"{cc.api}/history?hours=2&bucket=5"
    before = await cc.http.get(url, headers=cc.auth("head"))
    assert before.status_code == 200, before.text
    h = before.json()
    assert h["bucket_minutes"] == 5 and len(h["buckets"]) == 24
    assert _totals(h) == {
        "issued": {"therapy": 3, "surgery": 1},
        "called": {"therapy": 3, "surgery": 0},
        "completed": {"therapy": 2, "surgery": 0},
        "waiting_now": {"therapy": 0, "surgery": 1},
        "unstaffed_now": {"therapy": False, "surgery": True},
        "served": {"d0": 2, "d1": 0, "d2": 0},
    }

    client = redis_client(redis_url)
    try:
        await client.flushall()
        await client.script_flush()
    finally:
        await client.aclose()
    after = await cc.http.get(url, headers=cc.auth("head"))
    assert after.status_code == 200, after.text
    assert _totals(after.json()) == _totals(h)
    # The past buckets are the journal's, unchanged (the current one may have moved on).
    for old, new in zip(h["queues"], after.json()["queues"], strict=True):
        assert old["issued"] == new["issued"] and old["completed"] == new["completed"]


@integration
async def test_history_is_for_the_head_and_checks_its_query(clinics: MakeClinic) -> None:
    """Only head and admin read it; other roles and other clinics' heads are refused."""
    cc = await clinics("history-roles")
    url = f"{cc.api}/history"
    answers = await asyncio.gather(
        *(
            cc.http.get(url, headers=cc.auth(role))
            for role in ("kiosk", "display", "doctor", "registrar", "partner", "other_clinic_head")
        )
    )
    assert [a.status_code for a in answers] == [403] * 6
    assert (await cc.http.get(url)).status_code == 401
    assert (await cc.http.get(url, headers=cc.auth("head"))).status_code == 200
    assert (await cc.http.get(url, headers=cc.auth("admin"))).status_code == 200
    for query in ("hours=0", "hours=13", "hours=x", "bucket=7", "bucket=-5"):
        bad = await cc.http.get(f"{url}?{query}", headers=cc.auth("head"))
        assert bad.status_code == 422, query
        assert bad.json()["error"]["code"] == "invalid"
