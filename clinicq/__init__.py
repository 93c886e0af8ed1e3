"""Clinic Queue assembled: the engine underneath, the parts on top, and the one place that
knows them all (the app, the CLI, the combined settings). Nothing imports this package but the
entry points, the load tests and the tests."""

from engine import clinic as _clinic
from ticketing.clinic_check import kiosk_printer_problems

# Ticketing's check of kiosk printers joins the engine's validation of every clinic loaded.
if kiosk_printer_problems not in _clinic.CHECKS:
    _clinic.CHECKS.append(kiosk_printer_problems)
