"""The HTTP API's handlers: each authenticates, decodes, runs one engine call, answers JSON."""

from __future__ import annotations

import re
from datetime import date, timedelta
from typing import Any, Literal

import msgspec
from starlette.requests import Request
from starlette.responses import Response

from engine import commands as c
from engine.api.auth import Principal
from engine.api.http import JSON, decode_body, read_body
from engine.clinic import Clinic, parse_clinic
from engine.errors import BadRequest, Conflict, Forbidden, NotFound, ValidationFailed
from engine.model.booking import Slot, booking_window, find_slot, slots_for
from engine.model.clock import to_local
from engine.model.entities import Reservation, Ticket
from engine.model.eta import expected_wait_minutes
from engine.model.tickets import TICKET_ACTIONS
from engine.service import Engine
from engine.store_redis import fingerprint

IDEM_PATTERN = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")


class TakeTicket(msgspec.Struct, forbid_unknown_fields=True):
    service: str
    priority: str = ""
    channel: Literal["kiosk", "desk", "registrar", "phone", "app"] = "kiosk"


class TicketActionBody(msgspec.Struct, forbid_unknown_fields=True):
    service: str | None = None  # for transfer


class DutyBody(msgspec.Struct, forbid_unknown_fields=True):
    status: Literal["on_duty", "break", "off"] | None = None
    cabinet: str | None = None
    services: list[str] | None = None


class ReserveBody(msgspec.Struct, forbid_unknown_fields=True):
    patient: str
    channel: str = "portal"
    confirm: bool = False


class MoveBody(msgspec.Struct, forbid_unknown_fields=True):
    slot: str


class Empty(msgspec.Struct, forbid_unknown_fields=True):
    pass


class CheckInBody(msgspec.Struct, forbid_unknown_fields=True):
    patient: str | None = None  # a kiosk must give the patient reference the booking was made with


def engine_of(request: Request) -> Engine:
    engine: Engine = request.app.state.engine
    return engine


async def authenticate(request: Request) -> Principal:
    principal: Principal = await request.app.state.tokens.authenticate(
        request.headers.get("authorization")
    )
    request.app.state.limiter.check(principal.token_id)
    request.state.principal = principal
    return principal


def _idem(request: Request, principal: Principal, body: bytes) -> tuple[str, str]:
    key = request.headers.get("idempotency-key")
    if key is None:
        return "", ""
    if not IDEM_PATTERN.match(key):
        raise BadRequest(
            "Idempotency-Key must be 1-128 of A-Z a-z 0-9 . _ : -", code="bad_idempotency_key"
        )
    return f"{principal.token_id}:{key}", fingerprint(request.method, request.url.path, body)


async def _body(request: Request, type_: Any) -> tuple[Any, bytes]:
    return await decode_body(request, type_, request.app.state.settings.max_body_bytes)


def _text(value: str, what: str) -> str:
    if not 1 <= len(value) <= 64 or not value.isprintable():
        raise ValidationFailed(f"{what} must be 1-64 printable characters")
    return value


# -- views ---------------------------------------------------------------------------------------


def ticket_view(
    clinic: Clinic, t: Ticket, ahead: int, rates: tuple[int, int, int] | None
) -> dict[str, Any]:
    service = clinic.service(t.service)
    expected = expected_wait_minutes(ahead, *rates) if rates and t.state == "waiting" else None
    return {
        "id": t.id,
        "number": t.number,
        "service": t.service,
        "service_name": service.name if service else t.service,
        "state": t.state,
        "cabinet": t.cabinet,
        "ahead": ahead,
        "expected_wait_minutes": expected,
        "issued_at": to_local(t.issued_at, clinic.timezone).isoformat(),
        "called_at": to_local(t.called_at, clinic.timezone).isoformat() if t.called_at else None,
        "priority": t.priority or None,
        "channel": t.channel,
        "recalls": t.recalls,
        "slot_time": to_local(t.slot_time, clinic.timezone).isoformat() if t.slot_time else None,
    }


