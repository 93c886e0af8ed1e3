"""The Lua scripts: each ``.lua`` file is one atomic decision, assembled with its preludes.

The ticket transition table is written into every script from ``model.tickets.TRANSITIONS``, so
the Lua side never restates it. redis-py's ``register_script`` runs them by SHA and reloads a
script on NOSCRIPT (after a Redis restart or ``SCRIPT FLUSH``).
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

from engine.model.tickets import transition_table_for_lua

LUA_DIR = Path(__file__).with_name("lua")
BOOKING_SCRIPTS = frozenset({"reserve", "confirm", "cancel", "move", "check_in"})
NAMES = ("issue", "call_next", "act", "duty", *sorted(BOOKING_SCRIPTS))
STANDALONE = ("fence",)  # housekeeping scripts without the decision prelude


def _lua_table() -> str:
    rows = []
    for state, moves in transition_table_for_lua().items():
        inner = ", ".join(f"['{action}'] = '{target}'" for action, target in moves.items())
        rows.append(f"  {state} = {{{inner}}},")
    return "local TRANSITIONS = {\n" + "\n".join(rows) + "\n}\n"


@cache
def source(name: str) -> str:
    """The full text of script ``name`` as Redis runs it."""
    if name in STANDALONE:
        return (LUA_DIR / f"{name}.lua").read_text()
    parts = [_lua_table(), (LUA_DIR / "_lib.lua").read_text()]
    if name in BOOKING_SCRIPTS:
        parts.append((LUA_DIR / "_booking.lua").read_text())
    parts.append((LUA_DIR / f"{name}.lua").read_text())
    return "\n".join(parts)
