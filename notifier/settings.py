"""The notifier's frozen settings; the engine builds them (it alone reads the environment)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from engine.errors import ConfigError

# A URL path segment long enough that guessing it is hopeless.
CALLBACK_SECRET = re.compile(r"^[A-Za-z0-9_-]{32,128}$")


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
    # -- replies and delivery reports by callback (notifier/callbacks.py) --
    # The path segment SMSC's callback URLs carry; empty: the callbacks answer 404.
    smsc_callback_secret: str = ""
    # With callbacks on, SMSC reports delivery itself: the first status poll (the fallback)
    # waits this long instead of ``poll_base``.
    callback_poll_after: timedelta = timedelta(minutes=10)

    @property
    def first_poll(self) -> timedelta:
        """How long after sending the first delivery poll is due."""
        if self.smsc_callback_secret:
            return max(self.poll_base, self.callback_poll_after)
        return self.poll_base

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
        if self.smsc_callback_secret and not CALLBACK_SECRET.match(self.smsc_callback_secret):
            raise ConfigError(
                "notifier smsc_callback_secret must be 32-128 of A-Z a-z 0-9 _ - "
                "(e.g. python -c 'import secrets; print(secrets.token_urlsafe(32))')"
            )
        return self
