"""The Lua scripts in Redis and the pure model decide alike, step by step, on random workloads.

A hypothesis state machine sends every command to both sides with the same clock and compares
the refusal code or the events, the answer, and then the whole clinic state read back from Redis.
"""

from __future__ import annotations

import asyncio
from datetime import date, datetime, timedelta
from functools import cache
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import redis
import redis.asyncio as aioredis
from hypothesis import HealthCheck, note, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from engine import keys
from engine.clinic import DEMO_CLINICS, load_clinics
from engine.commands import (
    Act,
    CallNext,
    Cancel,
    CheckIn,
    Command,
    Confirm,
    Issue,
    Move,
    Reserve,
    SetDuty,
    run_pure,
    script_call,
)
from engine.model.booking import Slot, slots_for
from engine.model.clock import day_bounds, service_day
from engine.model.errors import DecisionError
from engine.model.state import ClinicState
from engine.model.tickets import CANCEL_REASONS, OPEN_STATES, TICKET_ACTIONS, TRANSITIONS, State
from engine.store_redis import RedisStore

pytestmark = pytest.mark.integration

CLINIC = load_clinics(DEMO_CLINICS)[0]
CLINIC_ID = "model"
HOLD_MS = 300_000
ZONE = ZoneInfo(CLINIC.timezone)
SERVICES = [s.id for s in CLINIC.services]
CABINETS = [c.id for c in CLINIC.cabinets]
DOCTORS = [d.id for d in CLINIC.doctors]
PRIORITIES = ["", "", "veteran", "disabled", "pregnant", "child"]
# The doctor's actions, plus two the table knows that are not for doctors to send.
ACTIONS = [*sorted(TICKET_ACTIONS), "call", "expire"]
OWNERS = ["", "", "portal-a", "portal-b"]
STATE_FIELDS = (
    "day",
    "offset",
    "arrival",
    "seq",
    "tickets",
    "doctors",
    "reservations",
    "slots",
    "calls",
    "stats",
)
# Local start times: a Friday morning, a Monday before the afternoon shift, a Saturday late night.
STARTS = [
    datetime(2026, 11, 20, 7, 50, tzinfo=ZONE),
    datetime(2026, 11, 23, 13, 55, tzinfo=ZONE),
    datetime(2026, 11, 21, 23, 57, tzinfo=ZONE),
]

_redis_url = ""


@cache
def _slots(day: date) -> list[Slot]:
    return slots_for(CLINIC, day)


def _has_reservations(machine: ModelVsRedis) -> bool:
    return bool(machine.model.reservations)


def _present(result: dict[str, Any]) -> dict[str, Any]:
    """A pure answer as the script sends it: absent values (``None``) are left out."""
    return {k: v for k, v in result.items() if v is not None}


