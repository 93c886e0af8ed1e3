"""The engine's write commands, and how each one runs: as a Lua script, or on the pure model.

Each command says both in one place: ``script`` (the script name and its own arguments) and
``pure`` (the same decision on the model). The service runs ``script_call``, the model test
``run_pure``, so the test compares exactly the calls production makes.
"""

from __future__ import annotations

from dataclasses import dataclass

from engine.clinic import Clinic
from engine.model import booking, queue, ticket_actions
from engine.model.booking import Slot
from engine.model.clock import day_bounds
from engine.model.queue import Outcome
from engine.model.state import ClinicState

Args = list[str | int]


@dataclass(frozen=True)
class Issue:
    service: str
    priority: str = ""
    channel: str = "kiosk"
    link: str = ""  # the patient's status link, drawn at the edge

    def script(self, clinic: Clinic, now: int, hold_ms: int) -> tuple[str, Args]:
        prefix = _prefix(clinic, self.service)
        return "issue", [self.service, prefix, self.priority, self.channel, self.link]

    def pure(self, state: ClinicState, clinic: Clinic, now: int, day: str, hold_ms: int) -> Outcome:
        return queue.run(
            queue.issue,
            state,
            now,
            day,
            service=self.service,
            prefix=_prefix(clinic, self.service),
            priority=self.priority,
            channel=self.channel,
            link=self.link,
        )


@dataclass(frozen=True)
class CallNext:
    cabinet: str
    actor: str | None = None

    def script(self, clinic: Clinic, now: int, hold_ms: int) -> tuple[str, Args]:
        return "call_next", [self.cabinet, clinic.policy.priority_run, self.actor or ""]

    def pure(self, state: ClinicState, clinic: Clinic, now: int, day: str, hold_ms: int) -> Outcome:
        return queue.run(
            queue.call_next,
            state,
            now,
            day,
            cabinet=self.cabinet,
            priority_run=clinic.policy.priority_run,
            actor=self.actor,
        )


@dataclass(frozen=True)
class Act:
    ticket: str
    action: str
    to_service: str | None = None
    actor: str | None = None
    reason: str = ""

    def script(self, clinic: Clinic, now: int, hold_ms: int) -> tuple[str, Args]:
        max_recalls = clinic.policy.max_recalls
        return "act", [
            self.ticket,
            self.action,
            max_recalls,
            self.to_service or "",
            self.actor or "",
            self.reason,
        ]

    def pure(self, state: ClinicState, clinic: Clinic, now: int, day: str, hold_ms: int) -> Outcome:
        return queue.run(
            ticket_actions.act,
            state,
            now,
            day,
            ticket_id=self.ticket,
            action=self.action,
            max_recalls=clinic.policy.max_recalls,
            to_service=self.to_service,
            actor=self.actor,
            reason=self.reason,
        )


@dataclass(frozen=True)
class SetDuty:
    doctor: str
    status: str | None = None
    cabinet: str | None = None
    services: tuple[str, ...] | None = None
    if_match: int | None = None  # the duty version the change was made against

    def script(self, clinic: Clinic, now: int, hold_ms: int) -> tuple[str, Args]:
        default = clinic.doctor(self.doctor)
        return "duty", [
            self.doctor,
            self.status or "",
            self.cabinet or "",
            ",".join(self.services or ()),
            (default.cabinet if default else None) or "",
            ",".join(default.services if default else ()),
            "" if self.if_match is None else self.if_match,
        ]

    def pure(self, state: ClinicState, clinic: Clinic, now: int, day: str, hold_ms: int) -> Outcome:
        default = clinic.doctor(self.doctor)
        return queue.run(
            queue.set_duty,
            state,
            now,
            day,
            doctor_id=self.doctor,
            status=self.status,
            cabinet=self.cabinet,
            services=list(self.services) if self.services else None,
            default_cabinet=default.cabinet if default else None,
            default_services=list(default.services) if default else [],
            if_match=self.if_match,
        )


