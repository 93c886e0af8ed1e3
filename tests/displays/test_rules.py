"""The push protocol's pure parts: the join decision, the public cut of events, the catalogues."""

from __future__ import annotations

import ast
import json
from pathlib import Path

import pytest

from displays.frames import REPLAY_MAX, Resume, event_frame, parse_offset, plan_join
from displays.messages import MESSAGES
from displays.public import public_event
from engine.model import events as ev
from engine.model.entities import DoctorDuty, Reservation, Ticket

DISPLAYS = Path(__file__).resolve().parents[2] / "displays"


def test_join_replays_only_what_the_stream_can_serve() -> None:
    """Same epoch and a reachable offset replay; anything else starts from a snapshot."""
    assert plan_join(5, "e1", "e1", 9) == Resume(False, 5)
    assert plan_join(9, None, "e1", 9) == Resume(False, 9)
    assert plan_join(None, None, "e1", 9) == Resume(True)
    assert plan_join(5, "e0", "e1", 9) == Resume(True, reason="epoch")
    assert plan_join(10, "e1", "e1", 9) == Resume(True, reason="gap")
    assert plan_join(0, "e1", "e1", REPLAY_MAX + 1) == Resume(True, reason="gap")


@pytest.mark.parametrize("value", ["-1", "1.5", "x", "9" * 19])
def test_offsets_are_plain_integers(value: str) -> None:
    """A from= that is not a small non-negative integer is refused."""
    with pytest.raises(ValueError):
        parse_offset(value)


def test_events_reach_screens_without_personal_data() -> None:
    """Names, booking references and priority categories never leave the engine."""
    ticket = Ticket(
        id="t7", number="Т-007", service="therapy", state="called", arrival=7, issued_at=1,
        day="2026-01-05", seq=7, priority="veteran", cabinet="101", reservation="r1", slot_time=5,
    )  # fmt: skip
    doctor = DoctorDuty(id="d0", status="on_duty", cabinet="101", services=["therapy"])
    reservation = Reservation(
        id="r1", slot="s1", doctor="d0", service="therapy", slot_time=5, state="checked_in",
        patient="Петрова М. И. +79161234567", created_at=1, owner="tk_partner",
    )  # fmt: skip
    called = public_event(ev.TicketCalled(offset=3, at=9, ticket=ticket, doctor=doctor))
    assert called == {
        "kind": "ticket_called",
        "at": 9,
        "ticket": {"id": "t7", "number": "Т-007", "service": "therapy", "state": "called",
                   "cabinet": "101"},
        "doctor": {"id": "d0", "status": "on_duty", "cabinet": "101", "services": ["therapy"]},
    }  # fmt: skip
    body = ev.encode_event(ev.CheckedIn(offset=4, at=9, reservation=reservation, ticket=ticket))
    frame = json.loads(event_frame(4, body))
    assert frame["offset"] == 4 and frame["event"]["kind"] == "checked_in"
    text = json.dumps(frame, ensure_ascii=False)
    for secret in ("Петрова", "7916", "r1", "veteran", "tk_partner", "patient"):
        assert secret not in text
    reserved = public_event(ev.SlotReserved(offset=5, at=9, reservation=reservation))
    assert reserved == {"kind": "slot_reserved", "at": 9}


def test_every_catalogue_key_the_pages_use_exists() -> None:
    """Keys named in templates (t("...")) and scripts (t("...")) are all in the catalogue."""
    import re

    used: set[str] = set()
    for path in [*DISPLAYS.glob("templates/*.j2"), *DISPLAYS.glob("static/*.js")]:
        used |= set(re.findall(r'\bt\("([a-z_]+)"\s*[,)]', path.read_text(encoding="utf-8")))
    # A message with plural forms is kept as key_one, ..., key_other (test_catalogue.py).
    known = MESSAGES["ru"].keys() | {k.removesuffix("_other") for k in MESSAGES["ru"]}
    assert used and used <= known, used - known


def test_the_pure_modules_do_no_io() -> None:
    """public.py and frames.py import no asyncio, redis, websockets or web framework."""
    banned = {"asyncio", "redis", "websockets", "starlette", "asyncpg", "httpx"}
    for name in ("public.py", "frames.py", "messages.py"):
        tree = ast.parse((DISPLAYS / name).read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import | ast.ImportFrom):
                names = (
                    [a.name for a in node.names]
                    if isinstance(node, ast.Import)
                    else [node.module or ""]
                )
                assert not {n.split(".")[0] for n in names} & banned, (name, names)
