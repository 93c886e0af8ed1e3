"""The JSON a client sees for a ticket or a reservation: public fields, local times."""

from __future__ import annotations

from typing import Any

from engine.clinic import Clinic
from engine.model.clock import to_local
from engine.model.entities import Reservation, Ticket
from engine.model.eta import expected_wait_minutes


def ticket_view(
    clinic: Clinic, t: Ticket, ahead: int, rates: tuple[int, int, int] | None
) -> dict[str, Any]:
    service = clinic.service(t.service)
    expected = expected_wait_minutes(ahead, *rates) if rates and t.state == "waiting" else None
    return {
        "id": t.id,
        "number": t.number,
        "service": t.service,
        "service_name": service.name if service else t.service,
        "state": t.state,
        "cabinet": t.cabinet,
        "ahead": ahead,
        "expected_wait_minutes": expected,
        "issued_at": to_local(t.issued_at, clinic.timezone).isoformat(),
        "called_at": to_local(t.called_at, clinic.timezone).isoformat() if t.called_at else None,
        "priority": t.priority or None,
        "channel": t.channel,
        "recalls": t.recalls,
        "slot_time": to_local(t.slot_time, clinic.timezone).isoformat() if t.slot_time else None,
    }


def reservation_view(clinic: Clinic, r: Reservation, now: int) -> dict[str, Any]:
    return {
        "id": r.id,
        "slot": r.slot,
        "doctor": r.doctor,
        "service": r.service,
        "start": to_local(r.slot_time, clinic.timezone).isoformat(),
        "state": r.state_at(now),
        "hold_until": to_local(r.hold_until, clinic.timezone).isoformat() if r.hold_until else None,
        "channel": r.channel,
        "ticket": r.ticket,
    }
