"""The paper ticket: a pure layout from ticket data to print operations, rendered to ESC/POS bytes.

``layout`` decides what goes on the ticket; ``render`` turns operations into bytes with
python-escpos' ``Dummy`` printer. Neither touches a device: adapters in ``printers`` send bytes.
"""

from __future__ import annotations

import contextlib
import io
import textwrap
from dataclasses import dataclass
from datetime import datetime
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from babel.dates import format_datetime
from escpos.constants import QR_ECLEVEL_M
from escpos.printer import Dummy

from ticketing import codepage as cp
from ticketing.errors import TicketDataError
from ticketing.messages import MESSAGES, message
from ticketing.printer_config import code_page

NUMBER_SIZE = 4  # character width and height multiplier for the ticket number (1-8)
QR_MODULE_DOTS = 6  # printer dots per QR module: about 5 mm wide codes on 203 dpi heads


@dataclass(frozen=True)
class TicketPrint:
    """Everything printed on one ticket."""

    clinic_name: str
    number: str
    service_name: str
    cabinet: str | None
    issued_at: datetime
    tz: str
    locale: str
    people_ahead: int
    expected_wait_minutes: int | None
    status_url: str
    # A checked-in booking: the appointment's time and doctor (its cabinet is ``cabinet``).
    appointment_at: datetime | None = None
    doctor_name: str | None = None

    def __post_init__(self) -> None:
        for moment in (self.issued_at, self.appointment_at):
            if moment is not None and (moment.tzinfo is None or moment.utcoffset() is None):
                raise TicketDataError("issued_at and appointment_at must be timezone-aware")
        if self.locale not in MESSAGES:
            raise TicketDataError(f"no ticket texts for locale {self.locale!r}")
        try:
            ZoneInfo(self.tz)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise TicketDataError(f"unknown time zone {self.tz!r}") from exc
        if self.people_ahead < 0:
            raise TicketDataError("people_ahead must not be negative")
        if not self.number or not self.status_url:
            raise TicketDataError("a ticket needs a number and a status link")


@dataclass(frozen=True)
class Align:
    align: Literal["left", "center", "right"]


@dataclass(frozen=True)
class Bold:
    on: bool


@dataclass(frozen=True)
class Text:
    """One paragraph, wrapped to the paper width when rendered."""

    text: str


@dataclass(frozen=True)
class Number:
    """The ticket number at ``size`` times the normal character width and height."""

    text: str
    size: int = NUMBER_SIZE


@dataclass(frozen=True)
class QR:
    data: str
    module: int = QR_MODULE_DOTS


@dataclass(frozen=True)
class Feed:
    lines: int = 1


@dataclass(frozen=True)
class Cut:
    partial: bool = False


Op = Align | Bold | Text | Number | QR | Feed | Cut


def issued_text(ticket: TicketPrint) -> str:
    """Date and time of issue in the clinic's zone and language."""
    local = ticket.issued_at.astimezone(ZoneInfo(ticket.tz))
    pattern = MESSAGES[ticket.locale]["datetime_pattern"]
    return format_datetime(local, pattern, locale=ticket.locale)


def time_text(ticket: TicketPrint, moment: datetime) -> str:
    """A time of day in the clinic's zone and language ("17:30")."""
    local = moment.astimezone(ZoneInfo(ticket.tz))
    pattern = MESSAGES[ticket.locale]["time_pattern"]
    return format_datetime(local, pattern, locale=ticket.locale)


def layout(ticket: TicketPrint) -> list[Op]:
    """The print operations for one ticket, top to bottom."""
    loc = ticket.locale
    booked = ticket.appointment_at
    ops: list[Op] = [Align("center"), Bold(True), Text(ticket.clinic_name), Bold(False), Feed()]
    ops += [Number(ticket.number), Feed(), Bold(True), Text(ticket.service_name)]
    if booked is not None:
        # What a booked patient came for: their time, and whom to see.
        ops.append(Text(message(loc, "appointment", time=time_text(ticket, booked))))
    ops.append(Bold(False))
    if ticket.doctor_name:
        ops.append(Text(message(loc, "doctor", doctor=ticket.doctor_name)))
    if ticket.cabinet:
        ops.append(Text(message(loc, "cabinet", cabinet=ticket.cabinet)))
    ops.append(Text(message(loc, "issued_at", when=issued_text(ticket))))
    if ticket.people_ahead:
        ops.append(Text(message(loc, "people_ahead", count=ticket.people_ahead)))
    elif booked is None:
        # A booked patient is called at their time: "nobody ahead" would promise a call now.
        ops.append(Text(message(loc, "people_ahead_none")))
    if ticket.expected_wait_minutes is not None:
        ops.append(Text(message(loc, "expected_wait", minutes=ticket.expected_wait_minutes)))
    ops += [Feed(), QR(ticket.status_url), Text(message(loc, "guidance")), Cut()]
    return ops


def printer_test_page(locale: str, url: str) -> list[Op]:
    """A short page that shows whether Cyrillic, large text, QR and the cutter work."""
    return [
        Align("center"),
        Bold(True),
        Text(message(locale, "test_page_title")),
        Bold(False),
        Number("Т-000"),
        Align("left"),
        Text(message(locale, "test_page_charset")),
        Align("center"),
        QR(url),
        Cut(),
    ]


def render(ops: list[Op], profile: str = "default", codepage: str | None = None) -> bytes:
    """ESC/POS bytes for ``ops`` on a printer of ``profile``, text in ``codepage``.

    The code page defaults to the best Cyrillic page the profile offers (CP866 on "default").
    """
    page = code_page(profile, codepage)  # PrinterConfigError
    printer = Dummy(profile=profile)
    columns = int(printer.profile.get_columns("a"))

    def line(text: str) -> None:
        # We encode ourselves: the escpos encoder would print "?" for what the page lacks.
        printer._raw(cp.encode(text, page) + b"\n")

    printer.hw("INIT")
    printer.charcode(page)  # ESC t n; sent after ESC @, which resets the page
    for op in ops:
        match op:
            case Align(align):
                printer.set(align=align)
            case Bold(on):
                printer.set(bold=on)
            case Text(text):
                for wrapped in textwrap.wrap(cp.fit(text, page), columns) or [""]:
                    line(wrapped)
            case Number(text, size):
                printer.set(custom_size=True, width=size, height=size)
                line(text)
                printer.set(custom_size=True, width=1, height=1)
            case QR(data, module):
                if printer.profile.supports("qrCode"):
                    printer.qr(data, ec=QR_ECLEVEL_M, size=module, native=True)
                    line("")
                else:
                    # escpos print()s a note about centring to stdout; keep the CLI output clean.
                    with contextlib.redirect_stdout(io.StringIO()):
                        printer.qr(data, ec=QR_ECLEVEL_M, size=module, native=False)
            case Feed(lines):
                printer._raw(b"\n" * lines)
            case Cut(partial):
                printer.cut(mode="PART" if partial else "FULL")
    return printer.output
