"""The outbox's plain values: what ``prepare`` sees of a due row, its decision, and claims.

A ``Claim`` is a row one worker owns until its lease runs out: ``send`` it, or ``check`` its
status with the provider. A ``PollClaim`` is a sent row whose delivery status is due.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime

from notifier.schedule import PatientStatus
from notifier.vitals import Observation

# sms_outbox.kind: the daily message (one a day per relative, composed when it goes), or the
# confirmation of a relative's STOP reply (composed when the reply came, sent at once).
DAILY = "daily"
STOP_CONFIRMATION = "stop_confirmation"


@dataclass(frozen=True, slots=True)
class DueRow:
    """What ``prepare`` sees of a pending row, inside the claiming transaction."""

    outbox_id: int
    patient_id: str
    clinic: str
    patient_label: str
    patient_status: PatientStatus
    relative_active: bool
    bad_number: bool
    language: str
    local_date: date
    attempts: int
    body: str | None
    parts: int | None
    observations: tuple[Observation, ...]


@dataclass(frozen=True, slots=True)
class Send:
    body: str
    parts: int


@dataclass(frozen=True, slots=True)
class Hold:
    until: datetime


@dataclass(frozen=True, slots=True)
class Cancel:
    reason: str


@dataclass(frozen=True, slots=True)
class Reject:
    reason: str


Decision = Send | Hold | Cancel | Reject
Prepare = Callable[[DueRow], Decision]


@dataclass(frozen=True, slots=True)
class Claim:
    """A row this worker owns until ``lease_until``: ``send`` it, or ``check`` its status."""

    kind: str
    outbox_id: int
    token: uuid.UUID
    phone: str
    body: str
    attempts: int
    patient_id: str
    clinic: str
    patient_status: PatientStatus

    @property
    def message_id(self) -> int:
        return (
            self.outbox_id
        )  # our id at the provider: stable across retries, so a status check finds it


@dataclass(frozen=True, slots=True)
class PollClaim:
    outbox_id: int
    token: uuid.UUID
    phone: str
    delivery_status: int | None
    polls: int

    @property
    def message_id(self) -> int:
        return self.outbox_id
