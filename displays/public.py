"""What a screen may see: engine events and boards cut down to public fields. Pure.

Screens hang in waiting rooms and status pages open on patients' phones, so the push protocol
carries no patient data: a ticket is its opaque id, number, service, state and cabinet; a doctor
is an id, a status, a cabinet and services. Reservation events (patient names, booking
channels) keep only their kind and offset, so that offsets stay contiguous for gap detection.
"""

from __future__ import annotations

from typing import Any

from engine.model import events as ev
from engine.model.entities import DoctorDuty, Ticket
from engine.model.state import ClinicState


def public_ticket(t: Ticket) -> dict[str, Any]:
    # The priority category (veteran, disabled, pregnant...) and the reservation are personal.
    out: dict[str, Any] = {"id": t.id, "number": t.number, "service": t.service, "state": t.state}
    if t.cabinet:
        out["cabinet"] = t.cabinet
    if t.recalls:
        out["recalls"] = t.recalls
    return out


def public_doctor(d: DoctorDuty) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": d.id,
        "status": d.status,
        "cabinet": d.cabinet,
        "services": list(d.services),
    }
    if d.version:
        out["version"] = d.version  # the dashboard's If-Match for its next duty change
    return out


def public_event(event: ev.AnyEvent) -> dict[str, Any]:
    """The screen's view of one event: kind and time, plus the public part of its snapshots."""
    out: dict[str, Any] = {"kind": ev.kind_of(event), "at": event.at}
    match event:
        case ev.DayOpened(day=day):
            out["day"] = day
        case ev.TicketTransferred(from_service=from_service):
            out["from_service"] = from_service
    ticket = getattr(event, "ticket", None)
    if isinstance(ticket, Ticket):
        out["ticket"] = public_ticket(ticket)
    doctor = getattr(event, "doctor", None)
    if isinstance(doctor, DoctorDuty):
        out["doctor"] = public_doctor(doctor)
    return out


def suspended_tickets(state: ClinicState) -> dict[str, list[dict[str, str]]]:
    """Per doctor, the suspended tickets' ids and numbers: the doctor panel resumes them by id."""
    return {
        d.id: [
            {"id": t, "number": state.tickets[t].number} for t in d.suspended if t in state.tickets
        ]
        for d in state.doctors.values()
    }
