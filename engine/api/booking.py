"""Booking handlers: list slots, reserve, cancel, and a reservation's move, confirm, cancel, check-in."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Annotated, Literal

import msgspec
from starlette.responses import Response

from engine import commands as c
from engine.api.endpoint import Call, Handler
from engine.api.http import JSON
from engine.api.routes import live_view
from engine.api.views import ReservationView, new_link, reservation_view, status_path
from engine.clinic import Clinic
from engine.errors import Conflict, EngineError, NotFound, ValidationFailed
from engine.model.booking import Slot, booking_window, find_slot, slots_for
from engine.model.clock import day_bounds
from engine.model.matching import booking_code, patient_key
from engine.text import plain_text


class ReserveBody(msgspec.Struct, forbid_unknown_fields=True):
    patient: Annotated[
        str,
        msgspec.Meta(
            description=(
                "the patient's reference at this channel, checked again at a kiosk's check-in:"
                " by its digits alone when it has six or more (a policy number, a phone), since"
                " the kiosk's keypad types digits only; otherwise without spaces, dashes or case"
            ),
            examples=["полис 7700 123456"],
        ),
    ]
    channel: str = "portal"
    confirm: bool = False


class MoveBody(msgspec.Struct, forbid_unknown_fields=True):
    slot: str


class CheckInBody(msgspec.Struct, forbid_unknown_fields=True):
    # A kiosk must give the patient reference the booking was made with (compared by its
    # digits when it has six or more, else without spaces, dashes or letter case:
    # engine/model/matching.py).
    patient: str | None = None


class SlotView(msgspec.Struct):
    id: str
    doctor: str
    service: str
    start: str
    minutes: int
    free: bool


class SlotList(msgspec.Struct):
    date: str
    slots: list[SlotView]


class FirstFree(msgspec.Struct):
    """The first free slot of a service from now on, within the booking window."""

    service: str
    today: str  # the clinic's local date the search starts from
    days: int | None  # from today to the slot's date; None: nothing free in the window
    slot: SlotView | None


def _slot(clinic: Clinic, slot_id: str, now: int, *, to_book: bool = True) -> Slot:
    """A slot that the schedules have and, ``to_book``, that is open for booking now."""
    slot = find_slot(clinic, slot_id)
    if slot is None:
        raise NotFound(f"no slot {slot_id!r} in the schedules", code="slot_not_found")
    first, last = booking_window(clinic, now)
    if to_book and not first <= slot.start.date() <= last:
        raise Conflict(f"bookings are open from {first} to {last}", code="outside_booking_window")
    return slot


async def list_slots(call: Call) -> Response:
    engine, clinic = call.engine, await call.clinic()
    now = engine.clock()
    query = call.request.query_params
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
    holders = await engine.store.slot_holders(call.clinic_id, [s.id for s in slots])
    out = []
    for s in slots:
        holder = holders.get(s.id)
        free = s.start_ms > now and (holder is None or not holder.active(now))
        if free_only is None or free_only == free:
            out.append(SlotView(s.id, s.doctor, s.service, s.start.isoformat(), s.minutes, free))
    return JSON(SlotList(day.isoformat(), out))


async def first_free_slot(call: Call) -> Response:
    """One call instead of one a day: the city overview asks every clinic how soon a patient
    can see a therapist. Holders are read a day at a time, and the search stops at the first."""
    engine, clinic = call.engine, await call.clinic()
    now = engine.clock()
    service = call.request.query_params.get("service") or clinic.services[0].id
    if clinic.service(service) is None:
        raise NotFound(f"no service {service!r} in this clinic", code="service_not_found")
    first, last = booking_window(clinic, now)
    day = first
    while day <= last:
        slots = [s for s in slots_for(clinic, day) if s.service == service and s.start_ms > now]
        holders = await engine.store.slot_holders(call.clinic_id, [s.id for s in slots])
        for s in slots:
            holder = holders.get(s.id)
            if holder is None or not holder.active(now):
                view = SlotView(s.id, s.doctor, s.service, s.start.isoformat(), s.minutes, True)
                return JSON(FirstFree(service, first.isoformat(), (day - first).days, view))
        day += timedelta(days=1)
    return JSON(FirstFree(service, first.isoformat(), None, None))


def _owner(call: Call) -> str:
    """A partner acts on its own reservations only; staff on any."""
    who = call.principal
    return who.token_id if who.role == "partner" else ""


async def reserve_slot(call: Call) -> Response:
    engine, clinic, body = call.engine, await call.clinic(), call.body
    slot = _slot(clinic, call.params["slot"], engine.clock())
    patient = plain_text(body.patient, "patient")
    channel = plain_text(body.channel, "channel")
    key, fp = call.idempotency()
    cmd = c.Reserve(slot, patient, channel, _owner(call), body.confirm)
    result = await engine.execute(call.clinic_id, cmd, idem_key=key, fingerprint=fp)
    return JSON(reservation_view(clinic, result["reservation"], engine.clock()), status_code=201)


async def cancel_slot(call: Call) -> Response:
    engine, clinic = call.engine, await call.clinic()
    slot = _slot(clinic, call.params["slot"], engine.clock(), to_book=False)
    key, fp = call.idempotency()
    result = await engine.execute(
        call.clinic_id, c.Cancel(slot=slot.id, owner=_owner(call)), idem_key=key, fingerprint=fp
    )
    return JSON(reservation_view(clinic, result["reservation"], engine.clock()))


def reservation_action(action: str) -> Handler:
    """The handler of one reservation action: move, confirm, cancel or check-in."""

    async def act(call: Call) -> Response:
        engine, clinic, rid = call.engine, await call.clinic(), call.params["reservation"]
        owner = _owner(call)
        cmd: c.Command
        if action == "move":
            cmd = c.Move(rid, _slot(clinic, call.body.slot, engine.clock()), owner)
        elif action == "check-in":
            patient = None
            if call.principal.role == "kiosk":
                # Reservation ids are short and sequential: at a kiosk the patient also proves
                # who they are, checked in the same script that checks in, and a wrong pair
                # reads as "not found" so ids cannot be probed. Both are typed, so both are
                # read loosely (engine/model/matching.py).
                rid = booking_code(rid)
                patient = call.body.patient or ""
            cmd = c.CheckIn(rid, new_link(), patient)
        elif action == "confirm":
            cmd = c.Confirm(rid, owner)
        else:
            cmd = c.Cancel(reservation=rid, owner=owner)
        key, fp = call.idempotency()
        try:
            result = await engine.execute(call.clinic_id, cmd, idem_key=key, fingerprint=fp)
        except EngineError as exc:
            if exc.code == "already_checked_in":
                raise await _checked_in_again(call, rid, exc) from exc
            raise
        view = reservation_view(clinic, result["reservation"], engine.clock())
        if "ticket" in result:
            # Read at the kiosk: the patient's time, doctor and cabinet, and the wait to their
            # slot; the status page counts who is ahead as it goes.
            ticket = await live_view(call, result["ticket"], 0)
            ticket.status_url = status_path(call.clinic_id, result["ticket"])
            view.ticket = ticket
        return JSON(view)

    act.__name__ = "reservation_" + action.replace("-", "_")
    return act


async def _checked_in_again(call: Call, rid: str, refusal: EngineError) -> EngineError:
    """The refusal of a second check-in, carrying the ticket the first one gave: a patient who
    lost the paper learns the number again. Only who proved the booking gets this far (a kiosk's
    wrong pair was refused as not found), and a checked-in booking's ticket never changes."""
    found = await call.engine.store.reservation(call.clinic_id, rid)
    if found is None or not found.ticket:
        return refusal
    try:
        ticket, ahead = await call.engine.ticket(call.clinic_id, found.ticket)
    except NotFound:
        return refusal  # a ticket of an earlier day, gone at midnight
    view = await live_view(call, ticket, ahead)
    view.status_url = status_path(call.clinic_id, ticket)
    return Conflict(refusal.message, code=refusal.code, ticket=msgspec.to_builtins(view))


