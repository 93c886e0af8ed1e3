"""Queue, roster and clinic handlers: take a ticket, act on it, call next, change duty, boards.

Each is declared once in ``engine.api.endpoints``, which authenticates and reads the body."""

from __future__ import annotations

import re
from typing import Annotated, Literal

import msgspec
from starlette.responses import Response

from engine import commands as c
from engine.api.endpoint import Call, Handler
from engine.api.http import JSON
from engine.api.views import TicketView, new_link, public_ticket_view, status_path, ticket_view
from engine.clinic import Clinic
from engine.errors import BadRequest, Conflict, Forbidden, NotFound, ValidationFailed
from engine.model.entities import DoctorDuty, Ticket
from engine.model.matching import number_key
from engine.model.queue import duty_of
from engine.model.tickets import CANCEL_REASONS

ETAG = re.compile(r'"(\d{1,15})"')


class TakeTicket(msgspec.Struct, forbid_unknown_fields=True):
    service: Annotated[
        str, msgspec.Meta(description="one of the clinic's services (its id)", examples=["therapy"])
    ]
    priority: Annotated[
        str,
        msgspec.Meta(
            description="empty, or one of the clinic's policy.priority_categories "
            "(GET /api/v1/clinics/{clinic}); anything else is 422"
        ),
    ] = ""
    channel: Literal["kiosk", "desk", "registrar", "phone", "app"] = "kiosk"


class TicketActionBody(msgspec.Struct, forbid_unknown_fields=True):
    service: str | None = None  # for transfer
    reason: Annotated[
        str | None,
        msgspec.Meta(description="for cancel: why (" + ", ".join(CANCEL_REASONS) + ")"),
    ] = None


class TicketList(msgspec.Struct):
    """Today's tickets with the number asked for, oldest first (usually one)."""

    tickets: list[TicketView]


class DutyBody(msgspec.Struct, forbid_unknown_fields=True):
    status: Literal["on_duty", "break", "off"] | None = None
    cabinet: str | None = None
    services: list[str] | None = None


class CallNextAnswer(msgspec.Struct):
    ticket: TicketView | None


class Whoami(msgspec.Struct):
    """A token's principal, never its secret: its role, and the clinic and the doctor it is
    bound to (null: not bound)."""

    role: str
    clinic: str | None
    doctor: str | None


async def take_ticket(call: Call) -> Response:
    clinic, body = await call.clinic(), call.body
    if clinic.service(body.service) is None:
        raise NotFound(f"no service {body.service!r} in this clinic", code="service_not_found")
    if body.priority and body.priority not in clinic.policy.priority_categories:
        raise ValidationFailed(
            f"priority must be one of {', '.join(clinic.policy.priority_categories)}"
        )
    key, fp = call.idempotency()
    result = await call.engine.execute(
        call.clinic_id,
        c.Issue(body.service, body.priority, body.channel, new_link()),
        idem_key=key,
        fingerprint=fp,
    )
    rates = (result["served"], result["seconds"], result["on_duty"])
    now = call.engine.clock()
    view = ticket_view(clinic, result["ticket"], result["ahead"], rates, now=now)
    view.status_url = status_path(call.clinic_id, result["ticket"])
    return JSON(view, status_code=201)


async def live_view(call: Call, ticket: Ticket, ahead: int) -> TicketView:
    """A ticket as it stands now: its queue's rates and, when booked, the doctor's cabinet in
    the live roster (a head may have moved them since the booking)."""
    engine, clinic = call.engine, await call.clinic()
    rates = await engine.store.rates(call.clinic_id, ticket.service)
    cabinet = None
    if ticket.slot_time is not None and ticket.doctor is not None:
        cabinet = await engine.store.doctor_cabinet(call.clinic_id, ticket.doctor)
    return ticket_view(clinic, ticket, ahead, rates, now=engine.clock(), cabinet=cabinet)


async def get_ticket(call: Call) -> Response:
    """Staff: a ticket by its id, in full."""
    ticket, ahead = await call.engine.ticket(call.clinic_id, call.params["ticket"])
    return JSON(await live_view(call, ticket, ahead))


async def find_tickets(call: Call) -> Response:
    """Staff at the desk: today's tickets by the number a patient reads out ("т42", "Т-042"),
    each with its status link, to show its QR code again."""
    typed = number_key(call.request.query_params.get("number", ""))
    if typed is None:
        raise ValidationFailed("number must be a ticket number such as Т-042")
    found = []
    for ticket, ahead in await call.engine.tickets_numbered(call.clinic_id, typed):
        view = await live_view(call, ticket, ahead)
        view.status_url = status_path(call.clinic_id, ticket)
        found.append(view)
    return JSON(TicketList(found))


