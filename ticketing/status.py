"""Printer status from ESC/POS real-time replies (DLE EOT), pure.

A printer that does not answer is UNKNOWN, never "fine": python-escpos' ``paper_status`` reports
plenty of paper on silence, which would hide a printer that cannot tell us anything.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Final

from escpos.constants import RT_STATUS, RT_STATUS_ONLINE, RT_STATUS_PAPER

DLE_EOT_PRINTER: Final = RT_STATUS_ONLINE  # n=1: printer status (bit 3: offline)
DLE_EOT_OFFLINE: Final = RT_STATUS + b"\x02"  # n=2: offline cause (cover, error); escpos lacks it
DLE_EOT_PAPER: Final = RT_STATUS_PAPER  # n=4: roll paper sensor status

_FIXED_MASK: Final = 0x93  # bits 0, 1, 4, 7 are fixed in every status byte ...
_FIXED_BITS: Final = 0x12  # ... to 0, 1, 1, 0; anything else is not a status reply
_OFFLINE: Final = 0x08
_NEAR_END: Final = 0x0C
_PAPER_END: Final = 0x60
_COVER_OPEN: Final = 0x04  # DLE EOT 2, bit 2
_ERROR: Final = 0x40  # DLE EOT 2, bit 6: a cutter, head or other error stopped the printer


class PrinterState(StrEnum):
    OK = "ok"
    PAPER_NEAR_END = "paper_near_end"
    PAPER_OUT = "paper_out"
    OFFLINE = "offline"
    COVER_OPEN = "cover_open"
    UNKNOWN = "unknown"


class Paper(StrEnum):
    ADEQUATE = "adequate"
    NEAR_END = "near_end"
    OUT = "out"


class Cause(StrEnum):
    """Why a printer is offline (DLE EOT 2), when it says."""

    NONE = "none"
    COVER_OPEN = "cover_open"
    ERROR = "error"


# States in which a ticket must not be sent: the kiosk shows the number on screen instead.
NOT_READY: Final = frozenset(
    {PrinterState.PAPER_OUT, PrinterState.OFFLINE, PrinterState.COVER_OPEN}
)
# States read back after a job that confirm it was printed: the printer is fine and has paper.
CONFIRMS: Final = frozenset({PrinterState.OK, PrinterState.PAPER_NEAR_END})


def _status_byte(reply: bytes) -> int | None:
    # Real-time replies can follow stray bytes (e.g. an automatic status back): take the first
    # byte that has the fixed bit pattern.
    return next((b for b in reply if b & _FIXED_MASK == _FIXED_BITS), None)


def parse_online(reply: bytes) -> bool | None:
    """Online (True), offline (False) or no readable answer (None), from a DLE EOT 1 reply."""
    byte = _status_byte(reply)
    return None if byte is None else not byte & _OFFLINE


def parse_paper(reply: bytes) -> Paper | None:
    """The roll paper sensor from a DLE EOT 4 reply; None when there is no readable answer."""
    byte = _status_byte(reply)
    if byte is None:
        return None
    if byte & _PAPER_END:
        return Paper.OUT
    if byte & _NEAR_END:
        return Paper.NEAR_END
    return Paper.ADEQUATE


def parse_cause(reply: bytes) -> Cause | None:
    """The offline cause from a DLE EOT 2 reply; None when there is no readable answer."""
    byte = _status_byte(reply)
    if byte is None:
        return None
    if byte & _COVER_OPEN:
        return Cause.COVER_OPEN
    return Cause.ERROR if byte & _ERROR else Cause.NONE


def state_of(online: bool | None, paper: Paper | None, cause: Cause | None = None) -> PrinterState:
    """One printer state from the answers; silence to the first query is UNKNOWN."""
    if paper is Paper.OUT:
        return PrinterState.PAPER_OUT
    if online is None:
        return PrinterState.UNKNOWN
    if cause is Cause.COVER_OPEN:
        return PrinterState.COVER_OPEN
    if not online or cause is Cause.ERROR:
        return PrinterState.OFFLINE
    if paper is Paper.NEAR_END:
        return PrinterState.PAPER_NEAR_END
    return PrinterState.OK
