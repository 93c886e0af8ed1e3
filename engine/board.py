"""The board: what a screen or dashboard starts from, built purely from a clinic's state.

Only numbers, cabinets, counts and doctors' duty appear here: never a patient's name, phone or
booking reference.
"""

from __future__ import annotations

from typing import Any

from engine.clinic import Clinic
from engine.model.eta import expected_wait_minutes
from engine.model.state import ClinicState


def board(clinic: Clinic, state: ClinicState, *, epoch: str, now: int) -> dict[str, Any]:
    queues = []
    for service in clinic.services:
        waiting = state.waiting(service.id)
        stats = state.stats.get(service.id)
        served, seconds = (stats.served, stats.seconds) if stats else (0, 0)
        on_duty = state.on_duty_for(service.id)
        longest = max(((now - t.issued_at) // 60000 for t in waiting), default=0)
        expected = expected_wait_minutes(len(waiting), served, seconds, on_duty)
        # Patients waiting and nobody to call them: the worst state, whatever the minutes say.
        unstaffed = bool(waiting) and on_duty == 0
        queues.append(
            {
                "service": service.id,
                "name": service.name,
                "prefix": service.prefix,
                "waiting": len(waiting),
                "on_duty": on_duty,
                "longest_wait_minutes": longest,
                "expected_wait_minutes": expected,
                "level": "red" if unstaffed else _level(clinic, max(longest, expected or 0)),
                "unstaffed": unstaffed,
            }
        )
    doctors = []
    for config in clinic.doctors:
        duty = state.doctors.get(config.id)
        current = state.tickets.get(duty.current) if duty and duty.current else None
        suspended = [
            state.tickets[t].number for t in (duty.suspended if duty else []) if t in state.tickets
        ]
        doctors.append(
            {
                "id": config.id,
                "name": config.name,
                "status": duty.status if duty else "off",
                "cabinet": (duty.cabinet if duty else None) or config.cabinet,
                "services": duty.services if duty else config.services,
                "current": current.number if current else None,
                "current_ticket": current.id if current else None,
                "current_state": current.state if current else None,
                "suspended": suspended,
                "served": duty.served if duty else 0,
                "mean_service_minutes": round(duty.service_seconds / duty.served / 60, 1)
                if duty and duty.served
                else None,
                "since": duty.since if duty else None,
                "version": duty.version if duty else 0,  # the If-Match of a duty change
            }
        )
    return {
        "clinic": clinic.id,
        "name": clinic.name,
        "locale": clinic.locale,
        "offset": state.offset,
        "epoch": epoch,
        "day": state.day,
        "calls": [
            {"number": c.number, "cabinet": c.cabinet, "at": c.at, "recall": c.recall}
            for c in state.calls
        ],
        "queues": queues,
        "doctors": doctors,
    }


def _level(clinic: Clinic, minutes: int) -> str:
    if minutes >= clinic.policy.red_wait_minutes:
        return "red"
    if minutes >= clinic.policy.yellow_wait_minutes:
        return "yellow"
    return "green"