def reservation_view(clinic: Clinic, r: Reservation, now: int) -> dict[str, Any]:
    state = "expired" if r.state == "held" and not r.active(now) else r.state
    return {
        "id": r.id,
        "slot": r.slot,
        "doctor": r.doctor,
        "service": r.service,
        "start": to_local(r.slot_time, clinic.timezone).isoformat(),
        "state": state,
        "hold_until": to_local(r.hold_until, clinic.timezone).isoformat() if r.hold_until else None,
        "channel": r.channel,
        "ticket": r.ticket,
    }


# -- tickets -------------------------------------------------------------------------------------


async def take_ticket(request: Request) -> Response:
    engine, clinic_id = engine_of(request), request.path_params["clinic"]
    who = (await authenticate(request)).require(clinic_id, "kiosk", "registrar", "head")
    clinic = await engine.clinic(clinic_id)
    body, raw = await _body(request, TakeTicket)
    if clinic.service(body.service) is None:
        raise NotFound(f"no service {body.service!r} in this clinic", code="service_not_found")
    if body.priority and body.priority not in clinic.policy.priority_categories:
        raise ValidationFailed(
            f"priority must be one of {', '.join(clinic.policy.priority_categories)}"
        )
    key, fp = _idem(request, who, raw)
    result = await engine.execute(
        clinic_id, c.Issue(body.service, body.priority, body.channel), idem_key=key, fingerprint=fp
    )
    rates = (result["served"], result["seconds"], result["on_duty"])
    view = ticket_view(clinic, result["ticket"], result["ahead"], rates)
    view["status_url"] = f"/t/{clinic_id}/{result['ticket'].id}"
    return JSON(view, status_code=201)


async def get_ticket(request: Request) -> Response:
    """Public: the patient's phone opens it from the QR code; it holds no personal data."""
    engine, clinic_id = engine_of(request), request.path_params["clinic"]
    clinic = await engine.clinic(clinic_id)
    ticket, ahead = await engine.ticket(clinic_id, request.path_params["ticket"])
    rates = await engine.store.rates(clinic_id, ticket.service)
    return JSON(ticket_view(clinic, ticket, ahead, rates))


async def ticket_action(request: Request) -> Response:
    engine, clinic_id = engine_of(request), request.path_params["clinic"]
    action = request.path_params["action"]
    if action not in TICKET_ACTIONS:
        raise NotFound(f"no ticket action {action!r}", code="action_not_found")
    who = (await authenticate(request)).require(clinic_id, "doctor", "registrar", "head")
    clinic = await engine.clinic(clinic_id)
    body, raw = await _body(request, TicketActionBody)
    if action == "transfer":
        if not body.service:
            raise ValidationFailed('transfer needs {"service": ...}')
        if clinic.service(body.service) is None:
            raise NotFound(f"no service {body.service!r} in this clinic", code="service_not_found")
    key, fp = _idem(request, who, raw)
    cmd = c.Act(request.path_params["ticket"], action, body.service, who.acting_doctor)
    result = await engine.execute(clinic_id, cmd, idem_key=key, fingerprint=fp)
    return JSON(ticket_view(clinic, result["ticket"], 0, None))


async def call_next(request: Request) -> Response:
    engine, clinic_id = engine_of(request), request.path_params["clinic"]
    who = (await authenticate(request)).require(clinic_id, "doctor", "head")
    clinic = await engine.clinic(clinic_id)
    cabinet = request.path_params["cabinet"]
    if clinic.cabinet(cabinet) is None:
        raise NotFound(f"no cabinet {cabinet!r} in this clinic", code="cabinet_not_found")
    _, raw = await _body(request, Empty)
    key, fp = _idem(request, who, raw)
    result = await engine.execute(
        clinic_id, c.CallNext(cabinet, who.acting_doctor), idem_key=key, fingerprint=fp
    )
    ticket = result.get("ticket")
    return JSON({"ticket": ticket_view(clinic, ticket, 0, None) if ticket else None})


# -- roster --------------------------------------------------------------------------------------


