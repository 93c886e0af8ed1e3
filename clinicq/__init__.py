"""Clinic Queue assembled: the engine underneath, the parts on top, and the one place that
knows them all (the app, the CLI, the combined settings). Nothing imports this package but the
entry points, the load tests and the tests."""

from engine import clinic as _clinic
from notifier.wording import clinic_problems as icu_wording_problems
from ticketing.clinic_check import kiosk_printer_problems

# Ticketing's check of kiosk printers and the notifier's of a hospital's own ICU wording join
# the engine's validation of every clinic loaded.
for _check in (kiosk_printer_problems, icu_wording_problems):
    if _check not in _clinic.CHECKS:
        _clinic.CHECKS.append(_check)
