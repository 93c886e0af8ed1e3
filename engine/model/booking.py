"""Booking slots: schedules make slots, and the rules to reserve, confirm, cancel, move, check in.

A slot is named by its doctor and start (``ivanova.20261126.0815``) and exists because the doctor's
schedule says so; the live state only records which reservation holds a slot. A hold that timed
out frees its slot for the next reservation without any sweeper.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import msgspec

from engine.clinic import Clinic
from engine.model import events as ev
from engine.model.entities import Reservation, Ticket
from engine.model.errors import DecisionError
from engine.model.matching import patient_key
from engine.model.queue import Outcome, open_day
from engine.model.reservations import Action, State, next_state
from engine.model.state import ClinicState


@dataclass(frozen=True, slots=True)
class Slot:
    id: str
    doctor: str
    service: str
    start: datetime
    minutes: int

    @property
    def start_ms(self) -> int:
        return int(self.start.timestamp() * 1000)

    @property
    def day(self) -> str:
        return self.start.date().isoformat()


def slots_for(clinic: Clinic, day: date, doctor: str | None = None) -> list[Slot]:
    """Every slot the schedules give on a local date, in time order."""
    zone = ZoneInfo(clinic.timezone)
    found: list[Slot] = []
    for d in clinic.doctors:
        if d.schedule is None or (doctor and d.id != doctor):
            continue
        if day.isoweekday() not in d.schedule.weekdays:
            continue
        service = d.schedule.service or d.services[0]
        start = datetime.combine(day, _hhmm(d.schedule.start), zone)
        end = datetime.combine(day, _hhmm(d.schedule.end), zone)
        step = timedelta(minutes=d.schedule.slot_minutes)
        while start + step <= end:
            slot_id = f"{d.id}.{day:%Y%m%d}.{start:%H%M}"
            found.append(Slot(slot_id, d.id, service, start, d.schedule.slot_minutes))
            start += step
    return sorted(found, key=lambda s: (s.start, s.doctor))


def find_slot(clinic: Clinic, slot_id: str) -> Slot | None:
    """The slot a name refers to, if the doctor's schedule really has it."""
    try:
        doctor, ymd, _ = slot_id.split(".")
        day = datetime.strptime(ymd, "%Y%m%d").date()
    except ValueError:
        return None
    if not date(1970, 1, 2) <= day < date(9999, 12, 31):
        return None  # no schedule reaches there, and the last day's slots would overflow
    return next((s for s in slots_for(clinic, day, doctor) if s.id == slot_id), None)


def booking_window(clinic: Clinic, now_ms: int) -> tuple[date, date]:
    """The first and last local dates open for booking: today and ``booking_days_ahead`` more."""
    today = datetime.fromtimestamp(now_ms / 1000, ZoneInfo(clinic.timezone)).date()
    return today, today + timedelta(days=clinic.policy.booking_days_ahead)


def _hhmm(text: str) -> time:
    hours, minutes = text.split(":")
    return time(int(hours), int(minutes))


def _holding(
    state: ClinicState, slot: str, now: int
) -> tuple[Reservation | None, Reservation | None]:
    """(the active reservation on a slot, or an old hold that must now be marked expired)."""
    rid = state.slots.get(slot)
    current = state.reservations.get(rid) if rid else None
    if current is None:
        return None, None
    if current.active(now):
        return current, None
    return None, msgspec.structs.replace(current, state=next_state(current.state, Action.EXPIRE))


def reserve(
    state: ClinicState,
    out: Outcome,
    now: int,
    *,
    slot: Slot,
    patient: str,
    channel: str,
    owner: str,
    confirm: bool,
    hold_ms: int,
) -> Outcome:
    """Hold a free slot for ``hold_ms`` (or book it outright): one slot, one reservation."""
    if slot.start_ms <= now:
        raise DecisionError("slot_past", "that slot has already begun")
    taken, expired = _holding(state, slot.id, now)
    if taken is not None:
        raise DecisionError("slot_taken", f"slot {slot.id} is already reserved")
    reservation = Reservation(
        id=f"r{state.offset + 1}",
        slot=slot.id,
        doctor=slot.doctor,
        service=slot.service,
        slot_time=slot.start_ms,
        state=State.CONFIRMED if confirm else State.HELD,
        patient=patient,
        created_at=now,
        channel=channel,
        owner=owner,
        hold_until=None if confirm else now + hold_ms,
    )
    out.emit(state, ev.SlotReserved, now, reservation=reservation, expired=expired)
    out.result = {"reservation": reservation}
    return out


