"""The printer fleet view, pure: counters by day, opening hours, silence as an alert."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import msgspec

from engine.clinic import Clinic, Schedule, parse_clinic
from tests.support import clinic_config
from ticketing.fleet import (
    SILENT_MINUTES,
    PrinterStats,
    day_of,
    fleet_view,
    is_open,
    parse_stats,
)
from ticketing.records import PrinterRecord, Roll

MOSCOW = ZoneInfo("Europe/Moscow")
KIOSKS = [
    {"id": "hall-1", "printer": "tcp://10.0.0.5"},
    {"id": "hall-2", "printer": "tcp://10.0.0.6"},
]


def ms(text: str) -> int:
    return int(datetime.fromisoformat(text).replace(tzinfo=MOSCOW).timestamp() * 1000)


def clinic(hours: tuple[str, str] | None) -> Clinic:
    """A clinic open on weekdays between ``hours`` (None: no doctor has a schedule)."""
    base = parse_clinic(clinic_config("fleet", kiosks=KIOSKS))
    schedule = Schedule(weekdays=[1, 2, 3, 4, 5], start=hours[0], end=hours[1]) if hours else None
    doctors = [msgspec.structs.replace(d, schedule=schedule) for d in base.doctors]
    return msgspec.structs.replace(base, doctors=doctors)


def test_counters_are_read_for_the_clinics_day_only() -> None:
    """Yesterday's failures do not count today; last seen and printed carry over."""
    raw = {
        "hall-1:seen": 5,
        "hall-1:printed": 4,
        "hall-1:failed:2026-12-07": 2,
        "hall-1:failed:2026-12-06": 9,
        "hall-1:unconfirmed:2026-12-07": 1,
    }
    assert parse_stats(raw, "2026-12-07") == {
        "hall-1": PrinterStats(seen_at=5, printed_at=4, failed=2, unconfirmed=1)
    }
    # 23:30 UTC on the 6th is already the 7th in Moscow
    late = int(datetime(2026, 12, 6, 23, 30, tzinfo=ZoneInfo("UTC")).timestamp() * 1000)
    assert day_of(MOSCOW, late) == "2026-12-07"


def test_opening_hours_come_from_the_doctors_schedules() -> None:
    """Open within some doctor's hours on a scheduled weekday; no schedules: always open."""
    day = clinic(("08:00", "14:00"))
    assert is_open(day, ms("2026-12-07T09:00"))  # a Monday
    assert not is_open(day, ms("2026-12-07T14:00"))
    assert not is_open(day, ms("2026-12-06T09:00"))  # a Sunday
    assert is_open(clinic(None), ms("2026-12-06T03:00"))


def test_a_printer_silent_for_long_in_opening_hours_is_a_yellow_alert() -> None:
    """Heard from, then silent SILENT_MINUTES while open: yellow with the minutes; the same at
    night is no alert, nor is a printer never heard from."""
    day = clinic(("08:00", "20:00"))
    now = ms("2026-12-07T12:00")
    quiet = PrinterStats(seen_at=now - SILENT_MINUTES * 60000, printed_at=now - 3_600_000)
    records = {"hall-1": PrinterRecord(kiosk="hall-1", state="ok", at=now - 7_200_000)}
    rolls = {"hall-1": Roll(since=40, last=100)}
    one, two = fleet_view(day, records, rolls, {"hall-1": quiet}, now)
    assert (one["kiosk"], one["state"], one["level"], one["silent_minutes"]) == (
        "hall-1",
        "ok",
        "yellow",
        SILENT_MINUTES,
    )
    assert (one["printed_since_roll"], one["left_estimate"]) == (40, 60)
    assert (two["kiosk"], two["state"], two["level"], two["last_seen"]) == (
        "hall-2",
        "unknown",
        None,
        None,
    )
    night = ms("2026-12-07T22:00")
    quiet_night = PrinterStats(seen_at=night - 3_600_000)
    (one, _) = fleet_view(day, records, rolls, {"hall-1": quiet_night}, night)
    assert (one["level"], one["silent_minutes"]) == (None, None)
    fresh = PrinterStats(seen_at=now - 60000)
    (one, _) = fleet_view(day, records, rolls, {"hall-1": fresh}, now)
    assert (one["level"], one["silent_minutes"]) == (None, None)
