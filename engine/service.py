"""The engine: one command in, one atomic decision in Redis, journaled, then answered.

    request ─> Lua script (decides, applies, streams events) ─> journal (group commit) ─> answer

A success answer means both happened. If Redis has lost a clinic (no epoch marker), the clinic is
rebuilt from the journal before anything else is served. Events that reached Redis but not the
journal (a worker killed in between) are journaled by ``reconcile``.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import asyncpg
import msgspec

from engine import keys
from engine.board import board
from engine.clinic import ID_PATTERN, Clinic, parse_clinic
from engine.commands import Command, script_call
from engine.errors import NotFound, Unavailable, from_code
from engine.journal_postgres import Entry, Journal
from engine.model import events as ev
from engine.model.clock import service_day
from engine.model.state import fold
from engine.store_redis import NotLoaded, RedisStore

log = logging.getLogger(__name__)
T = TypeVar("T")
STREAM_TAIL_ON_REBUILD = 1000
RECONCILE_WINDOW = 5000
CONFIG_CHANNEL = "clinicq_config"


def wall_clock_ms() -> int:
    return time.time_ns() // 1_000_000


class Engine:
    def __init__(
        self,
        store: RedisStore,
        journal: Journal,
        pool: asyncpg.Pool,
        *,
        hold_seconds: int = 300,
        idempotency_ttl: int = 48 * 3600,
        clock: Callable[[], int] = wall_clock_ms,
    ) -> None:
        self.store = store
        self.journal = journal
        self.pool = pool
        self.hold_ms = hold_seconds * 1000
        self.idempotency_ttl = idempotency_ttl
        self.clock = clock
        self.clinics: dict[str, Clinic] = {}
        self.rebuilds = 0

    # -- clinics -------------------------------------------------------------------------------

    async def load_clinics(self) -> None:
        rows = await self.pool.fetch("SELECT config FROM clinics ORDER BY id")
        self.clinics = {c.id: c for c in (parse_clinic(r["config"].encode()) for r in rows)}

    async def put_clinic(self, clinic: Clinic) -> None:
        """Store a clinic's configuration durably and make sure its live state exists."""
        async with self.pool.acquire() as conn, conn.transaction():
            await conn.execute(
                "INSERT INTO clinics (id, config) VALUES ($1, $2) "
                "ON CONFLICT (id) DO UPDATE SET config = EXCLUDED.config, updated_at = now()",
                clinic.id,
                msgspec.json.encode(clinic).decode(),
            )
            # Other workers hold the configuration in memory: tell them, on commit.
            await conn.execute("SELECT pg_notify($1, $2)", CONFIG_CHANNEL, clinic.id)
        self.clinics[clinic.id] = clinic
        if not await self.store.is_loaded(clinic.id):
            await self.rebuild(clinic.id)

    async def listen_for_config(self, database_url: str) -> asyncpg.Connection:
        """Forget a clinic's cached configuration when any worker changes it; returns the
        listening connection, which the caller closes at shutdown."""
        conn = await asyncpg.connect(database_url)

        def changed(_conn: Any, _pid: int, _channel: str, clinic_id: object) -> None:
            self.clinics.pop(str(clinic_id), None)  # fetched again on next use

        await conn.add_listener(CONFIG_CHANNEL, changed)
        return conn

    async def clinic(self, clinic_id: str) -> Clinic:
        """A clinic's configuration; one added through another worker is fetched on first use."""
        found = self.clinics.get(clinic_id)
        if found is None and ID_PATTERN.match(clinic_id):
            raw = await self.pool.fetchval("SELECT config FROM clinics WHERE id = $1", clinic_id)
            if raw is not None:
                found = self.clinics[clinic_id] = parse_clinic(raw.encode())
        if found is None:
            raise NotFound(f"no clinic {clinic_id!r}", code="clinic_not_found")
        return found

    # -- writes --------------------------------------------------------------------------------

    async def execute(
        self, clinic_id: str, cmd: Command, *, idem_key: str = "", fingerprint: str = ""
    ) -> dict[str, Any]:
        """Decide, journal, answer. Raises an EngineError on refusal (after journaling any
        events decided before it, such as a day rollover)."""
        clinic = await self.clinic(clinic_id)
        now = self.clock()
        day = service_day(now, clinic.timezone)
        name, args = script_call(cmd, clinic, now, self.hold_ms)
        answer = await self._loaded(
            clinic_id,
            lambda: self.store.run(
                name, clinic_id, now, day, args, idem_key=idem_key, request_fingerprint=fingerprint
            ),
        )
        record = f"{fingerprint}|{answer.raw.decode()}" if idem_key and not answer.error else None
        await self.journal.append(
            [
                Entry(
                    clinic=clinic_id,
                    offset=event.offset,
                    kind=_kind(event),
                    at_ms=event.at,
                    body=body,
                    idem_key=idem_key or None,
                    idem_record=record,
                )
                for event, body in zip(answer.events, answer.bodies, strict=True)
            ]
        )
        if answer.error:
            raise from_code(answer.error, answer.message)
        return answer.result

    async def _loaded(self, clinic_id: str, step: Callable[[], Awaitable[T]]) -> T:
        """Run ``step``; if Redis has lost the clinic, rebuild it from the journal and run again."""
        for _ in range(3):
            try:
                return await step()
            except NotLoaded:
                await self.rebuild(clinic_id)
        raise Unavailable("the clinic's live state could not be loaded", code="rebuilding")

    # -- recovery ------------------------------------------------------------------------------

    async def rebuild(self, clinic_id: str, *, wait_seconds: float = 20.0) -> None:
        """Reload a clinic's live state from the journal; one process does it, others wait."""
        token = uuid.uuid4().hex
        lock = keys.rebuild_lock(clinic_id)
        deadline = time.monotonic() + wait_seconds
        while not await self.store.client.set(lock, token, nx=True, px=30_000):
            if await self.store.is_loaded(clinic_id):
                return
            if time.monotonic() > deadline:
                raise Unavailable("the clinic is being rebuilt; retry shortly", code="rebuilding")
            await asyncio.sleep(0.05)
        try:
            if await self.store.is_loaded(clinic_id):
                return
            bodies = await self.journal.bodies(clinic_id)
            events = [ev.decode_event(b) for b in bodies]
            state = fold(events)
            records = await self.journal.idempotency_records(clinic_id, self.idempotency_ttl)
            await self.store.restore(
                clinic_id,
                state,
                tail=events[-STREAM_TAIL_ON_REBUILD:],
                idempotency={k: v.encode() for k, v in records.items()},
            )
            self.rebuilds += 1
            log.info("rebuilt clinic %s from %d journal entries", clinic_id, len(events))
        finally:
            if await self.store.client.get(lock) == token.encode():
                await self.store.client.delete(lock)

    async def reconcile(self, clinic_id: str) -> int:
        """Journal events that reached Redis but not the journal; return how many."""
        start = max(0, await self.journal.max_offset(clinic_id) - RECONCILE_WINDOW)
        streamed = await self.store.stream_after(clinic_id, start)
        journaled = await self.journal.offsets_after(clinic_id, start)
        missing = [row for row in streamed if row[0] not in journaled]
        entries = []
        for offset, body, idem_key in missing:
            event = ev.decode_event(body)
            record = await self.store.idem_record(clinic_id, idem_key) if idem_key else None
            entries.append(
                Entry(clinic_id, offset, _kind(event), event.at, body, idem_key or None, record)
            )
        await self.journal.append(entries)
        return len(entries)

    # -- reads ---------------------------------------------------------------------------------

    async def board(self, clinic_id: str) -> dict[str, Any]:
        clinic = await self.clinic(clinic_id)

        async def read() -> dict[str, Any]:
            state, epoch = await self.store.snapshot(clinic_id)
            return board(clinic, state, epoch=epoch, now=self.clock())

        return await self._loaded(clinic_id, read)

    async def ticket(self, clinic_id: str, ticket_id: str) -> tuple[Any, int]:
        await self.clinic(clinic_id)
        found = await self._loaded(clinic_id, lambda: self.store.ticket(clinic_id, ticket_id))
        if found is None:
            raise NotFound(f"no ticket {ticket_id!r} today", code="ticket_not_found")
        return found


def _kind(event: ev.Event) -> str:
    return str(type(event).__struct_config__.tag)
