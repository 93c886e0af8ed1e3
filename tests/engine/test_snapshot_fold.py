"""A snapshot plus the journal's tail folds to exactly the state the full journal folds to."""

from __future__ import annotations

import asyncio
from datetime import datetime
from zoneinfo import ZoneInfo

import msgspec
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine.clinic import DEMO_CLINICS, load_clinics
from engine.commands import Act, CallNext, Cancel, Command, Issue, Reserve, SetDuty, run_pure
from engine.model import events as ev
from engine.model.booking import slots_for
from engine.model.clock import service_day
from engine.model.errors import DecisionError
from engine.model.state import ClinicState, fold
from engine.model.tickets import TICKET_ACTIONS
from engine.snapshots_postgres import fold_bodies

CLINIC = load_clinics(DEMO_CLINICS)[0]
ZONE = ZoneInfo(CLINIC.timezone)
START = int(datetime(2026, 11, 20, 22, 30, tzinfo=ZONE).timestamp() * 1000)  # before midnight
SERVICES = [s.id for s in CLINIC.services]
CABINETS = [c.id for c in CLINIC.cabinets]
DOCTORS = [d.id for d in CLINIC.doctors]

step = st.one_of(
    st.tuples(st.just("issue"), st.sampled_from(SERVICES), st.sampled_from(["", "veteran"])),
    st.tuples(st.just("call"), st.sampled_from(CABINETS), st.none()),
    st.tuples(st.just("act"), st.integers(0, 40), st.sampled_from(sorted(TICKET_ACTIONS))),
    st.tuples(
        st.just("duty"), st.sampled_from(DOCTORS), st.sampled_from(["on_duty", "break", "off"])
    ),
    st.tuples(st.just("reserve"), st.integers(0, 30), st.sampled_from(["П-1", "Пётр 🙂"])),
    st.tuples(st.just("cancel"), st.integers(0, 10), st.none()),
    # Minutes forward: a few, or past local midnight.
    st.tuples(st.just("wait"), st.sampled_from([1, 7, 45, 300, 24 * 60]), st.none()),
)


def _history(steps: list[tuple[str, object, object]]) -> tuple[list[str], ClinicState]:
    """Run random commands on the pure model; return every event body and the model's state."""
    state, now, bodies = ClinicState(), START, []
    for kind, a, b in steps:
        if kind == "wait":
            now += int(a) * 60_000  # type: ignore[call-overload]
            continue
        day = service_day(now, CLINIC.timezone)
        tickets = sorted(state.tickets)
        cmd: Command | None = None
        if kind == "issue":
            cmd = Issue(str(a), str(b))
        elif kind == "call":
            cmd = CallNext(str(a))
        elif kind == "act" and tickets:
            cmd = Act(tickets[int(a) % len(tickets)], str(b))  # type: ignore[call-overload]
        elif kind == "duty":
            cmd = SetDuty(str(a), status=str(b))
        elif kind == "reserve":
            slots = slots_for(CLINIC, datetime.fromtimestamp(now / 1000, ZONE).date())
            if slots:
                cmd = Reserve(slots[int(a) % len(slots)], str(b), confirm=True)  # type: ignore[call-overload]
        elif kind == "cancel" and state.reservations:
            rids = sorted(state.reservations)
            cmd = Cancel(reservation=rids[int(a) % len(rids)])  # type: ignore[call-overload]
        if cmd is None:
            continue
        try:
            events = run_pure(state, cmd, CLINIC, now, day, 300_000).events
        except DecisionError as refused:
            events = refused.events
        bodies += [ev.encode_event(e).decode() for e in events]
    return bodies, state


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(steps=st.lists(step, min_size=1, max_size=60), split=st.floats(0, 1))
def test_snapshot_plus_tail_equals_the_full_fold(
    steps: list[tuple[str, object, object]], split: float
) -> None:
    """At any offset: fold the head, store it as a snapshot's bytes, fold the tail onto what
    the bytes decode to: the same state as folding everything, and as the model itself."""
    bodies, model = _history(steps)
    full = fold([ev.decode_event(b) for b in bodies])
    assert full == model
    cut = int(split * len(bodies))
    head = fold([ev.decode_event(b) for b in bodies[:cut]])
    stored = msgspec.json.decode(msgspec.json.encode(head), type=ClinicState)
    after = head.offset
    # A rebuild reads a little before the snapshot (the stream's tail); those are skipped.
    rebuilt = asyncio.run(fold_bodies(bodies[max(0, cut - 5) :], stored, after))
    assert rebuilt == full
