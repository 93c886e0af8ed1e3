"""Printer status from ESC/POS real-time replies (DLE EOT), pure.

A printer that does not answer is UNKNOWN, never "fine": python-escpos' ``paper_status`` reports
plenty of paper on silence, which would hide a printer that cannot tell us anything.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Final

DLE_EOT_PRINTER: Final = b"\x10\x04\x01"  # n=1: printer status (bit 3: offline)
DLE_EOT_PAPER: Final = b"\x10\x04\x04"  # n=4: roll paper sensor status

_FIXED_MASK: Final = 0x93  # bits 0, 1, 4, 7 are fixed in every status byte ...
_FIXED_BITS: Final = 0x12  # ... to 0, 1, 1, 0; anything else is not a status reply
_OFFLINE: Final = 0x08
_NEAR_END: Final = 0x0C
_PAPER_END: Final = 0x60


class PrinterState(StrEnum):
    OK = "ok"
    PAPER_NEAR_END = "paper_near_end"
    PAPER_OUT = "paper_out"
    OFFLINE = "offline"
    UNKNOWN = "unknown"


class Paper(StrEnum):
    ADEQUATE = "adequate"
    NEAR_END = "near_end"
    OUT = "out"


# States in which a ticket must not be sent: the kiosk shows the number on screen instead.
NOT_READY: Final = frozenset({PrinterState.PAPER_OUT, PrinterState.OFFLINE})


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


def state_of(online: bool | None, paper: Paper | None) -> PrinterState:
    """One printer state from the two answers; silence to the first query is UNKNOWN."""
    if paper is Paper.OUT:
        return PrinterState.PAPER_OUT
    if online is None:
        return PrinterState.UNKNOWN
    if not online:
        return PrinterState.OFFLINE
    if paper is Paper.NEAR_END:
        return PrinterState.PAPER_NEAR_END
    return PrinterState.OK
