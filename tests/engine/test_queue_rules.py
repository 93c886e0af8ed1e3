"""The queue's rules, each scenario run twice: on the pure model (no servers, the quick path)
and on the real path (Lua in Redis, journal in PostgreSQL), through ``tests.engine.drivers``."""

from __future__ import annotations

import pytest

from engine import commands as c
from engine.errors import Conflict
from engine.model.booking import Slot, find_slot
from tests.engine.drivers import LiveRules, PureRules, Rules


@pytest.fixture(params=["pure", pytest.param("live", marks=pytest.mark.integration)])
def rules(request: pytest.FixtureRequest) -> Rules:
    """The pure model, or the engine on real Redis and PostgreSQL (marked integration)."""
    if request.param == "pure":
        return PureRules()
    engine, clock = request.getfixturevalue("engine")
    return LiveRules(engine, clock)


async def _call(rules: Rules, cabinet: str = "c0") -> str | None:
    ticket = (await rules.run(c.CallNext(cabinet))).get("ticket")
    return ticket.number if ticket else None


async def _finish(rules: Rules, number: str) -> None:
    board = await rules.board()
    doctor = next(d for d in board["doctors"] if d["current"] == number)
    await rules.run(c.Act(doctor["current_ticket"], "no-show"))


async def test_priority_takes_at_most_two_of_three_calls(rules: Rules) -> None:
    """Five priority and five plain tickets are called P P N P P N ...: nobody starves."""
    rules.clock.set("2026-11-26T09:00:00")
    await rules.open(priority_run=2)
    for _ in range(5):
        await rules.run(c.Issue("therapy", priority="veteran"))
        await rules.run(c.Issue("therapy"))
        rules.clock.advance(1)
    kinds = []
    for _ in range(10):
        number = await _call(rules)
        assert number is not None
        kinds.append("P" if int(number[2:]) % 2 else "N")  # odd numbers were the priority ones
        await _finish(rules, number)
    assert "".join(kinds) == "PPNPPNPNNN"


async def test_recalls_end_in_a_no_show_after_the_limit(rules: Rules) -> None:
    """With max_recalls=2 the third recall marks the patient a no-show and frees the doctor."""
    rules.clock.set("2026-11-26T09:00:00")
    await rules.open(max_recalls=2)
    ticket = (await rules.run(c.Issue("therapy")))["ticket"]
    await rules.run(c.CallNext("c0"))
    states = [(await rules.run(c.Act(ticket.id, "recall")))["ticket"].state for _ in range(3)]
    assert states == ["called", "called", "no_show"]
    board = await rules.board()
    assert board["doctors"][0]["current"] is None


async def test_delayed_intake_suspends_one_and_takes_the_next(rules: Rules) -> None:
    """Suspend frees the cabinet for the next patient; resume waits until the hand is free."""
    rules.clock.set("2026-11-26T09:00:00")
    await rules.open()
    first = (await rules.run(c.Issue("therapy")))["ticket"]
    second = (await rules.run(c.Issue("therapy")))["ticket"]
    await rules.run(c.CallNext("c0"))
    await rules.run(c.Act(first.id, "start"))
    await rules.run(c.Act(first.id, "suspend"))
    assert (await rules.run(c.CallNext("c0")))["ticket"].id == second.id
    with pytest.raises(Conflict) as refused:
        await rules.run(c.Act(first.id, "resume"))
    assert refused.value.code == "patient_in_hand"
    await rules.run(c.Act(second.id, "start"))
    await rules.run(c.Act(second.id, "complete"))
    resumed = (await rules.run(c.Act(first.id, "resume")))["ticket"]
    assert resumed.state == "serving"
    assert (await rules.board())["doctors"][0]["suspended"] == []


async def test_transfer_keeps_the_place_by_arrival(rules: Rules) -> None:
    """A patient sent from surgery to therapy goes ahead of therapy patients who came later."""
    rules.clock.set("2026-11-26T09:00:00")
    await rules.open()
    early = (await rules.run(c.Issue("surgery")))["ticket"]
    await rules.run(c.Issue("therapy"))
    moved = (await rules.run(c.Act(early.id, "transfer", to_service="therapy")))["ticket"]
    assert (moved.service, moved.number) == ("therapy", early.number)
    assert (await rules.run(c.CallNext("c0")))["ticket"].id == early.id


async def test_a_doctor_moved_mid_call_keeps_the_patient(rules: Rules) -> None:
    """The head moves a doctor to another cabinet and queue with a patient in hand: still theirs."""
    rules.clock.set("2026-11-26T09:00:00")
    await rules.open()
    ticket = (await rules.run(c.Issue("therapy")))["ticket"]
    await rules.run(c.CallNext("c0"))
    doctor = (await rules.run(c.SetDuty("d0", cabinet="c2", services=("surgery",))))["doctor"]
    assert (doctor.cabinet, doctor.current) == ("c2", ticket.id)
    recalled = (await rules.run(c.Act(ticket.id, "recall")))["ticket"]
    assert recalled.cabinet == "c2"  # the screen sends the patient to where the doctor is now
    await rules.run(c.Act(ticket.id, "start", actor="d0"))
    done = await rules.run(c.Act(ticket.id, "complete", actor="d0"))
    assert done["ticket"].state == "completed"