async def get_ticket_status(call: Call) -> Response:
    """Public: the patient's phone opens it from the QR code. The link is the credential; the
    answer is the public view."""
    ticket, ahead = await call.engine.ticket_by_link(call.clinic_id, call.params["link"])
    return JSON(public_ticket_view(await live_view(call, ticket, ahead)))


def ticket_action(action: str) -> Handler:
    """The handler of one ticket action (recall, start, ..., transfer, cancel)."""

    async def act(call: Call) -> Response:
        clinic, body = await call.clinic(), call.body
        if body.reason is not None and (action != "cancel" or body.reason not in CANCEL_REASONS):
            raise ValidationFailed(
                f"a reason is for cancel only: one of {', '.join(CANCEL_REASONS)}"
            )
        if action == "transfer":
            if not body.service:
                raise ValidationFailed('transfer needs {"service": ...}')
            if clinic.service(body.service) is None:
                raise NotFound(
                    f"no service {body.service!r} in this clinic", code="service_not_found"
                )
        key, fp = call.idempotency()
        cmd = c.Act(
            call.params["ticket"],
            action,
            body.service,
            call.principal.acting_doctor,
            body.reason or "",
        )
        result = await call.engine.execute(call.clinic_id, cmd, idem_key=key, fingerprint=fp)
        return JSON(ticket_view(clinic, result["ticket"], 0, None, now=call.engine.clock()))

    act.__name__ = "ticket_" + action.replace("-", "_")
    return act


async def unknown_action(call: Call) -> Response:
    raise NotFound(f"no action {call.params['action']!r}", code="action_not_found")


async def call_next(call: Call) -> Response:
    clinic = await call.clinic()
    cabinet = call.params["cabinet"]
    if clinic.cabinet(cabinet) is None:
        raise NotFound(f"no cabinet {cabinet!r} in this clinic", code="cabinet_not_found")
    key, fp = call.idempotency()
    result = await call.engine.execute(
        call.clinic_id,
        c.CallNext(cabinet, call.principal.acting_doctor),
        idem_key=key,
        fingerprint=fp,
    )
    ticket = result.get("ticket")
    view = ticket_view(clinic, ticket, 0, None, now=call.engine.clock()) if ticket else None
    return JSON(CallNextAnswer(view))


async def put_duty(call: Call) -> Response:
    clinic, body, who = await call.clinic(), call.body, call.principal
    doctor = call.params["doctor"]
    if clinic.doctor(doctor) is None:
        raise NotFound(f"no doctor {doctor!r} in this clinic", code="doctor_not_found")
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
    key, fp = call.idempotency()
    version = if_match(call.request.headers.get("if-match"))
    cmd = c.SetDuty(
        doctor, body.status, body.cabinet, tuple(body.services) if body.services else None, version
    )
    try:
        result = await call.engine.execute(call.clinic_id, cmd, idem_key=key, fingerprint=fp)
    except Conflict as exc:
        if exc.code != "stale_duty":
            raise
        # The head's screen was behind: answer with the state it missed, to show and edit anew.
        state, _ = await call.engine.live_state(call.clinic_id)
        config = clinic.doctor(doctor)
        current = duty_of(
            state, doctor, config.cabinet if config else None, config.services if config else []
        )
        raise Conflict(exc.message, code=exc.code, doctor=msgspec.to_builtins(current)) from exc
    duty: DoctorDuty = result["doctor"]
    return JSON(msgspec.to_builtins(duty), headers={"ETag": etag(duty.version)})


def if_match(header: str | None) -> int | None:
    """The duty version an If-Match header names (None: no header, or ``*``, any version)."""
    if header is None or header.strip() == "*":
        return None
    found = ETAG.fullmatch(header.strip())
    if found is None:
        raise BadRequest(
            'If-Match must be the ETag of the doctor\'s duty, e.g. "3"', code="bad_if_match"
        )
    return int(found.group(1))


def etag(version: int) -> str:
    return f'"{version}"'


async def get_board(call: Call) -> Response:
    return JSON(await call.engine.board(call.clinic_id))


async def whoami(call: Call) -> Response:
    # A page learns at once whose link it was opened with (the doctor's panel opened with
    # another doctor's token), instead of at the first refused click.
    await call.clinic()  # an unknown clinic is 404, as on every clinic's path
    who = call.principal
    return JSON(Whoami(who.role, who.clinic, who.doctor))


async def get_clinic(call: Call) -> Response:
    config = msgspec.to_builtins(await call.clinic())
    if call.principal.role not in ("admin", "head"):
        config.pop("kiosks", None)  # printer addresses are the clinic's own business
    return JSON(config)


async def put_clinic(call: Call) -> Response:
    clinic: Clinic = call.body.validate()
    if clinic.id != call.clinic_id:
        raise ValidationFailed("the body's id must match the URL")
    await call.engine.put_clinic(clinic)
    return JSON(msgspec.to_builtins(clinic))
