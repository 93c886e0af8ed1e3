"""The engine's write commands, and how each one runs: as a Lua script, or on the pure model.

One mapping serves both the service (``script_call``) and the model test (``run_pure``), so the
test compares exactly the calls production makes.
"""

from __future__ import annotations

from dataclasses import dataclass

from engine.clinic import Clinic
from engine.model import booking, queue
from engine.model.booking import Slot
from engine.model.clock import day_bounds
from engine.model.queue import Outcome
from engine.model.state import ClinicState


@dataclass(frozen=True)
class Issue:
    service: str
    priority: str = ""
    channel: str = "kiosk"


@dataclass(frozen=True)
class CallNext:
    cabinet: str
    actor: str | None = None


@dataclass(frozen=True)
class Act:
    ticket: str
    action: str
    to_service: str | None = None
    actor: str | None = None


@dataclass(frozen=True)
class SetDuty:
    doctor: str
    status: str | None = None
    cabinet: str | None = None
    services: tuple[str, ...] | None = None


@dataclass(frozen=True)
class Reserve:
    slot: Slot
    patient: str
    channel: str = "portal"
    owner: str = ""
    confirm: bool = False


@dataclass(frozen=True)
class Confirm:
    reservation: str
    owner: str = ""


@dataclass(frozen=True)
class Cancel:
    reservation: str | None = None
    slot: str | None = None
    owner: str = ""


@dataclass(frozen=True)
class Move:
    reservation: str
    slot: Slot
    owner: str = ""


@dataclass(frozen=True)
class CheckIn:
    reservation: str


Command = Issue | CallNext | Act | SetDuty | Reserve | Confirm | Cancel | Move | CheckIn


def script_call(
    cmd: Command, clinic: Clinic, now: int, hold_ms: int
) -> tuple[str, list[str | int]]:
    """The script name and its own arguments (ARGV[8..]) for a command."""
    match cmd:
        case Issue():
            return "issue", [cmd.service, _prefix(clinic, cmd.service), cmd.priority, cmd.channel]
        case CallNext():
            return "call_next", [cmd.cabinet, clinic.policy.priority_run, cmd.actor or ""]
        case Act():
            return "act", [
                cmd.ticket,
                cmd.action,
                clinic.policy.max_recalls,
                cmd.to_service or "",
                cmd.actor or "",
            ]
        case SetDuty():
            default = clinic.doctor(cmd.doctor)
            return "duty", [
                cmd.doctor,
                cmd.status or "",
                cmd.cabinet or "",
                ",".join(cmd.services or ()),
                (default.cabinet if default else None) or "",
                ",".join(default.services if default else ()),
            ]
        case Reserve():
            s = cmd.slot
            return "reserve", [
                s.id,
                s.start_ms,
                s.doctor,
                s.service,
                cmd.patient,
                cmd.channel,
                cmd.owner,
                "1" if cmd.confirm else "0",
                hold_ms,
            ]
        case Confirm():
            return "confirm", [cmd.reservation, cmd.owner]
        case Cancel():
            return "cancel", [cmd.reservation or "", cmd.slot or "", cmd.owner]
        case Move():
            s = cmd.slot
            return "move", [cmd.reservation, cmd.owner, s.id, s.start_ms, s.doctor, s.service]
        case CheckIn():
            start, end = day_bounds(now, clinic.timezone)
            prefixes = ",".join(f"{s.id}={s.prefix}" for s in clinic.services)
            return "check_in", [cmd.reservation, start, end, prefixes]
    raise TypeError(f"unknown command {cmd!r}")


def run_pure(
    state: ClinicState, cmd: Command, clinic: Clinic, now: int, day: str, hold_ms: int
) -> Outcome:
    """Run a command on the pure model; raise DecisionError (with ``events``) on refusal."""
    policy = clinic.policy
    match cmd:
        case Issue():
            return queue.run(
                queue.issue,
                state,
                now,
                day,
                service=cmd.service,
                prefix=_prefix(clinic, cmd.service),
                priority=cmd.priority,
                channel=cmd.channel,
            )
        case CallNext():
            return queue.run(
                queue.call_next,
                state,
                now,
                day,
                cabinet=cmd.cabinet,
                priority_run=policy.priority_run,
            )
        case Act():
            return queue.run(
                queue.act,
                state,
                now,
                day,
                ticket_id=cmd.ticket,
                action=cmd.action,
                max_recalls=policy.max_recalls,
                to_service=cmd.to_service,
                actor=cmd.actor,
            )
        case SetDuty():
            default = clinic.doctor(cmd.doctor)
            return queue.run(
                queue.set_duty,
                state,
                now,
                day,
                doctor_id=cmd.doctor,
                status=cmd.status,
                cabinet=cmd.cabinet,
                services=list(cmd.services) if cmd.services else None,
                default_cabinet=default.cabinet if default else None,
                default_services=list(default.services) if default else [],
            )
        case Reserve():
            return queue.run(
                booking.reserve,
                state,
                now,
                slot=cmd.slot,
                patient=cmd.patient,
                channel=cmd.channel,
                owner=cmd.owner,
                confirm=cmd.confirm,
                hold_ms=hold_ms,
            )
        case Confirm():
            return queue.run(booking.confirm, state, now, rid=cmd.reservation, owner=cmd.owner)
        case Cancel() if cmd.reservation:
            return queue.run(booking.cancel, state, now, rid=cmd.reservation, owner=cmd.owner)
        case Cancel():
            return queue.run(booking.cancel_slot, state, now, slot=cmd.slot or "", owner=cmd.owner)
        case Move():
            return queue.run(
                booking.move, state, now, rid=cmd.reservation, owner=cmd.owner, slot=cmd.slot
            )
        case CheckIn():
            start, end = day_bounds(now, clinic.timezone)
            return queue.run(
                booking.check_in,
                state,
                now,
                day,
                rid=cmd.reservation,
                day_start=start,
                day_end=end,
                prefixes={s.id: s.prefix for s in clinic.services},
            )
    raise TypeError(f"unknown command {cmd!r}")


def _prefix(clinic: Clinic, service: str) -> str:
    found = clinic.service(service)
    return found.prefix if found else "?"
