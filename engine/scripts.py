"""The Lua scripts: each ``.lua`` file is one atomic decision, assembled with its preludes.

The rules' tables are written into every script from the pure model, so the Lua side never
restates them: the ticket transitions (``model.tickets``), the reservation transitions and
refusals (``model.reservations``), the open ticket states and how many calls a screen keeps.
redis-py's ``register_script`` runs them by SHA and reloads a script on NOSCRIPT (after a Redis
restart or ``SCRIPT FLUSH``).
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

from engine.model import reservations
from engine.model.queue import DUTY_MOVES
from engine.model.state import CALLS_KEPT
from engine.model.tickets import OPEN_STATES, transition_table_for_lua

LUA_DIR = Path(__file__).with_name("lua")
BOOKING_SCRIPTS = frozenset({"reserve", "confirm", "cancel", "move", "check_in"})
NAMES = ("issue", "call_next", "act", "duty", *sorted(BOOKING_SCRIPTS))
STANDALONE = ("fence", "board_state")  # housekeeping and reads: no decision prelude


def lua_value(value: Any) -> str:
    """A Lua literal for plain data: strings (JSON quoting is valid Lua for them), integers,
    booleans, lists and string-keyed dicts (keys sorted, so the text, and the SHA, is stable)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str) and not value.isascii():
        raise ValueError(f"Lua 5.1 has no \\u escapes: {value!r}")
    if isinstance(value, str | int):
        return json.dumps(value)
    if isinstance(value, list | tuple):
        return "{" + ", ".join(lua_value(v) for v in value) + "}"
    if isinstance(value, dict):
        items = sorted(value.items())
        return "{" + ", ".join(f"[{json.dumps(k)}] = {lua_value(v)}" for k, v in items) + "}"
    raise TypeError(f"no Lua literal for {value!r}")


def _prelude(name: str) -> str:
    """The generated tables, as Lua locals. Redis runs a script's whole text on every call, so
    a script gets only the tables it reads: the reservation tables go to the booking scripts
    (built on every take-ticket, they cost it about 7% of its throughput, docs/PERFORMANCE.md)."""
    constants: dict[str, Any] = {
        "TRANSITIONS": transition_table_for_lua(),
        "OPEN": dict.fromkeys(map(str, OPEN_STATES), True),
        "CALLS_KEPT": CALLS_KEPT,
    }
    if name == "duty":
        constants["DUTY_MOVES"] = DUTY_MOVES
    if name in BOOKING_SCRIPTS:
        moves, refusals = reservations.tables_for_lua()
        constants |= {
            "RESERVATION_TRANSITIONS": moves,
            "RESERVATION_REFUSALS": refusals,
            "RESERVATION_HOLDS_SLOT": dict.fromkeys(map(str, reservations.HOLDS_SLOT), True),
        }
    return "".join(f"local {name} = {lua_value(value)}\n" for name, value in constants.items())


@cache
def source(name: str) -> str:
    """The full text of script ``name`` as Redis runs it."""
    if name in STANDALONE:
        return (LUA_DIR / f"{name}.lua").read_text()
    booking = name in BOOKING_SCRIPTS
    parts = [_prelude(name), (LUA_DIR / "_lib.lua").read_text()]
    if booking:
        parts.append((LUA_DIR / "_booking.lua").read_text())
    parts.append((LUA_DIR / f"{name}.lua").read_text())
    return "\n".join(parts)
