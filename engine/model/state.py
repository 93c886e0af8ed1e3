"""A clinic's whole live state as plain data, and ``apply``: how one event changes it.

This is what Redis holds for a clinic, in the shape the pure rules and the tests read. Rebuilding
a clinic after Redis lost it is ``fold(journal events)``; comparing Redis with the pure model is
comparing two ``ClinicState`` values.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from engine.model import events as ev
from engine.model.entities import Call, DoctorDuty, Reservation, Ticket
from engine.model.reservations import HOLDS_SLOT

CALLS_KEPT = 20


@dataclass
class ServiceStats:
    served: int = 0
    seconds: int = 0


@dataclass
class ClinicState:
    day: str = ""
    offset: int = 0
    arrival: int = 0
    seq: dict[str, int] = field(default_factory=dict)
    tickets: dict[str, Ticket] = field(default_factory=dict)
    doctors: dict[str, DoctorDuty] = field(default_factory=dict)
    reservations: dict[str, Reservation] = field(default_factory=dict)
    slots: dict[str, str] = field(default_factory=dict)  # slot id -> reservation id holding it
    calls: list[Call] = field(default_factory=list)  # newest first
    stats: dict[str, ServiceStats] = field(default_factory=dict)

    def doctor_in(self, cabinet: str) -> DoctorDuty | None:
        """The doctor holding a cabinet (on duty or on a break there)."""
        return next(
            (d for d in self.doctors.values() if d.cabinet == cabinet and d.status != "off"), None
        )

    def on_duty_for(self, service: str) -> int:
        return sum(
            1 for d in self.doctors.values() if d.status == "on_duty" and service in d.services
        )

    def waiting(self, service: str) -> list[Ticket]:
        """Walk-in tickets waiting for a service, in arrival order (booked ones wait apart)."""
        found = [
            t
            for t in self.tickets.values()
            if t.service == service and t.state == "waiting" and t.slot_time is None
        ]
        return sorted(found, key=lambda t: t.arrival)

    def booked_waiting(self, doctor: str) -> list[Ticket]:
        found = [
            t
            for t in self.tickets.values()
            if t.doctor == doctor and t.state == "waiting" and t.slot_time is not None
        ]
        return sorted(found, key=lambda t: (t.slot_time or 0, t.arrival))


def slot_day(slot_id: str) -> str:
    """The day of a slot id (``ivanova.20261126.0815``) as ``2026-11-26``."""
    ymd = slot_id.split(".")[1]
    return f"{ymd[:4]}-{ymd[4:6]}-{ymd[6:8]}"


def forget_past_bookings(state: ClinicState, day: str) -> None:
    """A new day drops the bookings of the days before it from the live state (the journal keeps
    them), so that it holds the booking window's and not every day's since the clinic opened.
    ``open_day`` in ``_lib.lua`` does the same."""
    for rid, reservation in list(state.reservations.items()):
        if slot_day(reservation.slot) < day:
            del state.reservations[rid]
    for slot_id in [s for s in state.slots if slot_day(s) < day]:
        del state.slots[slot_id]


def apply(state: ClinicState, event: ev.AnyEvent) -> None:
    """Fold one event into the state. Snapshots overwrite; a few events also move counters."""
    state.offset = max(state.offset, event.offset)
    match event:
        case ev.DayOpened(day=day):
            state.day = day
            state.seq.clear()
            state.tickets.clear()
            state.calls.clear()
            state.stats.clear()
            forget_past_bookings(state, day)
            for doctor_id, doctor in list(state.doctors.items()):
                state.doctors[doctor_id] = DoctorDuty(
                    id=doctor.id,
                    status=doctor.status,
                    cabinet=doctor.cabinet,
                    services=doctor.services,
                    since=doctor.since,
                    version=doctor.version,
                )
            return
        case ev.TicketIssued(ticket=ticket) | ev.CheckedIn(ticket=ticket):
            state.seq[ticket.service] = max(state.seq.get(ticket.service, 0), ticket.seq)
            state.arrival = max(state.arrival, ticket.arrival)
        case ev.TicketCalled(ticket=ticket) | ev.TicketRecalled(ticket=ticket):
            # One ticket is one line on the screens: a recall (or a call after a transfer)
            # replaces the ticket's line and moves it to the top.
            call = Call(ticket.id, ticket.number, ticket.cabinet or "", event.at, ticket.recalls)
            state.calls[:] = [call, *(c for c in state.calls if c.ticket != ticket.id)]
            del state.calls[CALLS_KEPT:]
        case ev.TicketCompleted(ticket=ticket, service_seconds=seconds):
            stats = state.stats.setdefault(ticket.service, ServiceStats())
            stats.served += 1
            stats.seconds += seconds
    for name in ("ticket", "doctor", "reservation", "expired"):
        snapshot = getattr(event, name, None)
        if isinstance(snapshot, Ticket):
            state.tickets[snapshot.id] = snapshot
        elif isinstance(snapshot, DoctorDuty):
            state.doctors[snapshot.id] = snapshot
        elif isinstance(snapshot, Reservation):
            _put_reservation(state, snapshot)


def _put_reservation(state: ClinicState, reservation: Reservation) -> None:
    old = state.reservations.get(reservation.id)
    if old is not None and state.slots.get(old.slot) == old.id:
        del state.slots[old.slot]
    state.reservations[reservation.id] = reservation
    if reservation.state in HOLDS_SLOT:
        state.slots[reservation.slot] = reservation.id


def fold(events: list[ev.AnyEvent], state: ClinicState | None = None) -> ClinicState:
    state = state or ClinicState()
    for event in events:
        apply(state, event)
    return state
