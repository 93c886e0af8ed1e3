"""A clinic's configuration: services (queues), cabinets, doctors, schedules, queue policy, kiosks.

Loaded from a TOML file (``demo_clinic.toml`` ships) and changeable through the API; it is data,
validated once by msgspec, and every rule reads it as plain values.
"""

from __future__ import annotations

import logging
import re
import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import Annotated
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import msgspec

from engine.errors import ConfigError, ValidationFailed
from engine.text import Name, made_plain

log = logging.getLogger(__name__)
ID_PATTERN = re.compile(r"^[a-z0-9][a-z0-9_-]{0,31}$")
HHMM = re.compile(r"^([01][0-9]|2[0-3]):[0-5][0-9]$")
TEMPLATE_MAX = 4000  # characters of one message template: three SMS are ~480

# What the parts check in a clinic's configuration on top of the engine (ticketing: that each
# kiosk's printer URL and profile are ones it can drive); each returns the problems it found.
# Registered by the assembly (``clinicq``), which is the one place that knows every part.
ClinicCheck = Callable[["Clinic"], list[str]]
CHECKS: list[ClinicCheck] = []


class Service(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    id: str
    prefix: str
    name: Name


class Cabinet(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    id: str
    name: Name


class Schedule(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """A doctor's bookable hours: on these ISO weekdays (1=Mon), from..to, one slot a length."""

    weekdays: list[int]
    start: str = "08:00"
    end: str = "14:00"
    slot_minutes: int = 15
    service: str | None = None


class Doctor(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    id: str
    name: Name
    services: list[str]
    cabinet: str | None = None
    schedule: Schedule | None = None


class Policy(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """Queue policy: priority interleaving, recalls before no-show, dashboard colour thresholds."""

    priority_run: int = 2
    max_recalls: int = 2
    priority_categories: list[str] = msgspec.field(
        default_factory=lambda: ["veteran", "disabled", "pregnant", "child"]
    )
    yellow_wait_minutes: int = 20
    red_wait_minutes: int = 40
    booking_days_ahead: int = 14


class Kiosk(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """A self-service kiosk and its ticket printer (a URL as in ``docs/TICKETING.md``).

    ``profile`` names the printer model's python-escpos profile; it overrides the URL's.
    """

    id: str
    printer: str
    profile: str | None = None


class Icu(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """The ICU's daily message to relatives: when it goes and when it must not (local times in
    the clinic's time zone), the hospital's name as the message gives it, and the hospital's own
    wording per language. The notifier renders the wording and checks it (``notifier.wording``).
    """

    send_at: str = "18:00"
    quiet_start: str = "21:00"
    quiet_end: str = "09:00"
    hospital_name: Name | None = None  # None: the message names no hospital (it stays short)
    templates: dict[str, Annotated[str, msgspec.Meta(max_length=TEMPLATE_MAX)]] = msgspec.field(
        default_factory=dict
    )


class Clinic(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    id: str
    name: Name
    timezone: str = "Europe/Moscow"
    locale: str = "ru"
    services: list[Service] = msgspec.field(default_factory=list)
    cabinets: list[Cabinet] = msgspec.field(default_factory=list)
    doctors: list[Doctor] = msgspec.field(default_factory=list)
    policy: Policy = msgspec.field(default_factory=Policy)
    kiosks: list[Kiosk] = msgspec.field(default_factory=list)
    icu: Icu | None = None

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def service(self, service_id: str) -> Service | None:
        return next((s for s in self.services if s.id == service_id), None)

    def doctor(self, doctor_id: str) -> Doctor | None:
        return next((d for d in self.doctors if d.id == doctor_id), None)

    def cabinet(self, cabinet_id: str) -> Cabinet | None:
        return next((c for c in self.cabinets if c.id == cabinet_id), None)

    def kiosk(self, kiosk_id: str) -> Kiosk | None:
        return next((k for k in self.kiosks if k.id == kiosk_id), None)

    def validate(self) -> Clinic:
        """Check cross-references; raise ValidationFailed naming the first problem."""
        problems: list[str] = []
        if not ID_PATTERN.match(self.id):
            problems.append(f"clinic id {self.id!r} must be 1-32 of a-z, 0-9, '-', '_'")
        try:
            ZoneInfo(self.timezone)
        except (ZoneInfoNotFoundError, ValueError):
            problems.append(f"unknown time zone {self.timezone!r}")
        if self.locale not in ("ru", "en"):
            problems.append(f"locale must be 'ru' or 'en', not {self.locale!r}")
        service_ids = {s.id for s in self.services}
        cabinet_ids = {c.id for c in self.cabinets}
        for kind, ids in (
            ("service", [s.id for s in self.services]),
            ("cabinet", [c.id for c in self.cabinets]),
            ("doctor", [d.id for d in self.doctors]),
            ("kiosk", [k.id for k in self.kiosks]),
        ):
            problems += [
                f"{kind} id {i!r} is not a valid id" for i in ids if not ID_PATTERN.match(i)
            ]
            if len(ids) != len(set(ids)):
                problems.append(f"{kind} ids repeat")
        for s in self.services:
            if len(s.prefix) != 1 or not s.prefix.isalpha():
                problems.append(f"service {s.id!r}: prefix must be one letter")
        prefixes = [s.prefix for s in self.services]
        if len(prefixes) != len(set(prefixes)):
            problems.append("service prefixes repeat: ticket numbers would collide")
        for d in self.doctors:
            problems += [
                f"doctor {d.id!r}: unknown service {x!r}"
                for x in d.services
                if x not in service_ids
            ]
            if d.cabinet is not None and d.cabinet not in cabinet_ids:
                problems.append(f"doctor {d.id!r}: unknown cabinet {d.cabinet!r}")
            if d.schedule and not (d.schedule.service or d.services):
                problems.append(f"doctor {d.id!r}: a schedule needs a service")
        if self.icu is not None:
            problems += [
                f"icu: {name} must be a time of day as HH:MM, not {value!r}"
                for name, value in (
                    ("send_at", self.icu.send_at),
                    ("quiet_start", self.icu.quiet_start),
                    ("quiet_end", self.icu.quiet_end),
                )
                if not HHMM.match(value)
            ]
        for check in CHECKS:
            problems += check(self)
        if self.policy.priority_run < 1 or self.policy.max_recalls < 0:
            problems.append("policy: priority_run >= 1 and max_recalls >= 0")
        if problems:
            raise ValidationFailed("; ".join(problems))
        return self


def parse_clinic(data: bytes | dict[str, object]) -> Clinic:
    """Decode a clinic from JSON bytes or a TOML-derived dict; raise ValidationFailed."""
    try:
        if isinstance(data, bytes):
            clinic = msgspec.json.decode(data, type=Clinic)
        else:
            clinic = msgspec.convert(data, type=Clinic)
    except msgspec.ValidationError as exc:
        raise ValidationFailed(f"clinic: {exc}") from exc
    except msgspec.DecodeError as exc:
        raise ValidationFailed(f"clinic: malformed JSON ({exc})") from exc
    return clinic.validate()


def stored_clinic(data: bytes) -> Clinic:
    """A clinic as stored in PostgreSQL: as written, or, for a configuration stored before the
    rule on names (``engine.text``), with every name made plain so the clinic keeps serving."""
    try:
        return parse_clinic(data)
    except ValidationFailed:
        raw = msgspec.json.decode(data)
        if not isinstance(raw, dict):
            raise
        raw["name"] = made_plain(str(raw.get("name", "")))
        for kind in ("services", "cabinets", "doctors"):
            for item in raw.get(kind) or []:
                if isinstance(item, dict):
                    item["name"] = made_plain(str(item.get("name", "")))
        log.warning("clinic %s: names made plain; store a corrected configuration", raw.get("id"))
        return parse_clinic(msgspec.json.encode(raw))


def load_clinics(path: Path) -> list[Clinic]:
    """Read ``[[clinic]]`` tables from a TOML file."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"cannot read clinics from {path}: {exc}") from exc
    try:
        return [parse_clinic(item) for item in data.get("clinic", [])]
    except ValidationFailed as exc:
        raise ConfigError(f"{path}: {exc.message}") from exc


DEMO_CLINICS = Path(__file__).with_name("demo_clinic.toml")
