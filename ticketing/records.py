"""What the engine keeps of printing, pure: job and printer records, and the ticket to print.

Records are shared by every engine worker (``records_redis``): a kiosk's print request reaches
one worker, its poll for the outcome or a reprint may reach another. A job's record carries the
ticket's print data, so any worker can print the same ticket again.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Final

import msgspec

from engine.api.views import TicketView
from engine.clinic import Clinic
from ticketing.layout import TicketPrint
from ticketing.status import NOT_READY, PrinterState

FINISHED: Final = frozenset({"printed", "unknown", "failed"})


class JobRecord(msgspec.Struct, frozen=True, kw_only=True):
    """A print job as every worker sees it; ``state`` is a ``spool.JobState`` value."""

    id: str
    clinic: str
    kiosk: str
    ticket: str  # the engine's ticket id
    state: str
    paper: TicketPrint  # what is printed, kept so that any worker can reprint it
    error: str | None = None
    printer_state: str | None = None
    attempts: int = 0
    reprint_of: str | None = None
    submitted_at: int = 0  # wall clock, ms
    finished_at: int | None = None

    @property
    def fallback(self) -> bool:
        """Nothing says the ticket came out of the printer: the kiosk shows it on screen.

        An unconfirmed job (``unknown``) counts as not printed: a patient without paper is
        worse off than one with two tickets."""
        return self.state in FINISHED and self.state != "printed"


class PrinterRecord(msgspec.Struct, frozen=True, kw_only=True):
    """A kiosk printer's last observed state (``status.PrinterState``), from whichever worker."""

    kiosk: str
    state: str = PrinterState.UNKNOWN.value
    message: str = ""
    at: int | None = None  # wall clock, ms; None: never observed


class Roll(msgspec.Struct, frozen=True, kw_only=True):
    """Tickets confirmed on a kiosk printer's current roll and on its previous one."""

    since: int = 0  # since the last roll change (a recovery from near end or paper out)
    last: int | None = None  # the previous roll's whole count; None before a first change

    @property
    def left(self) -> int | None:
        """About how many tickets the roll still has, judged by the previous roll."""
        return None if self.last is None or self.last <= 0 else max(0, self.last - self.since)


def alert_level(state: str) -> str | None:
    """``red`` when tickets cannot print, ``yellow`` when they soon may not or nobody can tell."""
    if state in NOT_READY:
        return "red"
    if state in (PrinterState.PAPER_NEAR_END, PrinterState.UNKNOWN):
        return "yellow"
    return None


def is_alert(record: PrinterRecord) -> bool:
    """A state worth the department head's attention.

    A printer never heard from is not one: silence at start-up is the normal state of printers
    that cannot answer status queries (file, CUPS, many cheap models). A printer that answered
    and then fell silent is.
    """
    return record.at is not None and alert_level(record.state) is not None


def ticket_print(clinic: Clinic, view: TicketView, status_url: str) -> TicketPrint:
    """The paper ticket: what the ticket's status page says, as it stands now."""
    booked = view.appointment
    return TicketPrint(
        clinic_name=clinic.name,
        number=view.number,
        service_name=view.service_name,
        cabinet=booked.cabinet if booked else view.cabinet,
        issued_at=datetime.fromisoformat(view.issued_at),
        tz=clinic.timezone,
        locale=clinic.locale,
        people_ahead=view.ahead if view.state == "waiting" else 0,
        expected_wait_minutes=view.expected_wait_minutes,
        status_url=status_url,
        appointment_at=datetime.fromisoformat(booked.time) if booked else None,
        doctor_name=booked.doctor_name if booked else None,
    )


def status_url(base_url: str, clinic: str, link: str) -> str:
    """The ticket's status page, the link in its QR code (the same page the kiosk's QR opens)."""
    return f"{base_url.rstrip('/')}/t/{clinic}/{link}"


def job_view(record: JobRecord) -> dict[str, Any]:
    """A job as the API answers it; ``fallback`` tells the kiosk to keep the ticket on screen."""
    return {
        "id": record.id,
        "kiosk": record.kiosk,
        "ticket": record.ticket,
        "number": record.paper.number,
        "state": record.state,
        "done": record.state in FINISHED,
        "fallback": record.fallback,
        "error": record.error,
        "printer_state": record.printer_state,
        "attempts": record.attempts,
        "reprint_of": record.reprint_of,
    }


def printer_view(record: PrinterRecord, roll: Roll | None = None) -> dict[str, Any]:
    roll = roll or Roll()
    return {
        "kiosk": record.kiosk,
        "state": record.state,
        "level": alert_level(record.state) if record.at is not None else None,
        "message": record.message,
        "at": record.at,
        "printed_since_roll": roll.since,
        "left_estimate": roll.left,
    }
