"""Time as the rules see it: integer milliseconds, and the clinic's local service day."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo


def service_day(now_ms: int, timezone: str) -> str:
    """The clinic's local calendar date at ``now_ms``: ticket numbers restart when it changes."""
    return datetime.fromtimestamp(now_ms / 1000, ZoneInfo(timezone)).date().isoformat()


def to_local(ms: int, timezone: str) -> datetime:
    return datetime.fromtimestamp(ms / 1000, ZoneInfo(timezone))


def day_bounds(now_ms: int, timezone: str) -> tuple[int, int]:
    """Start and end (exclusive), in ms, of the clinic's local day containing ``now_ms``."""
    zone = ZoneInfo(timezone)
    local = datetime.fromtimestamp(now_ms / 1000, zone)
    start = datetime.combine(local.date(), time(0), zone)
    end = datetime.combine(local.date() + timedelta(days=1), time(0), zone)
    return int(start.timestamp() * 1000), int(end.timestamp() * 1000)