class ModelVsRedis(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.loop = asyncio.new_event_loop()
        self.client = aioredis.from_url(_redis_url)
        self.store = RedisStore(self.client, stream_max=1000, idempotency_ttl=60)
        self.model = ClinicState()
        self.now = int(STARTS[0].timestamp() * 1000)
        self.loop.run_until_complete(self._fresh())

    async def _fresh(self) -> None:
        stale = [k async for k in self.client.scan_iter(match=keys.prefix(CLINIC_ID) + "*")]
        if stale:
            await self.client.delete(*stale)
        await self.store.load_scripts()
        await self.store.restore(CLINIC_ID, ClinicState(), tail=[], idempotency={})

    def teardown(self) -> None:
        try:
            self.loop.run_until_complete(self.client.aclose())
        finally:
            self.loop.close()

    # -- the comparison ------------------------------------------------------------------------

    def _both(self, cmd: Command) -> None:
        day = service_day(self.now, CLINIC.timezone)
        note(f"@{self.now} ({day}) {cmd!r}")
        name, args = script_call(cmd, CLINIC, self.now, HOLD_MS)
        answer = self.loop.run_until_complete(self.store.run(name, CLINIC_ID, self.now, day, args))
        try:
            out = run_pure(self.model, cmd, CLINIC, self.now, day, HOLD_MS)
        except DecisionError as exc:
            assert (answer.error, answer.message) == (exc.code, exc.message)
            assert answer.events == exc.events
            return
        assert answer.error is None, (answer.error, answer.message, out.events)
        assert answer.events == out.events
        assert answer.result == _present(out.result)

    @invariant()
    def same_state(self) -> None:
        live = self.loop.run_until_complete(self.store.dump(CLINIC_ID))
        for name in STATE_FIELDS:
            assert getattr(live, name) == getattr(self.model, name), name

    # -- what may be named -----------------------------------------------------------------------

    def _ticket(self, data: st.DataObject) -> str:
        """Mostly one in a doctor's hands or still open, sometimes any, now and then unknown."""
        every = sorted(self.model.tickets)
        live = [i for i in every if self.model.tickets[i].state in OPEN_STATES]
        handled = [i for i in live if self.model.tickets[i].state != "waiting"]
        return data.draw(st.sampled_from([*handled, *handled, *live, *live, *every, "t9999"]))

    def _reservation(self, data: st.DataObject) -> str:
        every = sorted(self.model.reservations)
        live = [i for i in every if self.model.reservations[i].active(self.now)]
        return data.draw(st.sampled_from([*live, *live, *live, *every, "r9999"]))

    def _slot(self, data: st.DataObject) -> Slot:
        """One of the next few slots, a slot some reservation names, or one already begun."""
        today = datetime.fromtimestamp(self.now / 1000, ZONE).date()
        every = {s.id: s for d in range(-1, 4) for s in _slots(today + timedelta(days=d))}
        upcoming = [s for s in every.values() if s.start_ms > self.now][:8]
        named = [every[r.slot] for r in self.model.reservations.values() if r.slot in every]
        begun = [s for s in every.values() if s.start_ms <= self.now][-1:]
        return data.draw(st.sampled_from([*upcoming, *upcoming, *named, *begun]))

    # -- the rules -------------------------------------------------------------------------------

    @initialize(
        start=st.sampled_from(STARTS),
        ms=st.integers(0, 999),
        absent=st.lists(st.sampled_from(DOCTORS), unique=True, max_size=2),
        waiting=st.lists(
            st.tuples(st.sampled_from(SERVICES), st.sampled_from(PRIORITIES)), max_size=8
        ),
    )
    def open_clinic(
        self, start: datetime, ms: int, absent: list[str], waiting: list[tuple[str, str]]
    ) -> None:
        """Set the clock, put most doctors on duty in their own cabinets, and queue a few."""
        self.now = int(start.timestamp() * 1000) + ms
        for doctor in DOCTORS:
            if doctor not in absent:
                self._both(SetDuty(doctor, "on_duty"))
        for service, priority in waiting:
            self._both(Issue(service, priority=priority))

    @rule(
        service=st.sampled_from(SERVICES),
        priority=st.sampled_from(PRIORITIES),
        channel=st.sampled_from(["kiosk", "registrar"]),
    )
    def issue(self, service: str, priority: str, channel: str) -> None:
        self._both(Issue(service, priority=priority, channel=channel))

    @rule(data=st.data(), actor=st.one_of(st.none(), st.none(), st.sampled_from(DOCTORS)))
    def call_next(self, data: st.DataObject, actor: str | None) -> None:
        held = sorted(
            d.cabinet for d in self.model.doctors.values() if d.status != "off" and d.cabinet
        )
        cabinet = data.draw(st.sampled_from([*held, *held, *CABINETS, "999"]))
        self._both(CallNext(cabinet, actor=actor))

    @precondition(lambda self: self.model.tickets)
    @rule(
        data=st.data(),
        action=st.sampled_from(ACTIONS),
        to_service=st.one_of(st.none(), st.sampled_from(SERVICES)),
        actor=st.one_of(st.none(), st.none(), st.sampled_from(DOCTORS)),
        reason=st.sampled_from(("", *CANCEL_REASONS)),  # the desk's: kept in a cancel's event
    )
    def act(
        self,
        data: st.DataObject,
        action: str,
        to_service: str | None,
        actor: str | None,
        reason: str,
    ) -> None:
        ticket = self._ticket(data)
        known = self.model.tickets.get(ticket)
        legal = sorted(TRANSITIONS[State(known.state)].keys() & TICKET_ACTIONS) if known else []
        if legal and data.draw(st.integers(0, 3), label="legal") > 0:
            action = data.draw(st.sampled_from(legal), label="legal action")
        if actor is not None and data.draw(st.booleans()):
            own = self.model.tickets.get(ticket)
            actor = (own.doctor if own else None) or actor
        self._both(Act(ticket, action, to_service=to_service, actor=actor, reason=reason))

    @precondition(lambda self: any(d.current or d.suspended for d in self.model.doctors.values()))
    @rule(data=st.data(), as_doctor=st.booleans(), to_service=st.sampled_from(SERVICES))
    def doctor_works(self, data: st.DataObject, as_doctor: bool, to_service: str) -> None:
        """A doctor moves a patient in hand (or suspended) on by a move the table allows."""
        busy = [d for _, d in sorted(self.model.doctors.items()) if d.current or d.suspended]
        doctor = data.draw(st.sampled_from(busy))
        ticket = data.draw(st.sampled_from([*filter(None, [doctor.current]), *doctor.suspended]))
        state = State(self.model.tickets[ticket].state)
        action = data.draw(st.sampled_from(sorted(TRANSITIONS[state].keys() & TICKET_ACTIONS)))
        actor = doctor.id if as_doctor else None
        self._both(Act(ticket, action, to_service=to_service, actor=actor))

    @rule(
        doctor=st.sampled_from([*DOCTORS, "locum"]),
        status=st.sampled_from([None, "on_duty", "on_duty", "break", "off"]),
        cabinet=st.one_of(st.none(), st.sampled_from(CABINETS)),
        services=st.one_of(
            st.none(), st.lists(st.sampled_from(SERVICES), min_size=1, max_size=3, unique=True)
        ),
        against=st.sampled_from([None, None, 0, 0, -1, 1]),
    )
    def set_duty(
        self,
        doctor: str,
        status: str | None,
        cabinet: str | None,
        services: list[str] | None,
        against: int | None,
    ) -> None:
        """Mostly without If-Match; with it, against the current version or one off it."""
        known = self.model.doctors.get(doctor)
        version = known.version if known else 0
        if_match = None if against is None else max(0, version + against)
        chosen = tuple(services) if services is not None else None
        self._both(SetDuty(doctor, status, cabinet, chosen, if_match))

    @rule(
        data=st.data(),
        patient=st.sampled_from(["p1", "p2", "p3"]),
        owner=st.sampled_from(OWNERS),
        confirm=st.booleans(),
    )
    def reserve(self, data: st.DataObject, patient: str, owner: str, confirm: bool) -> None:
        self._both(Reserve(self._slot(data), patient, owner=owner, confirm=confirm))

    @precondition(_has_reservations)
    @rule(data=st.data(), owner=st.sampled_from(OWNERS))
    def confirm(self, data: st.DataObject, owner: str) -> None:
        self._both(Confirm(self._reservation(data), owner=owner))

    @precondition(_has_reservations)
    @rule(data=st.data(), owner=st.sampled_from(OWNERS), by_slot=st.booleans())
    def cancel(self, data: st.DataObject, owner: str, by_slot: bool) -> None:
        if by_slot:
            self._both(Cancel(slot=self._slot(data).id, owner=owner))
        else:
            self._both(Cancel(self._reservation(data), owner=owner))

    @precondition(_has_reservations)
    @rule(data=st.data(), owner=st.sampled_from(OWNERS))
    def move(self, data: st.DataObject, owner: str) -> None:
        self._both(Move(self._reservation(data), self._slot(data), owner=owner))

    @precondition(_has_reservations)
    @rule(data=st.data())
    def check_in(self, data: st.DataObject) -> None:
        self._both(CheckIn(self._reservation(data)))

    # -- the clock -------------------------------------------------------------------------------

    @rule(
        data=st.data(),
        how=st.sampled_from(["tick", "tick", "tick", "tick", "hold", "midnight", "slot"]),
        delta=st.sampled_from([-1, 0, 1, 60_000]),
    )
    def advance_clock(self, data: st.DataObject, how: str, delta: int) -> None:
        """A short step; or to around a hold's end, local midnight, or a reserved slot's start."""
        now = self.now
        if how == "tick":
            now += data.draw(st.integers(1, 900_000), label="ms")
        elif how == "hold":
            ends = [
                r.hold_until + delta
                for r in self.model.reservations.values()
                if r.state == "held" and r.hold_until and r.hold_until + delta > now
            ]
            now = data.draw(st.sampled_from(sorted(ends))) if ends else now + HOLD_MS + 1
        elif how == "midnight":
            now = day_bounds(now, CLINIC.timezone)[1] + delta
        else:
            starts = [r.slot_time + delta for r in self.model.reservations.values()]
            later = sorted(t for t in starts if t > now)
            if later:
                now = data.draw(st.sampled_from(later))
        self.now = max(now, self.now + 1)


def test_model_and_redis_agree(redis_url: str) -> None:
    """Random command sequences get the same answers and state from Lua and the pure model."""
    global _redis_url
    _redis_url = redis_url
    try:
        run_state_machine_as_test(
            ModelVsRedis,
            settings=settings(
                max_examples=300,
                stateful_step_count=50,
                deadline=None,
                suppress_health_check=[HealthCheck.too_slow],
            ),
        )
    finally:
        with redis.Redis.from_url(redis_url) as client:
            stale = list(client.scan_iter(match=keys.prefix(CLINIC_ID) + "*"))
            if stale:
                client.delete(*stale)
            client.srem("q:clinics", CLINIC_ID)
