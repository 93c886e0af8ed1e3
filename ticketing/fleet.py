"""The printer fleet, pure: every kiosk printer of a clinic with what the staff need to know.

State and level come from the last observation (``records.PrinterRecord``); the rest from the
counters kept beside it: when the printer last answered, when it last printed a ticket it
confirmed, jobs failed and unconfirmed today (the clinic's day), and its roll. A printer that
has answered before and has said nothing for ``SILENT_MINUTES`` while the clinic is open is an
alert of its own: a worker polls every printer it has used every few seconds, so silence that
long means the printer (or its network) is gone.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Final

import msgspec

from engine.clinic import Clinic
from ticketing.records import PrinterRecord, Roll, alert_level

SILENT_MINUTES: Final = 10


class PrinterStats(msgspec.Struct, frozen=True, kw_only=True):
    seen_at: int | None = None  # wall clock, ms: the printer's last answer to anything
    printed_at: int | None = None  # its last confirmed ticket
    failed: int = 0  # jobs failed today
    unconfirmed: int = 0  # jobs sent today that it did not confirm


def day_of(clinic_tz: Any, now_ms: int) -> str:
    """The clinic's calendar day, for the daily counters."""
    return datetime.fromtimestamp(now_ms / 1000, clinic_tz).date().isoformat()


def parse_stats(raw: dict[str, int], day: str) -> dict[str, PrinterStats]:
    """Counters from their hash fields (``kiosk:seen``, ``kiosk:failed:<day>``, ...)."""
    fields: dict[str, dict[str, int]] = {}
    for name, value in raw.items():
        kiosk, _, rest = name.partition(":")
        what, _, when = rest.partition(":")
        if when in ("", day):
            fields.setdefault(kiosk, {})[what] = value
    return {
        kiosk: PrinterStats(
            seen_at=f.get("seen"),
            printed_at=f.get("printed"),
            failed=f.get("failed", 0),
            unconfirmed=f.get("unconfirmed", 0),
        )
        for kiosk, f in fields.items()
    }


def is_open(clinic: Clinic, now_ms: int) -> bool:
    """Within some doctor's scheduled hours today; a clinic without schedules is always open."""
    schedules = [d.schedule for d in clinic.doctors if d.schedule is not None]
    if not schedules:
        return True
    now = datetime.fromtimestamp(now_ms / 1000, clinic.zone)
    hhmm = now.strftime("%H:%M")
    return any(now.isoweekday() in s.weekdays and s.start <= hhmm < s.end for s in schedules)


def silent_minutes(stats: PrinterStats, clinic: Clinic, now_ms: int) -> int | None:
    """Minutes without an answer, when that is an alert (open hours, heard from before)."""
    if stats.seen_at is None or not is_open(clinic, now_ms):
        return None
    minutes = (now_ms - stats.seen_at) // 60000
    return minutes if minutes >= SILENT_MINUTES else None


def fleet_view(
    clinic: Clinic,
    records: dict[str, PrinterRecord],
    rolls: dict[str, Roll],
    stats: dict[str, PrinterStats],
    now_ms: int,
) -> list[dict[str, Any]]:
    """Every kiosk printer of the clinic, in its configured order."""
    fleet = []
    for kiosk in clinic.kiosks:
        record = records.get(kiosk.id) or PrinterRecord(kiosk=kiosk.id)
        roll, counts = rolls.get(kiosk.id) or Roll(), stats.get(kiosk.id) or PrinterStats()
        level = alert_level(record.state) if record.at is not None else None
        silent = silent_minutes(counts, clinic, now_ms)
        fleet.append(
            {
                "kiosk": kiosk.id,
                "state": record.state,
                "level": level or ("yellow" if silent is not None else None),
                "message": record.message,
                "at": record.at,
                "last_seen": counts.seen_at,
                "last_printed": counts.printed_at,
                "failed_today": counts.failed,
                "unconfirmed_today": counts.unconfirmed,
                "silent_minutes": silent,
                "printed_since_roll": roll.since,
                "left_estimate": roll.left,
            }
        )
    return fleet
