"""The notifier's frozen settings; the engine builds them (it alone reads the environment)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from engine.errors import ConfigError


@dataclass(frozen=True, slots=True)
class HospitalSchedule:
    """When a hospital's daily message goes, in its local time, and its quiet hours."""

    tz: str = "Europe/Moscow"
    send_at: time = time(18, 0)
    quiet_start: time = time(21, 0)
    quiet_end: time = time(9, 0)
    name: str = ""  # the hospital as the message names it; "" names none
    templates: Mapping[str, str] = field(default_factory=dict)  # language -> own wording

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.tz)


@dataclass(frozen=True, slots=True)
class NotifierSettings:
    """Everything the notifier needs; secrets arrive here as parameters, never from os.environ."""

    sms_provider: str = "smsc"  # a key of notifier.providers.PROVIDERS
    smsc_url: str = "https://smsc.ru/sys/"
    smsc_login: str = ""
    smsc_password: str = ""
    smsc_sender: str | None = None
    encryption_key: bytes = b""
    # Each hospital sets its own in its clinic's configuration (notifier.hospitals).
    default_schedule: HospitalSchedule = field(default_factory=HospitalSchedule)
    max_segments: int = 3
    stale_after: timedelta = timedelta(hours=12)
    http_timeout: float = 10.0
    lease: timedelta = timedelta(seconds=60)
    retry_base: timedelta = timedelta(seconds=5)
    retry_max: timedelta = timedelta(minutes=30)
    max_attempts: int = 8
    poll_base: timedelta = timedelta(seconds=30)
    poll_max: timedelta = timedelta(minutes=30)
    balance_alert_below: float = 500.0
    balance_every: timedelta = timedelta(minutes=15)
    concurrency: int = 4
    batch: int = 20
    idle_sleep: float = 1.0

    def validate(self) -> NotifierSettings:
        """Fail loudly at start-up rather than at 18:00."""
        if len(self.encryption_key) != 32:
            raise ConfigError("notifier encryption_key must be 32 bytes (AES-256)")
        if self.max_segments < 3:
            raise ConfigError("notifier max_segments must be at least 3 (short Russian text)")
        if not self.smsc_url.endswith("/"):
            raise ConfigError("notifier smsc_url must end with '/' (e.g. https://smsc.ru/sys/)")
        try:
            self.default_schedule.zone  # noqa: B018 - resolves the zone now
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ConfigError(f"unknown time zone {self.default_schedule.tz!r}") from exc
        return self