async def put_duty(request: Request) -> Response:
    engine, clinic_id = engine_of(request), request.path_params["clinic"]
    who = (await authenticate(request)).require(clinic_id, "head", "doctor")
    clinic = await engine.clinic(clinic_id)
    doctor = request.path_params["doctor"]
    if clinic.doctor(doctor) is None:
        raise NotFound(f"no doctor {doctor!r} in this clinic", code="doctor_not_found")
    body, raw = await _body(request, DutyBody)
    if who.role == "doctor":
        if who.doctor != doctor:
            raise Forbidden("a doctor changes only their own duty")
        if body.cabinet is not None or body.services is not None:
            raise Forbidden("only a department head moves doctors between cabinets and queues")
    if body.cabinet is not None and clinic.cabinet(body.cabinet) is None:
        raise NotFound(f"no cabinet {body.cabinet!r} in this clinic", code="cabinet_not_found")
    if body.services is not None:
        unknown = [s for s in body.services if clinic.service(s) is None]
        if unknown or not body.services or len(set(body.services)) != len(body.services):
            raise ValidationFailed(
                "services must be a non-empty list of this clinic's services, once each"
            )
    key, fp = _idem(request, who, raw)
    cmd = c.SetDuty(
        doctor, body.status, body.cabinet, tuple(body.services) if body.services else None
    )
    result = await engine.execute(clinic_id, cmd, idem_key=key, fingerprint=fp)
    return JSON(msgspec.to_builtins(result["doctor"]))


# -- board and clinics ---------------------------------------------------------------------------


async def get_board(request: Request) -> Response:
    engine, clinic_id = engine_of(request), request.path_params["clinic"]
    (await authenticate(request)).require(clinic_id, *ALL_STAFF)
    return JSON(await engine.board(clinic_id))


async def get_clinic(request: Request) -> Response:
    engine, clinic_id = engine_of(request), request.path_params["clinic"]
    who = (await authenticate(request)).require(clinic_id, *ALL_STAFF, "partner")
    config = msgspec.to_builtins(await engine.clinic(clinic_id))
    if who.role not in ("admin", "head"):
        config.pop("kiosks", None)  # printer addresses are the clinic's own business
    return JSON(config)


async def put_clinic(request: Request) -> Response:
    engine, clinic_id = engine_of(request), request.path_params["clinic"]
    (await authenticate(request)).require(clinic_id, "admin")
    raw = await read_body(request, request.app.state.settings.max_body_bytes)
    clinic = parse_clinic(raw)
    if clinic.id != clinic_id:
        raise ValidationFailed("the body's id must match the URL")
    await engine.put_clinic(clinic)
    return JSON(msgspec.to_builtins(clinic))


# -- slots and reservations ----------------------------------------------------------------------


def _slot(clinic: Clinic, slot_id: str, now: int, *, to_book: bool = True) -> Slot:
    """A slot that the schedules have and, ``to_book``, that is open for booking now."""
    slot = find_slot(clinic, slot_id)
    if slot is None:
        raise NotFound(f"no slot {slot_id!r} in the schedules", code="slot_not_found")
    first, last = booking_window(clinic, now)
    if to_book and not first <= slot.start.date() <= last:
        raise Conflict(f"bookings are open from {first} to {last}", code="outside_booking_window")
    return slot


async def list_slots(request: Request) -> Response:
    engine, clinic_id = engine_of(request), request.path_params["clinic"]
    (await authenticate(request)).require(clinic_id, *ALL_STAFF, "partner")
    clinic = await engine.clinic(clinic_id)
    now = engine.clock()
    query = request.query_params
    try:
        day = date.fromisoformat(query["date"]) if query.get("date") else None
    except ValueError:
        raise ValidationFailed("date must be YYYY-MM-DD") from None
    first, last = booking_window(clinic, now)
    day = day or first
    if not first - timedelta(days=366) <= day <= last:
        raise ValidationFailed(f"slots are listed up to {last}, bookings being open until then")
    doctor = query.get("doctor") or None
    if doctor is not None and clinic.doctor(doctor) is None:
        raise NotFound(f"no doctor {doctor!r} in this clinic", code="doctor_not_found")
    free_only = {"true": True, "1": True, "false": False, "0": False}.get(query.get("free", ""))
    slots = slots_for(clinic, day, doctor)
    holders = await engine.store.slot_holders(clinic_id, [s.id for s in slots])
    out = []
    for s in slots:
        holder = holders.get(s.id)
        free = s.start_ms > now and (holder is None or not holder.active(now))
        if free_only is None or free_only == free:
            out.append(
                {
                    "id": s.id,
                    "doctor": s.doctor,
                    "service": s.service,
                    "start": s.start.isoformat(),
                    "minutes": s.minutes,
                    "free": free,
                }
            )
    return JSON({"date": day.isoformat(), "slots": out})