async def test_booked_patients_are_called_at_their_slot_time(rules: Rules) -> None:
    """A checked-in booking waits while walk-ins are called, and goes first once its time comes."""
    rules.clock.set("2026-11-26T09:00:00")
    config = await rules.open()
    slot = find_slot(config, "d0.20261126.0930")
    assert slot is not None
    booking = (await rules.run(c.Reserve(slot, "polis-1", confirm=True)))["reservation"]
    walk_in = (await rules.run(c.Issue("therapy")))["ticket"]
    rules.clock.set("2026-11-26T09:20:00")
    booked = (await rules.run(c.CheckIn(booking.id)))["ticket"]
    rules.clock.set("2026-11-26T09:25:00")
    assert (await rules.run(c.CallNext("c0")))["ticket"].id == walk_in.id
    await rules.run(c.Act(walk_in.id, "no-show"))
    await rules.run(c.Issue("therapy"))
    rules.clock.set("2026-11-26T09:30:00")
    assert (await rules.run(c.CallNext("c0")))["ticket"].id == booked.id


async def test_a_move_keeps_exactly_one_slot(rules: Rules) -> None:
    """A move to a taken slot is refused and keeps the old one; a good move frees the old one."""
    rules.clock.set("2026-11-26T07:00:00")
    config = await rules.open()
    a, b, d = (find_slot(config, f"d0.20261126.{t}") for t in ("0900", "0915", "0930"))
    assert a and b and d
    mine = (await rules.run(c.Reserve(a, "polis-1", confirm=True)))["reservation"]
    await rules.run(c.Reserve(b, "polis-2", confirm=True))
    with pytest.raises(Conflict) as refused:
        await rules.run(c.Move(mine.id, b))
    assert refused.value.code == "slot_taken"
    holders = await rules.slot_holders([a.id, b.id, d.id])
    assert holders[a.id].id == mine.id and d.id not in holders
    other_service = Slot("d0.20261126.0945", "d0", "surgery", d.start, d.minutes)
    with pytest.raises(Conflict) as mismatch:
        await rules.run(c.Move(mine.id, other_service))
    assert mismatch.value.code == "service_mismatch"
    await rules.run(c.Move(mine.id, d))
    holders = await rules.slot_holders([a.id, d.id])
    assert a.id not in holders and holders[d.id].id == mine.id


async def test_a_hold_times_out_and_the_slot_is_free_again(rules: Rules) -> None:
    """An unconfirmed hold lasts hold_seconds; after it another patient can take the slot, and
    the old hold, now expired, is closed."""
    rules.clock.set("2026-11-26T07:00:00")
    config = await rules.open()
    slot = find_slot(config, "d0.20261126.1000")
    assert slot is not None
    held = (await rules.run(c.Reserve(slot, "polis-1")))["reservation"]
    with pytest.raises(Conflict):
        await rules.run(c.Reserve(slot, "polis-2"))
    rules.clock.advance(rules.hold_ms / 60_000 + 1)
    with pytest.raises(Conflict) as late:
        await rules.run(c.Confirm(held.id))
    assert late.value.code == "hold_expired"
    taken = (await rules.run(c.Reserve(slot, "polis-2", confirm=True)))["reservation"]
    assert taken.state == "confirmed"
    assert await _refused(rules, c.Confirm(held.id)) == "reservation_closed"  # now expired


async def _refused(rules: Rules, cmd: c.Command) -> str:
    """The code a command is refused with."""
    with pytest.raises(Conflict) as refused:
        await rules.run(cmd)
    return refused.value.code


async def test_a_ticket_moves_only_as_its_table_allows(rules: Rules) -> None:
    """A finished ticket takes no more actions; call is the table's but not an action to send."""
    rules.clock.set("2026-11-26T09:00:00")
    await rules.open()
    ticket = (await rules.run(c.Issue("therapy")))["ticket"]
    await rules.run(c.CallNext("c0"))
    await rules.run(c.Act(ticket.id, "start"))
    await rules.run(c.Act(ticket.id, "complete"))
    for action in ("recall", "start", "cancel", "no-show"):
        assert await _refused(rules, c.Act(ticket.id, action)) == "illegal_transition"
    waiting = (await rules.run(c.Issue("therapy")))["ticket"]
    assert await _refused(rules, c.Act(waiting.id, "call")) == "illegal_transition"
    assert (await rules.run(c.Act(waiting.id, "cancel")))["ticket"].state == "cancelled"


async def test_a_reservation_moves_only_as_its_table_allows(rules: Rules) -> None:
    """A hold is confirmed once, then checked in; a checked-in booking is neither cancelled nor
    moved; a cancelled one is closed to everything."""
    rules.clock.set("2026-11-26T07:00:00")
    config = await rules.open()
    a, b, d = (find_slot(config, f"d0.20261126.{t}") for t in ("0900", "0915", "0930"))
    assert a and b and d
    mine = (await rules.run(c.Reserve(a, "polis-1")))["reservation"]
    assert await _refused(rules, c.CheckIn(mine.id)) == "not_confirmed"
    assert (await rules.run(c.Confirm(mine.id)))["reservation"].state == "confirmed"
    assert await _refused(rules, c.Confirm(mine.id)) == "not_held"
    assert (await rules.run(c.CheckIn(mine.id)))["reservation"].state == "checked_in"
    assert await _refused(rules, c.CheckIn(mine.id)) == "already_checked_in"
    assert await _refused(rules, c.Cancel(mine.id)) == "checked_in"
    assert await _refused(rules, c.Move(mine.id, d)) == "checked_in"
    other = (await rules.run(c.Reserve(b, "polis-2", confirm=True)))["reservation"]
    assert (await rules.run(c.Cancel(other.id)))["reservation"].state == "cancelled"
    for cmd in (c.Confirm(other.id), c.Cancel(other.id), c.Move(other.id, d), c.CheckIn(other.id)):
        assert await _refused(rules, cmd) == "reservation_closed"
    assert set(await rules.slot_holders([a.id, b.id])) == {a.id}  # the cancelled one freed b
