"""The queue's rules, each shown on the real path (Lua in Redis, journal in PostgreSQL)."""

from __future__ import annotations

import uuid

import pytest

from engine import commands as c
from engine.clinic import parse_clinic
from engine.errors import Conflict
from engine.model.booking import Slot, find_slot
from engine.service import Engine
from tests.support import Clock, clinic_config

pytestmark = pytest.mark.integration
Live = tuple[Engine, Clock]


async def _clinic(e: Engine, **policy: object) -> str:
    clinic_id = f"rules-{uuid.uuid4().hex[:6]}"
    config = clinic_config(clinic_id)
    config["policy"] = policy
    await e.put_clinic(parse_clinic(config))  # type: ignore[arg-type]
    await e.execute(clinic_id, c.SetDuty("d0", "on_duty"))
    return clinic_id


async def _call(e: Engine, clinic: str, cabinet: str = "c0") -> str | None:
    ticket = (await e.execute(clinic, c.CallNext(cabinet)))["ticket"]
    return ticket.number if ticket else None


async def _finish(e: Engine, clinic: str, number: str) -> None:
    board = await e.board(clinic)
    doctor = next(d for d in board["doctors"] if d["current"] == number)
    await e.execute(clinic, c.Act(doctor["current_ticket"], "no-show"))


async def test_priority_takes_at_most_two_of_three_calls(engine: Live) -> None:
    """Five priority and five plain tickets are called P P N P P N ...: nobody starves."""
    e, clock = engine
    clock.set("2026-11-26T09:00:00")
    clinic = await _clinic(e, priority_run=2)
    for _ in range(5):
        await e.execute(clinic, c.Issue("therapy", priority="veteran"))
        await e.execute(clinic, c.Issue("therapy"))
        clock.advance(1)
    kinds = []
    for _ in range(10):
        number = await _call(e, clinic)
        assert number is not None
        kinds.append("P" if int(number[2:]) % 2 else "N")  # odd numbers were the priority ones
        await _finish(e, clinic, number)
    assert "".join(kinds) == "PPNPPNPNNN"


async def test_recalls_end_in_a_no_show_after_the_limit(engine: Live) -> None:
    """With max_recalls=2 the third recall marks the patient a no-show and frees the doctor."""
    e, clock = engine
    clock.set("2026-11-26T09:00:00")
    clinic = await _clinic(e, max_recalls=2)
    ticket = (await e.execute(clinic, c.Issue("therapy")))["ticket"]
    await e.execute(clinic, c.CallNext("c0"))
    states = [
        (await e.execute(clinic, c.Act(ticket.id, "recall")))["ticket"].state for _ in range(3)
    ]
    assert states == ["called", "called", "no_show"]
    board = await e.board(clinic)
    assert board["doctors"][0]["current"] is None


async def test_delayed_intake_suspends_one_and_takes_the_next(engine: Live) -> None:
    """Suspend frees the cabinet for the next patient; resume waits until the hand is free."""
    e, clock = engine
    clock.set("2026-11-26T09:00:00")
    clinic = await _clinic(e)
    first = (await e.execute(clinic, c.Issue("therapy")))["ticket"]
    second = (await e.execute(clinic, c.Issue("therapy")))["ticket"]
    await e.execute(clinic, c.CallNext("c0"))
    await e.execute(clinic, c.Act(first.id, "start"))
    await e.execute(clinic, c.Act(first.id, "suspend"))
    assert (await e.execute(clinic, c.CallNext("c0")))["ticket"].id == second.id
    with pytest.raises(Conflict) as refused:
        await e.execute(clinic, c.Act(first.id, "resume"))
    assert refused.value.code == "patient_in_hand"
    await e.execute(clinic, c.Act(second.id, "start"))
    await e.execute(clinic, c.Act(second.id, "complete"))
    resumed = (await e.execute(clinic, c.Act(first.id, "resume")))["ticket"]
    assert resumed.state == "serving"
    assert (await e.board(clinic))["doctors"][0]["suspended"] == []


async def test_transfer_keeps_the_place_by_arrival(engine: Live) -> None:
    """A patient sent from surgery to therapy goes ahead of therapy patients who came later."""
    e, clock = engine
    clock.set("2026-11-26T09:00:00")
    clinic = await _clinic(e)
    early = (await e.execute(clinic, c.Issue("surgery")))["ticket"]
    await e.execute(clinic, c.Issue("therapy"))
    moved = (await e.execute(clinic, c.Act(early.id, "transfer", to_service="therapy")))["ticket"]
    assert (moved.service, moved.number) == ("therapy", early.number)
    assert (await e.execute(clinic, c.CallNext("c0")))["ticket"].id == early.id


