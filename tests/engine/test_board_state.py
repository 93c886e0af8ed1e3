"""A board built from the live indexes (``store.board_state``: the walk-in queues and the tickets
in doctors' hands) is the board built from the whole live state, after any run of operations; and
it reads neither the day's finished tickets nor the booking window."""

from __future__ import annotations

import random
import uuid
from datetime import date, timedelta

import pytest

from displays.public import suspended_tickets
from engine import commands as cmd
from engine.board import board
from engine.clinic import parse_clinic
from engine.errors import EngineError
from engine.model.booking import slots_for
from engine.model.tickets import TICKET_ACTIONS
from engine.service import Engine
from tests.support import Clock, clinic_config

pytestmark = pytest.mark.integration
DAY = date(2026, 11, 3)  # a Tuesday


async def _boards_agree(e: Engine, clinic_id: str, now: int) -> None:
    clinic = await e.clinic(clinic_id)
    whole, epoch = await e.store.snapshot(clinic_id)
    part, part_epoch = await e.store.board_state(clinic_id, [s.id for s in clinic.services])
    assert part_epoch == epoch
    assert board(clinic, part, epoch=epoch, now=now) == board(clinic, whole, epoch=epoch, now=now)
    assert suspended_tickets(part) == suspended_tickets(whole)


@pytest.mark.parametrize("seed", [1, 2, 3])
async def test_the_board_from_the_indexes_is_the_board_from_the_whole_state(
    engine: tuple[Engine, Clock], seed: int
) -> None:
    e, clock = engine
    rng = random.Random(seed)
    clinic_id = f"board-{uuid.uuid4().hex[:6]}"
    clinic = parse_clinic(clinic_config(clinic_id))  # type: ignore[arg-type]
    await e.put_clinic(clinic)
    services = [s.id for s in clinic.services]
    cabinets = [d.cabinet for d in clinic.doctors if d.cabinet]
    clock.set(f"{DAY.isoformat()}T08:00:00")
    reservations: list[str] = []
    slots = slots_for(clinic, DAY)
    for doctor in clinic.doctors:
        await e.execute(clinic_id, cmd.SetDuty(doctor.id, status="on_duty"))
    for _ in range(120):
        clock.advance(rng.choice([5, 30, 120]))
        kind = rng.choice(["issue", "issue", "call", "act", "act", "duty", "book", "check_in"])
        tickets = sorted((await e.store.dump(clinic_id)).tickets)
        command: object = None
        if kind == "issue":
            command = cmd.Issue(rng.choice(services), rng.choice(["", "veteran"]))
        elif kind == "call":
            command = cmd.CallNext(rng.choice(cabinets))
        elif kind == "act" and tickets:
            action = rng.choice(sorted(TICKET_ACTIONS))
            to = rng.choice(services) if action == "transfer" else None
            command = cmd.Act(rng.choice(tickets), action, to_service=to)
        elif kind == "duty":
            status = rng.choice(["on_duty", "on_duty", "break", "off"])
            command = cmd.SetDuty(rng.choice(clinic.doctors).id, status=status)
        elif kind == "book" and slots:
            command = cmd.Reserve(slots.pop(rng.randrange(len(slots))), "полис 🙂", confirm=True)
        elif kind == "check_in" and reservations:
            command = cmd.CheckIn(reservations.pop(0), link=uuid.uuid4().hex)
        if command is None:
            continue
        try:
            done = await e.execute(clinic_id, command)  # type: ignore[arg-type]
        except EngineError:  # refused: an illegal move for that ticket, a doctor off duty, ...
            continue
        if kind == "book":
            reservations.append(done["reservation"].id)
        await _boards_agree(e, clinic_id, clock())


async def test_the_board_reads_neither_finished_tickets_nor_the_booking_window(
    engine: tuple[Engine, Clock],
) -> None:
    e, clock = engine
    clinic_id = f"board-{uuid.uuid4().hex[:6]}"
    clinic = parse_clinic(clinic_config(clinic_id))  # type: ignore[arg-type]
    await e.put_clinic(clinic)
    clock.set(f"{DAY.isoformat()}T08:00:00")
    doctor = clinic.doctors[0]
    await e.execute(clinic_id, cmd.SetDuty(doctor.id, status="on_duty"))
    for _ in range(5):  # five seen and gone
        await e.execute(clinic_id, cmd.Issue(doctor.services[0]))
        called = await e.execute(clinic_id, cmd.CallNext(doctor.cabinet or ""))
        await e.execute(clinic_id, cmd.Act(called["ticket"].id, "start"))
        await e.execute(clinic_id, cmd.Act(called["ticket"].id, "complete"))
    for slot in slots_for(clinic, DAY + timedelta(days=1))[:4]:
        await e.execute(clinic_id, cmd.Reserve(slot, "полис", confirm=True))
    waiting = await e.execute(clinic_id, cmd.Issue(doctor.services[0]))
    part, _ = await e.store.board_state(clinic_id, [s.id for s in clinic.services])
    assert set(part.tickets) == {waiting["ticket"].id}
    assert part.reservations == {} and part.slots == {}
    whole = await e.store.dump(clinic_id)
    assert len(whole.tickets) == 6 and len(whole.reservations) == 4  # they are there
