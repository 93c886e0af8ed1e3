"""The live-queue and roster rules: taking a ticket, who is called next, doctors' duty.

Every function takes the clinic's state, plain arguments and ``now`` (ms) and returns an
``Outcome``: the events it emitted (already applied to ``state``) and the answer for the caller.
The Lua scripts in ``engine/lua`` execute the same rules atomically inside Redis; a
property-based test keeps the two in step. What each action does to a called ticket is
``ticket_actions.py``'s.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, TypeVar

import msgspec

from engine.model import events as ev
from engine.model.entities import DoctorDuty, Ticket
from engine.model.errors import DecisionError
from engine.model.state import ClinicState, apply
from engine.model.tickets import OPEN_STATES, Action, next_state

T = TypeVar("T")

# Which duty status a doctor may go to from each (generated into duty.lua): a break is taken
# from a shift, never from being off.
DUTY_MOVES: dict[str, tuple[str, ...]] = {
    "on_duty": ("on_duty", "break", "off"),
    "break": ("on_duty", "break", "off"),
    "off": ("on_duty", "off"),
}


@dataclass
class Outcome:
    events: list[ev.AnyEvent] = field(default_factory=list)
    result: dict[str, Any] = field(default_factory=dict)

    def emit(self, state: ClinicState, cls: type[Any], now: int, **fields: Any) -> Any:
        event = cls(offset=state.offset + 1, at=now, **fields)
        apply(state, event)
        self.events.append(event)
        return event


def open_day(state: ClinicState, out: Outcome, now: int, day: str) -> None:
    """At the first command of a new local day: expire what is still open, restart numbering.

    Days only move forward, so a worker whose clock lags a little past midnight changes nothing.
    """
    if day <= state.day:
        return
    expired = sorted(t.id for t in state.tickets.values() if t.state in OPEN_STATES)
    out.emit(state, ev.DayOpened, now, day=day, expired=expired)


def issue(
    state: ClinicState,
    out: Outcome,
    now: int,
    day: str,
    *,
    service: str,
    prefix: str,
    priority: str = "",
    channel: str = "kiosk",
    link: str = "",
) -> Outcome:
    """Take a ticket: the next number of the day for the service, and how many are ahead."""
    open_day(state, out, now, day)
    waiting = state.waiting(service)
    ahead = sum(1 for t in waiting if t.priority) if priority else len(waiting)
    seq = state.seq.get(service, 0) + 1
    ticket = Ticket(
        id=f"t{state.offset + 1}",
        number=f"{prefix}-{seq:03d}",
        service=service,
        state="waiting",
        arrival=state.arrival + 1,
        issued_at=now,
        day=state.day,
        seq=seq,
        priority=priority,
        channel=channel,
        link=link,
    )
    out.emit(state, ev.TicketIssued, now, ticket=ticket)
    out.result = {"ticket": ticket, "ahead": ahead, **_rates(state, service)}
    return out


def _rates(state: ClinicState, service: str) -> dict[str, int]:
    stats = state.stats.get(service)
    return {
        "served": stats.served if stats else 0,
        "seconds": stats.seconds if stats else 0,
        "on_duty": state.on_duty_for(service),
    }


def call_next(
    state: ClinicState,
    out: Outcome,
    now: int,
    day: str,
    *,
    cabinet: str,
    priority_run: int,
    actor: str | None = None,
) -> Outcome:
    """Call the next patient to a cabinet for the doctor on duty there.

    Booked patients who checked in are called once their slot time has come; then walk-ins by
    arrival, with priority categories taking at most ``priority_run`` calls in a row.
    """
    open_day(state, out, now, day)
    doctor = state.doctor_in(cabinet)
    if doctor is None:
        raise DecisionError("no_doctor_on_duty", f"no doctor is on duty in cabinet {cabinet}")
    if actor and actor != doctor.id:
        raise DecisionError("not_yours", "a doctor calls patients only to their own cabinet")
    if doctor.status != "on_duty":
        raise DecisionError("doctor_on_break", "the doctor in this cabinet is on a break")
    if doctor.current is not None:
        raise DecisionError(
            "patient_in_hand", "finish, suspend or mark the current patient before calling the next"
        )
    chosen, streak = _pick(state, doctor, now, priority_run)
    if chosen is None:
        out.result = {"ticket": None}
        return out
    ticket = msgspec.structs.replace(
        chosen,
        state=next_state(chosen.state, Action.CALL),
        cabinet=cabinet,
        doctor=doctor.id,
        recalls=0,
        called_at=now,
    )
    doctor = msgspec.structs.replace(doctor, current=ticket.id, streak=streak)
    out.emit(state, ev.TicketCalled, now, ticket=ticket, doctor=doctor)
    out.result = {"ticket": ticket}
    return out


def _pick(
    state: ClinicState, doctor: DoctorDuty, now: int, priority_run: int
) -> tuple[Ticket | None, int]:
    walk_ins = [t for s in doctor.services for t in state.waiting(s)]
    return choose_next(
        state.booked_waiting(doctor.id),
        walk_ins,
        now=now,
        streak=doctor.streak,
        priority_run=priority_run,
        slot=_slot_time,
        arrival=_by_arrival,
        priority=_has_priority,
    )


def choose_next(
    booked: Iterable[T],
    walk_ins: Iterable[T],
    *,
    now: float,
    streak: int,
    priority_run: int,
    slot: Callable[[T], float],
    arrival: Callable[[T], float],
    priority: Callable[[T], bool],
) -> tuple[T | None, int]:
    """Who a doctor calls next, and the doctor's priority streak after the call.

    A booked patient whose slot time has come goes first (earliest slot, then arrival); then the
    walk-in who came first, a priority category taking at most ``priority_run`` calls in a row.
    Nobody to call leaves the streak as it was. Any patient record will do: the simulator calls
    this with its own, through the ``slot``, ``arrival`` and ``priority`` accessors.
    """
    due = [b for b in booked if slot(b) <= now]
    if due:
        return min(due, key=lambda b: (slot(b), arrival(b))), streak
    candidates = list(walk_ins)
    first_priority = min((t for t in candidates if priority(t)), key=arrival, default=None)
    first_plain = min((t for t in candidates if not priority(t)), key=arrival, default=None)
    if first_priority is not None and (first_plain is None or streak < priority_run):
        return first_priority, streak + 1
    if first_plain is not None:
        return first_plain, 0
    return None, streak


def _by_arrival(ticket: Ticket) -> int:
    return ticket.arrival


def _slot_time(ticket: Ticket) -> int:
    return ticket.slot_time or 0


def _has_priority(ticket: Ticket) -> bool:
    return bool(ticket.priority)


def duty_of(
    state: ClinicState, doctor_id: str, default_cabinet: str | None, default_services: list[str]
) -> DoctorDuty:
    """A doctor's duty now: as last changed today, or, never changed, off in the configured
    cabinet and services (``duty.lua`` starts from the same default)."""
    return state.doctors.get(doctor_id) or DoctorDuty(
        id=doctor_id, cabinet=default_cabinet, services=list(default_services)
    )


def set_duty(
    state: ClinicState,
    out: Outcome,
    now: int,
    day: str,
    *,
    doctor_id: str,
    status: str | None,
    cabinet: str | None,
    services: list[str] | None,
    default_cabinet: str | None,
    default_services: list[str],
    if_match: int | None = None,
) -> Outcome:
    """Change a doctor's duty live. A patient in hand stays in hand wherever the doctor goes.

    ``if_match`` is the duty version the change was made against: another version refuses it,
    so that nobody undoes a change they have not seen. Every accepted change is a new version.
    """
    open_day(state, out, now, day)
    old = duty_of(state, doctor_id, default_cabinet, default_services)
    if if_match is not None and if_match != old.version:
        raise DecisionError(
            "stale_duty",
            f"the doctor's duty changed since version {if_match}: it is now {old.version}",
        )
    if status and status not in DUTY_MOVES[old.status]:
        raise DecisionError(
            "illegal_duty_transition", f"a doctor who is {old.status} cannot go to {status}"
        )
    new = msgspec.structs.replace(
        old,
        status=status or old.status,
        cabinet=cabinet or old.cabinet,
        services=list(services) if services else old.services,
        version=old.version + 1,
    )
    if new.status != "off":
        if new.cabinet is None:
            raise DecisionError("invalid", "a doctor on duty needs a cabinet")
        holder = state.doctor_in(new.cabinet)
        if holder is not None and holder.id != doctor_id:
            raise DecisionError(
                "cabinet_occupied", f"cabinet {new.cabinet} is held by another doctor"
            )
    if new.status != old.status:
        new = msgspec.structs.replace(new, since=now)
    out.emit(state, ev.DutyChanged, now, doctor=new)
    out.result = {"doctor": new}
    return out


def run(rule: Any, state: ClinicState, *args: Any, **kwargs: Any) -> Outcome:
    """Run a rule; on refusal the error carries the events emitted before it (a day rollover)."""
    out = Outcome()
    try:
        return rule(state, out, *args, **kwargs)
    except DecisionError as exc:
        exc.events = list(out.events)
        raise
