"""What each action does to a ticket and its doctor: recall, start, ... transfer, cancel.

``act`` checks the ticket, the actor and the lifecycle table (``tickets.py``), then hands the
move to the action's handler in ``ACTIONS``; ``engine/lua/act.lua`` mirrors that table.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from msgspec.structs import replace

from engine.model import events as ev
from engine.model.entities import DoctorDuty, Ticket
from engine.model.errors import DecisionError
from engine.model.queue import Outcome, open_day
from engine.model.state import ClinicState
from engine.model.tickets import Action, State, next_state


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
    reason: str = "",
) -> Outcome:
    """Apply a doctor's or registrar's action to one ticket (recall, start, ... transfer, cancel).

    ``actor`` is the acting doctor, checked here so that the check and the move are one step;
    ``reason`` a cancellation's (one of ``tickets.CANCEL_REASONS``, or empty), kept in its event.
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
    step = Step(state, out, now, ticket, doctor, target, max_recalls, to_service, reason)
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
    reason: str = ""

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
    s.emit(ev.TicketCancelled, ticket=ticket, doctor=_release(s.doctor, ticket.id), reason=s.reason)
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
    return replace(
        doctor,
        current=None if doctor.current == ticket_id else doctor.current,
        suspended=[t for t in doctor.suspended if t != ticket_id],
    )
