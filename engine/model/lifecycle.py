"""What every lifecycle table shares: looking a move up, and handing the table to Lua.

Each table lives in the module that owns its lifecycle (``tickets.py``, ``reservations.py``),
with its own named error; the functions here only read such a table. A table is keyed by
StrEnum members, which hash and compare as their plain strings, so a stored state finds its row.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, TypeVar

StateT = TypeVar("StateT")
V = TypeVar("V")
W = TypeVar("W")


def next_state(
    transitions: Mapping[Any, Mapping[Any, StateT]],
    state: str,
    action: str,
    refuse: Callable[[str, str], Exception],
) -> StateT:
    """The state after ``action``; raise ``refuse(state, action)`` if the table has no such move."""
    target = transitions.get(state, {}).get(action)
    if target is None:
        raise refuse(state, action)
    return target


def for_lua(
    table: Mapping[Any, Mapping[Any, V]], value: Callable[[V], W]
) -> dict[str, dict[str, W]]:
    """``table`` with plain string keys and ``value`` applied to each cell, for the Lua prelude."""
    return {str(s): {str(a): value(v) for a, v in row.items()} for s, row in table.items()}
