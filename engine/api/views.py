"""The JSON a client sees for a ticket or a reservation: public fields, local times.

Typed, so that the OpenAPI document describes exactly what the handlers send."""

from __future__ import annotations

import secrets
from typing import Annotated, Literal

import msgspec

from engine.clinic import Clinic
from engine.model.clock import to_local
from engine.model.entities import Reservation, Ticket
from engine.model.eta import booked_wait_minutes, expected_wait_minutes


class Appointment(msgspec.Struct):
    """A booked patient's appointment: when, with which doctor, in which cabinet."""

    time: str
    doctor: str
    doctor_name: str
    cabinet: str | None
    cabinet_name: str | None


class PublicTicketView(msgspec.Struct):
    """What the patient's status link shows to anyone who holds it: where they stand and, for a
    booked patient, their own appointment; never the priority category, the channel or the
    booking's reference."""

    id: str
    number: str
    service: str
    service_name: str
    state: str
    cabinet: str | None
    ahead: int
    expected_wait_minutes: int | None
    called_at: str | None
    recalls: int
    # Booked patients only; their expected wait runs to the slot, not through the walk-ins.
    appointment: Appointment | None


class TicketView(PublicTicketView, omit_defaults=True):
    """The staff's view: the public one, and how and when the ticket came."""

    issued_at: str
    priority: str | None
    channel: str
    slot_time: str | None
    # Only when the ticket is issued: the patient's status page, for the QR code.
    status_url: str | None = None


class ReservationView(msgspec.Struct, omit_defaults=True):
    id: str
    slot: str
    doctor: str
    service: str
    start: str
    state: str
    hold_until: str | None
    channel: str
    # The ticket's id once checked in; the whole ticket in the check-in's own answer.
    ticket: str | TicketView | None
    source: Annotated[
        Literal["live", "journal"],
        msgspec.Meta(
            description=(
                "where the answer was read: the live state, or the journal for a reservation"
                " the live state no longer holds (a past day's, dropped when the next day"
                " opened): its final state, for reading only"
            )
        ),
    ]


def ticket_view(
    clinic: Clinic,
    t: Ticket,
    ahead: int,
    rates: tuple[int, int, int] | None,
    *,
    now: int,
    cabinet: str | None = None,
) -> TicketView:
    """``rates`` are (served, seconds, doctors on duty) or None when unknown; ``cabinet`` is
    the booked doctor's cabinet in the live roster, if they have been on duty today."""
    service = clinic.service(t.service)
    waiting = t.state == "waiting"
    expected: int | None = None
    if waiting and t.slot_time is not None:
        served, seconds, _ = rates or (0, 0, 0)
        expected = booked_wait_minutes(t.slot_time, now, ahead, served, seconds)
    elif waiting and rates:
        expected = expected_wait_minutes(ahead, *rates)
    return TicketView(
        id=t.id,
        number=t.number,
        service=t.service,
        service_name=service.name if service else t.service,
        state=t.state,
        cabinet=t.cabinet,
        ahead=ahead,
        expected_wait_minutes=expected,
        issued_at=to_local(t.issued_at, clinic.timezone).isoformat(),
        called_at=to_local(t.called_at, clinic.timezone).isoformat() if t.called_at else None,
        priority=t.priority or None,
        channel=t.channel,
        recalls=t.recalls,
        slot_time=to_local(t.slot_time, clinic.timezone).isoformat() if t.slot_time else None,
        appointment=appointment(clinic, t, cabinet),
    )


def appointment(clinic: Clinic, t: Ticket, cabinet: str | None = None) -> Appointment | None:
    """A booked ticket's appointment; the cabinet is the live one, else the doctor's own."""
    if t.slot_time is None or t.doctor is None:
        return None
    doctor = clinic.doctor(t.doctor)
    # Once called, the patient goes where the call said, whatever the roster said before.
    room = t.cabinet or cabinet or (doctor.cabinet if doctor else None)
    found = clinic.cabinet(room) if room else None
    return Appointment(
        time=to_local(t.slot_time, clinic.timezone).isoformat(),
        doctor=t.doctor,
        doctor_name=doctor.name if doctor else t.doctor,
        cabinet=room,
        cabinet_name=found.name if found else room,
    )


def public_ticket_view(full: TicketView) -> PublicTicketView:
    public = msgspec.structs.fields(PublicTicketView)
    return PublicTicketView(**{f.name: getattr(full, f.name) for f in public})


def status_path(clinic_id: str, ticket: Ticket) -> str | None:
    """The patient's status page, where the QR code leads."""
    return f"/t/{clinic_id}/{ticket.link}" if ticket.link else None


def new_link() -> str:
    """A status link: 128 random bits, nothing to do with the ticket's id or number."""
    return secrets.token_urlsafe(16)


def reservation_view(
    clinic: Clinic, r: Reservation, now: int, source: Literal["live", "journal"] = "live"
) -> ReservationView:
    return ReservationView(
        id=r.id,
        slot=r.slot,
        doctor=r.doctor,
        service=r.service,
        start=to_local(r.slot_time, clinic.timezone).isoformat(),
        state=r.state_at(now),
        hold_until=to_local(r.hold_until, clinic.timezone).isoformat() if r.hold_until else None,
        channel=r.channel,
        ticket=r.ticket,
        source=source,
    )
