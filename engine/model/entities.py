"""Snapshots of what the engine keeps live: tickets, doctors on duty, reservations.

Each is a frozen msgspec Struct (a faster frozen dataclass that decodes straight from the JSON the
Lua scripts return). Times are integer milliseconds since the epoch so that Python and Lua agree
to the last digit. Absent values are ``None`` and are left out of the encoded form.
"""

from __future__ import annotations

import msgspec

from engine.model.reservations import HOLDS_SLOT, State


class Ticket(msgspec.Struct, frozen=True, omit_defaults=True):
    id: str
    number: str
    service: str
    state: str
    arrival: int
    issued_at: int
    day: str
    seq: int
    priority: str = ""
    channel: str = "kiosk"
    cabinet: str | None = None
    doctor: str | None = None
    recalls: int = 0
    called_at: int | None = None
    started_at: int | None = None
    finished_at: int | None = None
    reservation: str | None = None
    slot_time: int | None = None
    # The patient's status link: random, the only public way to this ticket (never the id).
    link: str = ""


class DoctorDuty(msgspec.Struct, frozen=True, omit_defaults=True):
    """A doctor's live duty: status, cabinet, the services served, the patient in hand."""

    id: str
    status: str = "off"  # on_duty | break | off
    cabinet: str | None = None
    services: list[str] = msgspec.field(default_factory=list)
    current: str | None = None
    suspended: list[str] = msgspec.field(default_factory=list)
    streak: int = 0  # consecutive priority calls, for interleaving
    served: int = 0
    service_seconds: int = 0
    since: int = 0  # when the status last changed
    # Counts the accepted duty changes: a change sent with If-Match names the one it was made
    # against, so a head's stale screen cannot silently undo a colleague's move.
    version: int = 0


class Reservation(msgspec.Struct, frozen=True, omit_defaults=True):
    id: str
    slot: str
    doctor: str
    service: str
    slot_time: int
    state: str  # a reservations.State; a hold that ran out reads as expired (state_at)
    patient: str
    created_at: int
    channel: str = "portal"
    owner: str = ""
    hold_until: int | None = None
    ticket: str | None = None

    def active(self, now: int) -> bool:
        """Whether it holds its slot at ``now``."""
        if self.state == State.HELD:
            return self.hold_until is not None and self.hold_until > now
        return self.state in HOLDS_SLOT

    def state_at(self, now: int) -> str:
        """The state as a client reads it at ``now``: a hold that ran out reads as expired."""
        expired = self.state == State.HELD and not self.active(now)
        return State.EXPIRED.value if expired else self.state


class Call(msgspec.Struct, frozen=True):
    """One line of a waiting-room screen: this number, to that cabinet, at this time."""

    ticket: str
    number: str
    cabinet: str
    at: int
    recall: int = 0
