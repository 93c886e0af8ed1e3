"""Queue, roster and clinic handlers: take a ticket, act on it, call next, change duty, boards."""

from __future__ import annotations

from typing import Literal

import msgspec
from starlette.requests import Request
from starlette.responses import Response

from engine import commands as c
from engine.api.handlers import ALL_STAFF, Empty, authenticate, engine_of, idempotency, read_json
from engine.api.http import JSON, read_body
from engine.api.views import ticket_view
from engine.clinic import parse_clinic
from engine.errors import Forbidden, NotFound, ValidationFailed
from engine.model.tickets import TICKET_ACTIONS


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


async def take_ticket(request: Request) -> Response:
    engine, clinic_id = engine_of(request), request.path_params["clinic"]
    who = (await authenticate(request)).require(clinic_id, "kiosk", "registrar", "head")
    clinic = await engine.clinic(clinic_id)
    body, raw = await read_json(request, TakeTicket)
    if clinic.service(body.service) is None:
        raise NotFound(f"no service {body.service!r} in this clinic", code="service_not_found")
    if body.priority and body.priority not in clinic.policy.priority_categories:
        raise ValidationFailed(
            f"priority must be one of {', '.join(clinic.policy.priority_categories)}"
        )
    key, fp = idempotency(request, who, raw)
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
    body, raw = await read_json(request, TicketActionBody)
    if action == "transfer":
        if not body.service:
            raise ValidationFailed('transfer needs {"service": ...}')
        if clinic.service(body.service) is None:
            raise NotFound(f"no service {body.service!r} in this clinic", code="service_not_found")
    key, fp = idempotency(request, who, raw)
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
    _, raw = await read_json(request, Empty)
    key, fp = idempotency(request, who, raw)
    result = await engine.execute(
        clinic_id, c.CallNext(cabinet, who.acting_doctor), idem_key=key, fingerprint=fp
    )
    ticket = result.get("ticket")
    return JSON({"ticket": ticket_view(clinic, ticket, 0, None) if ticket else None})


async def put_duty(request: Request) -> Response:
    engine, clinic_id = engine_of(request), request.path_params["clinic"]
    who = (await authenticate(request)).require(clinic_id, "head", "doctor")
    clinic = await engine.clinic(clinic_id)
    doctor = request.path_params["doctor"]
    if clinic.doctor(doctor) is None:
        raise NotFound(f"no doctor {doctor!r} in this clinic", code="doctor_not_found")
    body, raw = await read_json(request, DutyBody)
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
    key, fp = idempotency(request, who, raw)
    cmd = c.SetDuty(
        doctor, body.status, body.cabinet, tuple(body.services) if body.services else None
    )
    result = await engine.execute(clinic_id, cmd, idem_key=key, fingerprint=fp)
    return JSON(msgspec.to_builtins(result["doctor"]))


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
