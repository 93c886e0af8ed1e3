"""Every change the engine makes is one of these events, with the clinic's offset.

The same event is returned by a Lua script, journaled in PostgreSQL, appended to the clinic's
Redis stream for the screens, folded by ``state.apply`` when a clinic is rebuilt, and asserted in
the tests. Snapshots carry the whole new state of what changed so that replay needs no rules.
"""

from __future__ import annotations

import hashlib

import msgspec

from engine.model.entities import DoctorDuty, Reservation, Ticket


class Event(msgspec.Struct, frozen=True, tag_field="kind", omit_defaults=True):
    offset: int
    at: int


class DayOpened(Event, frozen=True, tag="day_opened"):
    day: str
    expired: list[str] = msgspec.field(default_factory=list)


class TicketIssued(Event, frozen=True, tag="ticket_issued"):
    ticket: Ticket


class TicketCalled(Event, frozen=True, tag="ticket_called"):
    ticket: Ticket
    doctor: DoctorDuty


class TicketRecalled(Event, frozen=True, tag="ticket_recalled"):
    ticket: Ticket


class TicketStarted(Event, frozen=True, tag="ticket_started"):
    ticket: Ticket


class TicketSuspended(Event, frozen=True, tag="ticket_suspended"):
    ticket: Ticket
    doctor: DoctorDuty


class TicketResumed(Event, frozen=True, tag="ticket_resumed"):
    ticket: Ticket
    doctor: DoctorDuty


class TicketCompleted(Event, frozen=True, tag="ticket_completed"):
    ticket: Ticket
    doctor: DoctorDuty
    service_seconds: int


class TicketNoShow(Event, frozen=True, tag="ticket_no_show"):
    ticket: Ticket
    doctor: DoctorDuty | None = None


class TicketTransferred(Event, frozen=True, tag="ticket_transferred"):
    ticket: Ticket
    from_service: str
    doctor: DoctorDuty | None = None


class TicketCancelled(Event, frozen=True, tag="ticket_cancelled"):
    ticket: Ticket
    doctor: DoctorDuty | None = None
    # Why the desk cancelled it (tickets.CANCEL_REASONS); empty when nobody said.
    reason: str = ""


class DutyChanged(Event, frozen=True, tag="duty_changed"):
    doctor: DoctorDuty


class SlotReserved(Event, frozen=True, tag="slot_reserved"):
    reservation: Reservation
    expired: Reservation | None = None


class ReservationConfirmed(Event, frozen=True, tag="reservation_confirmed"):
    reservation: Reservation


class ReservationCancelled(Event, frozen=True, tag="reservation_cancelled"):
    reservation: Reservation


class ReservationMoved(Event, frozen=True, tag="reservation_moved"):
    reservation: Reservation
    from_slot: str
    expired: Reservation | None = None


class CheckedIn(Event, frozen=True, tag="checked_in"):
    reservation: Reservation
    ticket: Ticket


AnyEvent = (
    DayOpened
    | TicketIssued
    | TicketCalled
    | TicketRecalled
    | TicketStarted
    | TicketSuspended
    | TicketResumed
    | TicketCompleted
    | TicketNoShow
    | TicketTransferred
    | TicketCancelled
    | DutyChanged
    | SlotReserved
    | ReservationConfirmed
    | ReservationCancelled
    | ReservationMoved
    | CheckedIn
)

_decoder = msgspec.json.Decoder(AnyEvent)
_list_decoder = msgspec.json.Decoder(list[AnyEvent])
_encoder = msgspec.json.Encoder()


def decode_event(raw: bytes | str) -> AnyEvent:
    return _decoder.decode(raw)


def decode_events(raw: bytes | str) -> list[AnyEvent]:
    return _list_decoder.decode(raw)


def encode_event(event: Event) -> bytes:
    return _encoder.encode(event)


def kind_of(event: Event) -> str:
    """An event's kind, as journaled and shown on screens: its tag (``ticket_issued``)."""
    return str(type(event).__struct_config__.tag)


def link_of(body: str) -> str:
    """An event's link: the SHA-1 of its body, as Lua's ``redis.sha1hex`` computes it. Each
    event is decided after the one whose link it carries (the journal's fence)."""
    return hashlib.sha1(body.encode()).hexdigest()