def _own(state: ClinicState, rid: str, owner: str, now: int) -> Reservation:
    reservation = state.reservations.get(rid)
    # Another channel's reservation reads exactly as one that does not exist: a partner must
    # not learn that an id (they are sequential) is someone else's booking.
    if reservation is None or (owner and reservation.owner != owner):
        raise DecisionError("reservation_not_found", f"no reservation {rid}")
    if reservation.state == State.HELD and not reservation.active(now):
        raise DecisionError("hold_expired", "the hold on this slot has expired")
    return reservation


def cancel_slot(state: ClinicState, out: Outcome, now: int, *, slot: str, owner: str) -> Outcome:
    """Cancel whatever reservation holds a slot (``DELETE /slots/{slot}/reservation``)."""
    rid = state.slots.get(slot)
    if rid is None:
        raise DecisionError("reservation_not_found", f"no reservation on slot {slot}")
    return cancel(state, out, now, rid=rid, owner=owner)


def confirm(state: ClinicState, out: Outcome, now: int, *, rid: str, owner: str) -> Outcome:
    reservation = _own(state, rid, owner, now)
    target = next_state(reservation.state, Action.CONFIRM)
    reservation = msgspec.structs.replace(reservation, state=target, hold_until=None)
    out.emit(state, ev.ReservationConfirmed, now, reservation=reservation)
    out.result = {"reservation": reservation}
    return out


def cancel(state: ClinicState, out: Outcome, now: int, *, rid: str, owner: str) -> Outcome:
    reservation = _own(state, rid, owner, now)
    target = next_state(reservation.state, Action.CANCEL)
    reservation = msgspec.structs.replace(reservation, state=target, hold_until=None)
    out.emit(state, ev.ReservationCancelled, now, reservation=reservation)
    out.result = {"reservation": reservation}
    return out


def move(
    state: ClinicState, out: Outcome, now: int, *, rid: str, owner: str, slot: Slot
) -> Outcome:
    """Move a reservation to another slot in one step: on any refusal the old slot is kept."""
    reservation = _own(state, rid, owner, now)
    next_state(reservation.state, Action.MOVE)  # the same state, if the table allows a move
    if slot.id == reservation.slot:
        raise DecisionError("same_slot", "the reservation already holds that slot")
    if slot.service != reservation.service:
        raise DecisionError(
            "service_mismatch", "a booking moves only to a slot of the same service"
        )
    if slot.start_ms <= now:
        raise DecisionError("slot_past", "that slot has already begun")
    taken, expired = _holding(state, slot.id, now)
    if taken is not None:
        raise DecisionError("slot_taken", f"slot {slot.id} is already reserved")
    moved = msgspec.structs.replace(
        reservation, slot=slot.id, doctor=slot.doctor, service=slot.service, slot_time=slot.start_ms
    )
    out.emit(
        state,
        ev.ReservationMoved,
        now,
        reservation=moved,
        from_slot=reservation.slot,
        expired=expired,
    )
    out.result = {"reservation": moved}
    return out


def check_in(
    state: ClinicState,
    out: Outcome,
    now: int,
    day: str,
    *,
    rid: str,
    day_start: int,
    day_end: int,
    prefixes: dict[str, str],
    link: str = "",
    patient: str | None = None,
) -> Outcome:
    """Turn a confirmed booking for today into a place in that doctor's queue. With ``patient``
    (a kiosk's), the booking's reference must match it (``matching.patient_key``) first."""
    open_day(state, out, now, day)
    reservation = _own(state, rid, "", now)
    if patient is not None:
        typed = patient_key(patient)
        # A wrong pair reads as "not found", before any state is told: ids are sequential and
        # must not be probed, and a stranger must not learn that a booking was checked in.
        if not typed or typed != patient_key(reservation.patient):
            raise DecisionError("reservation_not_found", f"no reservation {rid}")
    target = next_state(reservation.state, Action.CHECK_IN)
    if not day_start <= reservation.slot_time < day_end:
        raise DecisionError("not_today", "check-in is open on the day of the appointment only")
    prefix = prefixes.get(reservation.service)
    if prefix is None:
        raise DecisionError("service_not_found", f"no service {reservation.service}")
    seq = state.seq.get(reservation.service, 0) + 1
    ticket = Ticket(
        id=f"t{state.offset + 1}",
        number=f"{prefix}-{seq:03d}",
        service=reservation.service,
        state="waiting",
        arrival=state.arrival + 1,
        issued_at=now,
        day=state.day,
        seq=seq,
        channel="booking",
        doctor=reservation.doctor,
        reservation=reservation.id,
        slot_time=reservation.slot_time,
        link=link,
    )
    reservation = msgspec.structs.replace(reservation, state=target, ticket=ticket.id)
    out.emit(state, ev.CheckedIn, now, reservation=reservation, ticket=ticket)
    out.result = {"ticket": ticket, "reservation": reservation}
    return out
