"""Errors the ticketing package raises.

TicketingError              base of everything below
├── TicketDataError         a ticket the layout cannot print (naive time, unknown locale, ...)
├── PrinterConfigError      bad printer URL, profile or code page; missing driver extra
├── PrinterError            I/O with a printer failed: refused, timed out, dropped mid-job
│   └── PrinterNotReady     the printer answered and is offline or out of paper
└── SpoolError              unknown printer or job, illegal job transition
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ticketing.status import PrinterState


class TicketingError(Exception):
    """Base error of the ticketing package."""


class TicketDataError(TicketingError, ValueError):
    """The ticket data cannot be laid out."""


class PrinterConfigError(TicketingError, ValueError):
    """A printer is configured wrongly or its driver is not installed."""


class PrinterError(TicketingError):
    """Talking to a printer failed; worth a retry.

    ``sent``: the ticket's bytes were (perhaps partly) written before it failed, so paper may
    have come out; such a job is unconfirmed rather than failed.
    """

    def __init__(self, message: str, *, sent: bool = False) -> None:
        super().__init__(message)
        self.sent = sent


class PrinterNotReady(PrinterError):
    """The printer said it cannot print now; a retry within seconds will not help."""

    def __init__(self, message: str, state: PrinterState) -> None:
        super().__init__(message)
        self.state = state


class SpoolError(TicketingError):
    """Misuse of the spool: unknown printer or job, or an illegal job transition."""