@dataclass(frozen=True)
class Reserve:
    slot: Slot
    patient: str
    channel: str = "portal"
    owner: str = ""
    confirm: bool = False

    def script(self, clinic: Clinic, now: int, hold_ms: int) -> tuple[str, Args]:
        s = self.slot
        return "reserve", [
            s.id,
            s.start_ms,
            s.doctor,
            s.service,
            self.patient,
            self.channel,
            self.owner,
            "1" if self.confirm else "0",
            hold_ms,
        ]

    def pure(self, state: ClinicState, clinic: Clinic, now: int, day: str, hold_ms: int) -> Outcome:
        return queue.run(
            booking.reserve,
            state,
            now,
            slot=self.slot,
            patient=self.patient,
            channel=self.channel,
            owner=self.owner,
            confirm=self.confirm,
            hold_ms=hold_ms,
        )


@dataclass(frozen=True)
class Confirm:
    reservation: str
    owner: str = ""

    def script(self, clinic: Clinic, now: int, hold_ms: int) -> tuple[str, Args]:
        return "confirm", [self.reservation, self.owner]

    def pure(self, state: ClinicState, clinic: Clinic, now: int, day: str, hold_ms: int) -> Outcome:
        return queue.run(booking.confirm, state, now, rid=self.reservation, owner=self.owner)


@dataclass(frozen=True)
class Cancel:
    reservation: str | None = None
    slot: str | None = None
    owner: str = ""

    def script(self, clinic: Clinic, now: int, hold_ms: int) -> tuple[str, Args]:
        return "cancel", [self.reservation or "", self.slot or "", self.owner]

    def pure(self, state: ClinicState, clinic: Clinic, now: int, day: str, hold_ms: int) -> Outcome:
        if self.reservation:
            return queue.run(booking.cancel, state, now, rid=self.reservation, owner=self.owner)
        return queue.run(booking.cancel_slot, state, now, slot=self.slot or "", owner=self.owner)


@dataclass(frozen=True)
class Move:
    reservation: str
    slot: Slot
    owner: str = ""

    def script(self, clinic: Clinic, now: int, hold_ms: int) -> tuple[str, Args]:
        s = self.slot
        return "move", [self.reservation, self.owner, s.id, s.start_ms, s.doctor, s.service]

    def pure(self, state: ClinicState, clinic: Clinic, now: int, day: str, hold_ms: int) -> Outcome:
        return queue.run(
            booking.move, state, now, rid=self.reservation, owner=self.owner, slot=self.slot
        )


@dataclass(frozen=True)
class CheckIn:
    reservation: str
    link: str = ""  # the new ticket's status link, drawn at the edge
    patient: str | None = None  # as typed at a kiosk: checked against the booking's reference

    def script(self, clinic: Clinic, now: int, hold_ms: int) -> tuple[str, Args]:
        start, end = day_bounds(now, clinic.timezone)
        prefixes = ",".join(f"{s.id}={s.prefix}" for s in clinic.services)
        checked = "0" if self.patient is None else "1"
        args: Args = [
            self.reservation,
            start,
            end,
            prefixes,
            self.link,
            checked,
            self.patient or "",
        ]
        return "check_in", args

    def pure(self, state: ClinicState, clinic: Clinic, now: int, day: str, hold_ms: int) -> Outcome:
        start, end = day_bounds(now, clinic.timezone)
        return queue.run(
            booking.check_in,
            state,
            now,
            day,
            rid=self.reservation,
            day_start=start,
            day_end=end,
            prefixes={s.id: s.prefix for s in clinic.services},
            link=self.link,
            patient=self.patient,
        )


Command = Issue | CallNext | Act | SetDuty | Reserve | Confirm | Cancel | Move | CheckIn


def script_call(cmd: Command, clinic: Clinic, now: int, hold_ms: int) -> tuple[str, Args]:
    """The script name and its own arguments (ARGV[8..]) for a command."""
    return cmd.script(clinic, now, hold_ms)


def run_pure(
    state: ClinicState, cmd: Command, clinic: Clinic, now: int, day: str, hold_ms: int
) -> Outcome:
    """Run a command on the pure model; raise DecisionError (with ``events``) on refusal."""
    return cmd.pure(state, clinic, now, day, hold_ms)


def _prefix(clinic: Clinic, service: str) -> str:
    found = clinic.service(service)
    return found.prefix if found else "?"