async def test_a_doctor_moved_mid_call_keeps_the_patient(engine: Live) -> None:
    """The head moves a doctor to another cabinet and queue with a patient in hand: still theirs."""
    e, clock = engine
    clock.set("2026-11-26T09:00:00")
    clinic = await _clinic(e)
    ticket = (await e.execute(clinic, c.Issue("therapy")))["ticket"]
    await e.execute(clinic, c.CallNext("c0"))
    doctor = (await e.execute(clinic, c.SetDuty("d0", cabinet="c2", services=("surgery",))))[
        "doctor"
    ]
    assert (doctor.cabinet, doctor.current) == ("c2", ticket.id)
    recalled = (await e.execute(clinic, c.Act(ticket.id, "recall")))["ticket"]
    assert recalled.cabinet == "c2"  # the screen sends the patient to where the doctor is now
    await e.execute(clinic, c.Act(ticket.id, "start", actor="d0"))
    done = await e.execute(clinic, c.Act(ticket.id, "complete", actor="d0"))
    assert done["ticket"].state == "completed"


async def test_booked_patients_are_called_at_their_slot_time(engine: Live) -> None:
    """A checked-in booking waits while walk-ins are called, and goes first once its time comes."""
    e, clock = engine
    clock.set("2026-11-26T09:00:00")
    clinic = await _clinic(e)
    config = await e.clinic(clinic)
    slot = find_slot(config, "d0.20261126.0930")
    assert slot is not None
    r = (await e.execute(clinic, c.Reserve(slot, "polis-1", confirm=True)))["reservation"]
    walk_in = (await e.execute(clinic, c.Issue("therapy")))["ticket"]
    clock.set("2026-11-26T09:20:00")
    booked = (await e.execute(clinic, c.CheckIn(r.id)))["ticket"]
    clock.set("2026-11-26T09:25:00")
    assert (await e.execute(clinic, c.CallNext("c0")))["ticket"].id == walk_in.id
    await e.execute(clinic, c.Act(walk_in.id, "no-show"))
    await e.execute(clinic, c.Issue("therapy"))
    clock.set("2026-11-26T09:30:00")
    assert (await e.execute(clinic, c.CallNext("c0")))["ticket"].id == booked.id


async def test_a_move_keeps_exactly_one_slot(engine: Live) -> None:
    """A move to a taken slot is refused and keeps the old one; a good move frees the old one."""
    e, clock = engine
    clock.set("2026-11-26T07:00:00")
    clinic = await _clinic(e)
    config = await e.clinic(clinic)
    a, b, d = (find_slot(config, f"d0.20261126.{t}") for t in ("0900", "0915", "0930"))
    assert a and b and d
    mine = (await e.execute(clinic, c.Reserve(a, "polis-1", confirm=True)))["reservation"]
    await e.execute(clinic, c.Reserve(b, "polis-2", confirm=True))
    with pytest.raises(Conflict) as refused:
        await e.execute(clinic, c.Move(mine.id, b))
    assert refused.value.code == "slot_taken"
    holders = await e.store.slot_holders(clinic, [a.id, b.id, d.id])
    assert holders[a.id].id == mine.id and d.id not in holders
    other_service = Slot("d0.20261126.0945", "d0", "surgery", d.start, d.minutes)
    with pytest.raises(Conflict) as mismatch:
        await e.execute(clinic, c.Move(mine.id, other_service))
    assert mismatch.value.code == "service_mismatch"
    await e.execute(clinic, c.Move(mine.id, d))
    holders = await e.store.slot_holders(clinic, [a.id, d.id])
    assert a.id not in holders and holders[d.id].id == mine.id


async def test_a_hold_times_out_and_the_slot_is_free_again(engine: Live) -> None:
    """An unconfirmed hold lasts hold_seconds; after it another patient can take the slot."""
    e, clock = engine
    clock.set("2026-11-26T07:00:00")
    clinic = await _clinic(e)
    slot = find_slot(await e.clinic(clinic), "d0.20261126.1000")
    assert slot is not None
    held = (await e.execute(clinic, c.Reserve(slot, "polis-1")))["reservation"]
    with pytest.raises(Conflict):
        await e.execute(clinic, c.Reserve(slot, "polis-2"))
    clock.advance(e.hold_ms / 60_000 + 1)
    with pytest.raises(Conflict) as late:
        await e.execute(clinic, c.Confirm(held.id))
    assert late.value.code == "hold_expired"
    taken = (await e.execute(clinic, c.Reserve(slot, "polis-2", confirm=True)))["reservation"]
    assert taken.state == "confirmed"
