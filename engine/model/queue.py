"""The live-queue and roster rules: who is called next, what each action does to whom.

Every function takes the clinic's state, plain arguments and ``now`` (ms) and returns an
``Outcome``: the events it emitted (already applied to ``state``) and the answer for the caller.
The Lua scripts in ``engine/lua`` execute the same rules atomically inside Redis; a
property-based test keeps the two in step.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, TypeVar

import msgspec
from msgspec.structs import replace

from engine.model import events as ev
from engine.model.entities import DoctorDuty, Ticket
from engine.model.errors import DecisionError
from engine.model.state import ClinicState, apply
from engine.model.tickets import OPEN_STATES, Action, State, next_state

T = TypeVar("T")


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


def act(
    state: ClinicState,
    out: Outcome,
    now: int,
    day: str,
    *,
    ticket_id: str,
    action: str,
    max_recalls: int,
    to_service: str | None = None,
    actor: str | None = None,
) -> Outcome:
    """Apply a doctor's or registrar's action to one ticket (recall, start, ... transfer, cancel).

    ``actor`` is the acting doctor, checked here so that the check and the move are one step.
    What each action does is its handler's, in ``ACTIONS``.
    """
    open_day(state, out, now, day)
    ticket = state.tickets.get(ticket_id)
    if ticket is None:
        raise DecisionError("ticket_not_found", f"no ticket {ticket_id} today")
    if actor is not None and ticket.doctor != actor:
        raise DecisionError("not_yours", "a doctor acts only on their own patients")
    target = next_state(ticket.state, action)
    handler = ACTIONS.get(action)
    if handler is None:
        raise DecisionError("illegal_transition", f"{action} is not a ticket action")
    doctor = state.doctors.get(ticket.doctor) if ticket.doctor else None
    step = Step(state, out, now, ticket, doctor, target, max_recalls, to_service)
    out.result = {"ticket": handler(step)}
    return out


@dataclass(frozen=True, slots=True)
class Step:
    """One action on one ticket as its handler sees it, the table's target state included."""

    state: ClinicState
    out: Outcome
    now: int
    ticket: Ticket
    doctor: DoctorDuty | None
    target: State
    max_recalls: int
    to_service: str | None

    def emit(self, cls: type[Any], **fields: Any) -> None:
        self.out.emit(self.state, cls, self.now, **fields)


def _recall(s: Step) -> Ticket:
    if s.ticket.recalls >= s.max_recalls:
        ticket = replace(s.ticket, state=State.NO_SHOW, finished_at=s.now)
        s.emit(ev.TicketNoShow, ticket=ticket, doctor=_release(s.doctor, ticket.id))
        return ticket
    # A doctor moved since the call recalls the patient to where they are now.
    cabinet = s.doctor.cabinet if s.doctor is not None and s.doctor.cabinet else s.ticket.cabinet
    ticket = replace(s.ticket, recalls=s.ticket.recalls + 1, called_at=s.now, cabinet=cabinet)
    s.emit(ev.TicketRecalled, ticket=ticket)
    return ticket


def _start(s: Step) -> Ticket:
    ticket = replace(s.ticket, state=s.target, started_at=s.now)
    s.emit(ev.TicketStarted, ticket=ticket)
    return ticket


def _suspend(s: Step) -> Ticket:
    assert s.doctor is not None
    ticket = replace(s.ticket, state=s.target)
    doctor = replace(s.doctor, current=None, suspended=[*s.doctor.suspended, ticket.id])
    s.emit(ev.TicketSuspended, ticket=ticket, doctor=doctor)
    return ticket


def _resume(s: Step) -> Ticket:
    assert s.doctor is not None
    if s.doctor.current is not None:
        raise DecisionError("patient_in_hand", "finish the current patient before resuming")
    ticket = replace(s.ticket, state=s.target)
    suspended = [t for t in s.doctor.suspended if t != ticket.id]
    doctor = replace(s.doctor, current=ticket.id, suspended=suspended)
    s.emit(ev.TicketResumed, ticket=ticket, doctor=doctor)
    return ticket


def _complete(s: Step) -> Ticket:
    assert s.doctor is not None
    seconds = max(0, (s.now - (s.ticket.started_at or s.now)) // 1000)
    ticket = replace(s.ticket, state=s.target, finished_at=s.now)
    doctor = replace(
        s.doctor,
        current=None,
        served=s.doctor.served + 1,
        service_seconds=s.doctor.service_seconds + seconds,
    )
    s.emit(ev.TicketCompleted, ticket=ticket, doctor=doctor, service_seconds=seconds)
    return ticket


def _no_show(s: Step) -> Ticket:
    ticket = replace(s.ticket, state=s.target, finished_at=s.now)
    s.emit(ev.TicketNoShow, ticket=ticket, doctor=_release(s.doctor, ticket.id))
    return ticket


def _transfer(s: Step) -> Ticket:
    if not s.to_service:
        raise DecisionError("invalid", "transfer needs a service to move the ticket to")
    if s.to_service == s.ticket.service:
        raise DecisionError("same_service", "the ticket already waits for that service")
    ticket = replace(
        s.ticket,
        state=s.target,
        service=s.to_service,
        cabinet=None,
        doctor=None,
        recalls=0,
        called_at=None,
        started_at=None,
        slot_time=None,
    )
    s.emit(
        ev.TicketTransferred,
        ticket=ticket,
        from_service=s.ticket.service,
        doctor=_release(s.doctor, ticket.id),
    )
    return ticket


def _cancel(s: Step) -> Ticket:
    ticket = replace(s.ticket, state=s.target, finished_at=s.now)
    s.emit(ev.TicketCancelled, ticket=ticket, doctor=_release(s.doctor, ticket.id))
    return ticket


# One handler per ticket action; call and expire are the table's too, but not actions on a ticket.
ACTIONS: dict[str, Callable[[Step], Ticket]] = {
    Action.RECALL: _recall,
    Action.START: _start,
    Action.SUSPEND: _suspend,
    Action.RESUME: _resume,
    Action.COMPLETE: _complete,
    Action.NO_SHOW: _no_show,
    Action.TRANSFER: _transfer,
    Action.CANCEL: _cancel,
}


def _release(doctor: DoctorDuty | None, ticket_id: str) -> DoctorDuty | None:
    """The doctor once the ticket leaves their hand or suspended list (None: no change)."""
    if doctor is None or (doctor.current != ticket_id and ticket_id not in doctor.suspended):
        return None
    return msgspec.structs.replace(
        doctor,
        current=None if doctor.current == ticket_id else doctor.current,
        suspended=[t for t in doctor.suspended if t != ticket_id],
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
) -> Outcome:
    """Change a doctor's duty live. A patient in hand stays in hand wherever the doctor goes."""
    open_day(state, out, now, day)
    old = state.doctors.get(doctor_id) or DoctorDuty(
        id=doctor_id, cabinet=default_cabinet, services=list(default_services)
    )
    new = msgspec.structs.replace(
        old,
        status=status or old.status,
        cabinet=cabinet or old.cabinet,
        services=list(services) if services else old.services,
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
