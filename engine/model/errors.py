"""The one error the pure rules raise: a refused decision with a stable machine code."""

from __future__ import annotations

from typing import Any


class DecisionError(Exception):
    """A rule refused a command; ``code`` is stable (e.g. ``slot_taken``), ``message`` human."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.events: list[Any] = []  # what was decided before the refusal, e.g. DayOpened
