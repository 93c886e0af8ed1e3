"""Ticketing's check of a clinic's configuration: every kiosk's printer is one it can drive.

The assembly registers it with the engine (``engine.clinic.CHECKS``), so a clinic with a
malformed printer URL or an unknown profile is refused when it is loaded or replaced.
"""

from __future__ import annotations

from engine.clinic import Clinic
from ticketing.errors import PrinterConfigError
from ticketing.printer_config import check_printer


def kiosk_printer_problems(clinic: Clinic) -> list[str]:
    problems = []
    for kiosk in clinic.kiosks:
        try:
            check_printer(kiosk.printer, kiosk.profile)
        except PrinterConfigError as exc:
            problems.append(f"kiosk {kiosk.id!r}: {exc}")
    return problems