async def reserve_slot(request: Request) -> Response:
    engine, clinic_id = engine_of(request), request.path_params["clinic"]
    who = (await authenticate(request)).require(clinic_id, "partner", "registrar", "head")
    clinic = await engine.clinic(clinic_id)
    slot = _slot(clinic, request.path_params["slot"], engine.clock())
    body, raw = await _body(request, ReserveBody)
    patient = _text(body.patient, "patient")
    channel = _text(body.channel, "channel")
    owner = who.token_id if who.role == "partner" else ""
    key, fp = _idem(request, who, raw)
    cmd = c.Reserve(slot, patient, channel, owner, body.confirm)
    result = await engine.execute(clinic_id, cmd, idem_key=key, fingerprint=fp)
    return JSON(reservation_view(clinic, result["reservation"], engine.clock()), status_code=201)


async def cancel_slot(request: Request) -> Response:
    engine, clinic_id = engine_of(request), request.path_params["clinic"]
    who = (await authenticate(request)).require(clinic_id, "partner", "registrar", "head")
    clinic = await engine.clinic(clinic_id)
    slot = _slot(clinic, request.path_params["slot"], engine.clock(), to_book=False)
    owner = who.token_id if who.role == "partner" else ""
    key, fp = _idem(request, who, b"")
    result = await engine.execute(
        clinic_id, c.Cancel(slot=slot.id, owner=owner), idem_key=key, fingerprint=fp
    )
    return JSON(reservation_view(clinic, result["reservation"], engine.clock()))


async def reservation_action(request: Request) -> Response:
    engine, clinic_id = engine_of(request), request.path_params["clinic"]
    action, rid = request.path_params["action"], request.path_params["reservation"]
    roles = {
        "move": ("partner", "registrar", "head"),
        "confirm": ("partner", "registrar", "head"),
        "cancel": ("partner", "registrar", "head"),
        "check-in": ("kiosk", "registrar", "head"),
    }
    if action not in roles:
        raise NotFound(f"no reservation action {action!r}", code="action_not_found")
    who = (await authenticate(request)).require(clinic_id, *roles[action])
    clinic = await engine.clinic(clinic_id)
    owner = who.token_id if who.role == "partner" else ""
    cmd: c.Command
    if action == "move":
        body, raw = await _body(request, MoveBody)
        cmd = c.Move(rid, _slot(clinic, body.slot, engine.clock()), owner)
    elif action == "check-in":
        body, raw = await _body(request, CheckInBody)
        if who.role == "kiosk":
            # Reservation ids are short and sequential: at a kiosk the patient also proves
            # who they are, and a wrong pair reads as "not found" so ids cannot be probed.
            found = await engine.store.reservation(clinic_id, rid)
            if found is None or not body.patient or body.patient.strip() != found.patient:
                raise NotFound("no such booking for that patient", code="reservation_not_found")
        cmd = c.CheckIn(rid)
    else:
        _, raw = await _body(request, Empty)
        simple: dict[str, c.Command] = {
            "confirm": c.Confirm(rid, owner),
            "cancel": c.Cancel(reservation=rid, owner=owner),
        }
        cmd = simple[action]
    key, fp = _idem(request, who, raw)
    result = await engine.execute(clinic_id, cmd, idem_key=key, fingerprint=fp)
    view = reservation_view(clinic, result["reservation"], engine.clock())
    if "ticket" in result:
        view["ticket"] = ticket_view(clinic, result["ticket"], 0, None)
    return JSON(view)


async def get_reservation(request: Request) -> Response:
    engine, clinic_id = engine_of(request), request.path_params["clinic"]
    who = (await authenticate(request)).require(clinic_id, "partner", "registrar", "head", "kiosk")
    clinic = await engine.clinic(clinic_id)
    found = await engine.store.reservation(clinic_id, request.path_params["reservation"])
    if found is None or (who.role == "partner" and found.owner != who.token_id):
        raise NotFound("no such reservation", code="reservation_not_found")
    return JSON(reservation_view(clinic, found, engine.clock()))


ALL_STAFF = ("kiosk", "registrar", "doctor", "head", "display", "icu_doctor")
