"""The JSON a client sees for a ticket or a reservation: public fields, local times.

Typed, so that the OpenAPI document describes exactly what the handlers send."""

from __future__ import annotations

import secrets

import msgspec

from engine.clinic import Clinic
from engine.model.clock import to_local
from engine.model.entities import Reservation, Ticket
from engine.model.eta import expected_wait_minutes


class PublicTicketView(msgspec.Struct):
    """What the patient's status link shows to anyone who holds it: where they stand, never
    the priority category, the channel or the booking."""

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


def ticket_view(
    clinic: Clinic, t: Ticket, ahead: int, rates: tuple[int, int, int] | None
) -> TicketView:
    service = clinic.service(t.service)
    expected = expected_wait_minutes(ahead, *rates) if rates and t.state == "waiting" else None
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


def reservation_view(clinic: Clinic, r: Reservation, now: int) -> ReservationView:
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
    )
