"""Two ways to run the same rule scenario: on the pure model, or on the real engine.

The pure driver decides with ``run_pure`` on a ``ClinicState`` in memory (milliseconds, no
servers); the live one sends the same commands through ``Engine.execute`` (Lua in Redis, the
journal in PostgreSQL). Both answer alike and refuse with the same ``EngineError``, so a scenario
written against ``Rules`` shows a rule holds in the specification and in production.
"""

from __future__ import annotations

import uuid
from typing import Any, Protocol

from engine import commands as c
from engine.board import board
from engine.clinic import Clinic, parse_clinic
from engine.errors import from_code
from engine.model.clock import service_day
from engine.model.entities import Reservation
from engine.model.errors import DecisionError
from engine.model.state import ClinicState
from engine.service import Engine
from tests.support import Clock, clinic_config

HOLD_MS = 300_000  # the engine's default hold


class Rules(Protocol):
    clock: Clock
    hold_ms: int

    async def open(self, **policy: object) -> Clinic:
        """A fresh clinic (tests.support.clinic_config) with doctor d0 on duty in c0."""
        ...

    async def run(self, cmd: c.Command) -> dict[str, Any]:
        """The answer to a command, or the EngineError the API would map to HTTP."""
        ...

    async def board(self) -> dict[str, Any]: ...

    async def slot_holders(self, slot_ids: list[str]) -> dict[str, Reservation]: ...


def _config(**policy: object) -> Clinic:
    config = clinic_config(f"rules-{uuid.uuid4().hex[:6]}")
    config["policy"] = policy
    return parse_clinic(config)  # type: ignore[arg-type]


class PureRules:
    def __init__(self) -> None:
        self.clock = Clock()
        self.hold_ms = HOLD_MS
        self.state = ClinicState()
        self.clinic: Clinic | None = None

    async def open(self, **policy: object) -> Clinic:
        self.clinic = _config(**policy)
        await self.run(c.SetDuty("d0", "on_duty"))
        return self.clinic

    async def run(self, cmd: c.Command) -> dict[str, Any]:
        assert self.clinic is not None
        now = self.clock()
        day = service_day(now, self.clinic.timezone)
        try:
            out = c.run_pure(self.state, cmd, self.clinic, now, day, self.hold_ms)
        except DecisionError as exc:
            raise from_code(exc.code, exc.message) from exc
        # As the script answers: absent values are left out.
        return {k: v for k, v in out.result.items() if v is not None}

    async def board(self) -> dict[str, Any]:
        assert self.clinic is not None
        return board(self.clinic, self.state, epoch="pure", now=self.clock())

    async def slot_holders(self, slot_ids: list[str]) -> dict[str, Reservation]:
        held = {s: self.state.slots[s] for s in slot_ids if s in self.state.slots}
        return {s: self.state.reservations[rid] for s, rid in held.items()}


class LiveRules:
    def __init__(self, engine: Engine, clock: Clock) -> None:
        self.engine = engine
        self.clock = clock
        self.hold_ms = engine.hold_ms
        self.clinic_id = ""

    async def open(self, **policy: object) -> Clinic:
        clinic = _config(**policy)
        self.clinic_id = clinic.id
        await self.engine.put_clinic(clinic)
        await self.run(c.SetDuty("d0", "on_duty"))
        return clinic

    async def run(self, cmd: c.Command) -> dict[str, Any]:
        return await self.engine.execute(self.clinic_id, cmd)

    async def board(self) -> dict[str, Any]:
        return await self.engine.board(self.clinic_id)

    async def slot_holders(self, slot_ids: list[str]) -> dict[str, Reservation]:
        return await self.engine.store.slot_holders(self.clinic_id, slot_ids)
