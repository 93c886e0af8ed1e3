"""Booking handlers: list slots, reserve, cancel, and a reservation's move, confirm, cancel, check-in."""

from __future__ import annotations

from datetime import date, timedelta

import msgspec
from starlette.requests import Request
from starlette.responses import Response

from engine import commands as c
from engine.api.handlers import (
    ALL_STAFF,
    Empty,
    authenticate,
    engine_of,
    idempotency,
    printable_text,
    read_json,
)
from engine.api.http import JSON
from engine.api.views import reservation_view, ticket_view
from engine.clinic import Clinic
from engine.errors import Conflict, NotFound, ValidationFailed
from engine.model.booking import Slot, booking_window, find_slot, slots_for


class ReserveBody(msgspec.Struct, forbid_unknown_fields=True):
    patient: str
    channel: str = "portal"
    confirm: bool = False


class MoveBody(msgspec.Struct, forbid_unknown_fields=True):
    slot: str


class CheckInBody(msgspec.Struct, forbid_unknown_fields=True):
    patient: str | None = None  # a kiosk must give the patient reference the booking was made with


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
    body, raw = await read_json(request, ReserveBody)
    patient = printable_text(body.patient, "patient")
    channel = printable_text(body.channel, "channel")
    owner = who.token_id if who.role == "partner" else ""
    key, fp = idempotency(request, who, raw)
    cmd = c.Reserve(slot, patient, channel, owner, body.confirm)
    result = await engine.execute(clinic_id, cmd, idem_key=key, fingerprint=fp)
    return JSON(reservation_view(clinic, result["reservation"], engine.clock()), status_code=201)


async def cancel_slot(request: Request) -> Response:
    engine, clinic_id = engine_of(request), request.path_params["clinic"]
    who = (await authenticate(request)).require(clinic_id, "partner", "registrar", "head")
    clinic = await engine.clinic(clinic_id)
    slot = _slot(clinic, request.path_params["slot"], engine.clock(), to_book=False)
    owner = who.token_id if who.role == "partner" else ""
    key, fp = idempotency(request, who, b"")
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
        body, raw = await read_json(request, MoveBody)
        cmd = c.Move(rid, _slot(clinic, body.slot, engine.clock()), owner)
    elif action == "check-in":
        body, raw = await read_json(request, CheckInBody)
        if who.role == "kiosk":
            # Reservation ids are short and sequential: at a kiosk the patient also proves
            # who they are, and a wrong pair reads as "not found" so ids cannot be probed.
            found = await engine.store.reservation(clinic_id, rid)
            if found is None or not body.patient or body.patient.strip() != found.patient:
                raise NotFound("no such booking for that patient", code="reservation_not_found")
        cmd = c.CheckIn(rid)
    else:
        _, raw = await read_json(request, Empty)
        simple: dict[str, c.Command] = {
            "confirm": c.Confirm(rid, owner),
            "cancel": c.Cancel(reservation=rid, owner=owner),
        }
        cmd = simple[action]
    key, fp = idempotency(request, who, raw)
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
