"""The pure core's shape: one handler per ticket action, tables generated into Lua, no I/O.

No servers: these run in the quick path.
"""

from __future__ import annotations

import ast
from pathlib import Path

from engine import scripts
from engine.model import ticket_actions
from engine.model.tickets import TICKET_ACTIONS

ROOT = Path(__file__).parents[2]
IO_MODULES = {"asyncio", "redis", "asyncpg", "httpx", "starlette", "websockets", "socket"}
GENERATED = ("TRANSITIONS", "RESERVATION_TRANSITIONS", "RESERVATION_REFUSALS", "OPEN", "CALLS_KEPT")


def test_every_ticket_action_has_one_handler() -> None:
    """The actions a doctor may send are exactly those ``act`` has a handler for."""
    assert set(ticket_actions.ACTIONS) == TICKET_ACTIONS


def test_lua_never_restates_a_generated_table() -> None:
    """Each table the rules share with Lua is written into every script from the model, and no
    .lua file defines it again."""
    for path in (ROOT / "engine" / "lua").glob("*.lua"):
        text = path.read_text(encoding="utf-8")
        assert not [n for n in GENERATED if f"local {n} =" in text], path.name
    for name in scripts.NAMES:
        prelude = scripts.source(name)
        # The reservation tables go to the booking scripts only: Redis runs a script's whole
        # text on every call, and take-ticket has no use for them.
        wanted = [n for n in GENERATED if name in scripts.BOOKING_SCRIPTS or "RESERVATION" not in n]
        assert all(prelude.count(f"local {n} = ") == 1 for n in wanted), name
        assert all(f"local {n} = " not in prelude for n in set(GENERATED) - set(wanted)), name


def test_the_rules_import_no_io() -> None:
    """engine/model imports no asyncio, Redis, PostgreSQL, HTTP or socket module."""
    for path in (ROOT / "engine" / "model").glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            assert not {n.split(".")[0] for n in names} & IO_MODULES, (path.name, names)