class PatientQuery(msgspec.Struct, forbid_unknown_fields=True):
    # In a body, not the query string: a policy number or a phone must not reach access logs.
    patient: Annotated[str, msgspec.Meta(max_length=200)]


class ReservationList(msgspec.Struct):
    """A patient's bookings from today on that still hold their slots, soonest first."""

    reservations: list[ReservationView]


async def find_reservations(call: Call) -> Response:
    """The desk: a patient's bookings by their reference (policy number), read as loosely as at
    a kiosk. The answer never repeats the reference."""
    engine, clinic = call.engine, await call.clinic()
    patient = call.body.patient
    if len(patient_key(patient)) < 2:
        raise ValidationFailed("patient must be the patient's reference, e.g. a policy number")
    now = engine.clock()
    today = day_bounds(now, clinic.timezone)[0]
    found = await engine.store.reservations_of(call.clinic_id, patient)
    kept = sorted(
        (r for r in found if r.active(now) and r.slot_time >= today), key=lambda r: r.slot_time
    )
    return JSON(ReservationList([reservation_view(clinic, r, now) for r in kept]))


async def get_reservation(call: Call) -> Response:
    """A reservation from the live state, or else from the journal: the live state drops a past
    day's bookings when the next day opens, and a patient may ask about last week's."""
    engine, clinic, who = call.engine, await call.clinic(), call.principal
    rid = call.params["reservation"]
    found = await engine.store.reservation(call.clinic_id, rid)
    source: Literal["live", "journal"] = "live"
    if found is None:
        found, source = await engine.past_reservation(call.clinic_id, rid), "journal"
    if found is None or (who.role == "partner" and found.owner != who.token_id):
        raise NotFound("no such reservation", code="reservation_not_found")
    return JSON(reservation_view(clinic, found, engine.clock(), source))
