"""The engine: one command in, one atomic decision in Redis, journaled, then answered.

    request ─> Lua script (decides, applies, streams events) ─> journal (group commit) ─> answer

A success answer means both happened. Redis is derived state; the journal decides:

- Redis lost a clinic (no epoch marker): the clinic is rebuilt from the journal (its newest
  snapshot plus the tail) before anything else is served.
- Redis holds a history that is not the journal's (it came back behind, a lagging replica was
  promoted): the journal refuses the events decided on it, the clinic is fenced (no further
  decision on that state), rebuilt, and the command runs again on the rebuilt state. A
  periodic check and every "not found" read catch a stale clinic that nobody writes to.
- Events that reached Redis but not the journal (a worker killed in between) are journaled by
  ``reconcile`` from the Redis stream, in order and through the same fence.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, TypeVar

import asyncpg
import msgspec
from redis.exceptions import LockError

from engine import keys
from engine.board import board
from engine.clinic import ID_PATTERN, Clinic, stored_clinic
from engine.commands import Command, script_call
from engine.errors import NotFound, Unavailable, ValidationFailed, from_code
from engine.journal_postgres import (
    Entry,
    Head,
    Journal,
    JournalGap,
    JournalRefused,
    chained,
    link_of,
)
from engine.listen_postgres import Listener
from engine.model import events as ev
from engine.model.clock import service_day
from engine.model.entities import Reservation
from engine.model.state import ClinicState
from engine.reservations_postgres import past_reservation
from engine.snapshots_postgres import Snapshots, fold_bodies
from engine.store_redis import NotLoaded, RedisStore, ScriptAnswer

log = logging.getLogger(__name__)
T = TypeVar("T")
STREAM_TAIL_ON_REBUILD = 1000
MAX_ATTEMPTS = 3  # a command decided on a stale state runs again after the rebuild
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
        # Bumped by every configuration change heard (``follow_config``): a fetch that overlapped
        # one may hold the old configuration and must not be cached.
        self._config_changes = 0
        self._on_config: list[Callable[[str], None]] = []
        self.snapshots = Snapshots(pool)
        self.database_url = ""  # the engine's own connection, for LISTEN
        self.rebuilds = 0
        # Why clinics were fenced: clash, diverged, hole (journal refusals) or behind (a check).
        self.fenced: Counter[str] = Counter()
        self.reconciled = 0  # events journaled from the Redis stream (``reconcile``)
        # Per clinic, events Redis applied that the journal did not hold at the last check
        # (``maintain``, every 2 s): what a crash of both would lose, and what reconcile owes.
        self.unjournaled: dict[str, int] = {}
        # Called with each command's events once they are journaled (metrics, say): the engine
        # knows nothing of who listens.
        self.on_events: list[Callable[[str, Sequence[ev.AnyEvent]], None]] = []
        self._short: dict[str, int] = {}  # clinic -> a head its journal's entries fall short of

    # -- clinics -------------------------------------------------------------------------------

    async def load_clinics(self) -> None:
        """Every stored clinic; one whose configuration no longer reads is left out, loudly,
        rather than keeping every other clinic from being served."""
        while True:
            changes = self._config_changes
            rows = await self.pool.fetch("SELECT id, config FROM clinics ORDER BY id")
            if changes == self._config_changes:
                break
        clinics = {}
        for row in rows:
            try:
                clinics[row["id"]] = stored_clinic(row["config"].encode())
            except ValidationFailed as exc:
                log.error("clinic %s: its stored configuration is refused: %s", row["id"], exc)
        self.clinics = clinics

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

    async def listen_for_config(self, database_url: str) -> Listener:
        """Forget a clinic's cached configuration when any worker changes it; returns the
        listener (which reconnects by itself), which the caller closes at shutdown."""
        listener = Listener(database_url)
        await self.follow_config(listener)
        await listener.start()
        return listener

    async def follow_config(
        self, listener: Listener, on_change: Callable[[str], None] | None = None
    ) -> None:
        """Listen for configuration changes: forget the clinic's cached configuration (fetched
        again on next use), then call ``on_change(clinic_id)`` (the push server tells the
        clinic's open pages to reload there). After the listener reconnects, every clinic is
        read again, as the changes made meanwhile were not heard."""
        if on_change is not None:
            self._on_config.append(on_change)
        await listener.listen(CONFIG_CHANNEL, self.forget_clinic)
        listener.on_reconnect(self.refresh_clinics)

    async def refresh_clinics(self) -> None:
        """Read every clinic's configuration again, and tell ``on_change`` of each one that
        changed or went (a change whose notification was lost)."""
        before = self.clinics
        self._config_changes += 1  # a fetch in flight may predate what is read now
        await self.load_clinics()
        for clinic_id, clinic in before.items():
            if self.clinics.get(clinic_id) != clinic:
                log.warning("clinic %s: a configuration change was missed; reloaded", clinic_id)
                for callback in self._on_config:
                    callback(clinic_id)

    def forget_clinic(self, clinic_id: str) -> None:
        self._config_changes += 1
        self.clinics.pop(clinic_id, None)
        for callback in self._on_config:
            callback(clinic_id)

    async def clinic(self, clinic_id: str) -> Clinic:
        """A clinic's configuration; one added through another worker is fetched on first use."""
        found = self.clinics.get(clinic_id)
        if found is None and ID_PATTERN.match(clinic_id):
            changes = self._config_changes
            raw = await self.pool.fetchval("SELECT config FROM clinics WHERE id = $1", clinic_id)
            if raw is not None:
                found = stored_clinic(raw.encode())
                if changes == self._config_changes:  # else it may predate the change: no cache
                    self.clinics[clinic_id] = found
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
        for _ in range(MAX_ATTEMPTS):
            answer = await self._loaded(
                clinic_id, lambda: self._decide(clinic_id, clinic, cmd, idem_key, fingerprint)
            )
            record = (
                f"{fingerprint}|{answer.raw.decode()}" if idem_key and not answer.error else None
            )
            entries = [
                Entry(
                    clinic_id,
                    event.offset,
                    ev.kind_of(event),
                    event.at,
                    body,
                    idem_key or None,
                    record,
                )
                for event, body in zip(answer.events, answer.bodies, strict=True)
            ]
            if not entries and await self._answered_on_stale(clinic_id, answer.epoch):
                # Nothing to journal, so nothing for the journal's fence to check: an answer
                # made on a stale live state ("nobody is waiting", "no such ticket") must not
                # go out either. The clinic is rebuilt; ask again.
                continue
            try:
                await self._journal(clinic_id, chained(entries, answer.prev_link))
            except JournalRefused as refused:
                # Decided on a state that is not the journal's: nothing was committed, so the
                # command runs again once the clinic is rebuilt from the journal.
                await self._recover(clinic_id, answer.epoch, refused.reason, refused.offset)
                continue
            for listener in self.on_events:
                listener(clinic_id, answer.events)
            if answer.error:
                raise from_code(answer.error, answer.message)
            return answer.result
        raise Unavailable("the clinic's live state is being recovered; retry", code="rebuilding")

    async def _decide(
        self, clinic_id: str, clinic: Clinic, cmd: Command, idem_key: str, fingerprint: str
    ) -> ScriptAnswer:
        now = self.clock()
        name, args = script_call(cmd, clinic, now, self.hold_ms)
        day = service_day(now, clinic.timezone)
        return await self.store.run(
            name, clinic_id, now, day, args, idem_key=idem_key, request_fingerprint=fingerprint
        )

    async def _journal(self, clinic_id: str, entries: list[Entry]) -> None:
        try:
            await self.journal.append(entries)
        except JournalGap:
            # The predecessors are in Redis but not journaled (their worker died): take them
            # from the stream, then ours follow.
            await self.reconcile(clinic_id)
            await self.journal.append(entries)

    async def _loaded(self, clinic_id: str, step: Callable[[], Awaitable[T]]) -> T:
        """Run ``step``; if Redis has lost the clinic, rebuild it from the journal and run again."""
        for _ in range(MAX_ATTEMPTS):
            try:
                return await step()
            except NotLoaded:
                await self.rebuild(clinic_id)
        raise Unavailable("the clinic's live state could not be loaded", code="rebuilding")

    # -- recovery ------------------------------------------------------------------------------

    async def _recover(self, clinic_id: str, epoch: str, why: str, offset: int) -> None:
        """Fence a clinic whose live state is not the journal's history, then rebuild it."""
        if await self.store.fence(clinic_id, epoch):
            self.fenced[why] += 1
            log.warning(
                "clinic %s: live state is not the journal's history (%s at offset %d); "
                "fenced and rebuilding from the journal",
                clinic_id, why, offset,
            )  # fmt: skip
            if why == "hole":
                log.error("clinic %s: journal entry %d is missing; run `clinicq audit verify`",
                          clinic_id, offset)  # fmt: skip
        await self.rebuild(clinic_id)

    async def _answered_on_stale(self, clinic_id: str, epoch: str) -> bool:
        """Whether an answer decided on ``epoch`` came from a live state that is not the
        journal's: it is stale now (and is rebuilt), or was rebuilt since."""
        if await self.check_fresh(clinic_id):
            return True
        return (await self.store.position(clinic_id)).epoch != epoch

    async def check_fresh(self, clinic_id: str, head: Head | None = None) -> bool:
        """Compare a clinic's live state with the journal's head; fence and rebuild it when it
        is behind or on another history. Returns whether it had to."""
        # The journal first: a healthy Redis is always at or ahead of what the journal holds,
        # so reading Redis second can never mistake the journal's progress for staleness.
        head = head or await self.journal.head(clinic_id)
        pos = await self.store.position(clinic_id)
        if pos.epoch is None:
            return False  # not loaded: the next use rebuilds it
        self.unjournaled[clinic_id] = max(0, pos.offset - head.offset)
        if pos.offset < head.offset:
            if self._short.get(clinic_id) == head.offset:
                return False  # the journal itself lacks entries up to its head: reported once
            why = "behind"
        elif not head.link:
            return False  # nothing journaled yet
        elif pos.offset == head.offset:
            why = "" if pos.link == head.link else "diverged"
        else:
            seen = await self.store.stream_link(clinic_id, head.offset)
            why = "diverged" if seen is not None and seen != head.link else ""
        if not why:
            return False
        await self._recover(clinic_id, pos.epoch, why, head.offset)
        return True

    async def rebuild(
        self, clinic_id: str, *, wait_seconds: float = 20.0, full: bool = False
    ) -> None:
        """Reload a clinic's live state from the journal; one process does it, others wait.
        ``full`` folds the whole journal instead of starting from the newest snapshot."""
        # redis-py's Lock releases by compare-and-delete: a rebuild that outlived the lock's
        # 30 s never deletes the lock of the process that took over.
        lock = self.store.client.lock(keys.rebuild_lock(clinic_id), timeout=30)
        deadline = time.monotonic() + wait_seconds
        while not await lock.acquire(blocking=False):
            if await self.store.is_loaded(clinic_id):
                return
            if time.monotonic() > deadline:
                raise Unavailable("the clinic is being rebuilt; retry shortly", code="rebuilding")
            await asyncio.sleep(0.05)
        try:
            if await self.store.is_loaded(clinic_id):
                return
            started = time.perf_counter()
            head_offset = (await self.journal.head(clinic_id)).offset
            state, bodies, link = await self.fold_journal(clinic_id, full=full)
            records = await self.journal.idempotency_records(clinic_id, self.idempotency_ttl)
            await self.store.restore(
                clinic_id,
                state,
                tail=bodies[-STREAM_TAIL_ON_REBUILD:],
                idempotency={k: v.encode() for k, v in records.items()},
                link=link,
            )
            self.rebuilds += 1
            if state.offset < head_offset:
                # Rows up to the head were removed (tampering): no rebuild can reach the head,
                # so do not try again every round; audit verify names what is missing.
                self._short[clinic_id] = head_offset
                log.error(
                    "clinic %s: the journal's head is at offset %d but its entries end at %d; "
                    "run `clinicq audit verify`", clinic_id, head_offset, state.offset,
                )  # fmt: skip
            log.info(
                "rebuilt clinic %s at offset %d in %.2f s", clinic_id, state.offset,
                time.perf_counter() - started,
            )  # fmt: skip
        finally:
            with contextlib.suppress(LockError):
                await lock.release()

    async def fold_journal(
        self, clinic_id: str, *, full: bool = False
    ) -> tuple[ClinicState, list[str], str]:
        """The clinic's state from its newest trusted snapshot (unless ``full``) plus the
        journal after it, the last bodies read (at least the stream's tail), and the link of
        the last entry folded, which the next decision must follow."""
        snapshot = None if full else await self.snapshots.latest(clinic_id)
        after = snapshot.offset if snapshot else 0
        head = await self.journal.head(clinic_id)
        if snapshot is None and await self.journal.archived(clinic_id):
            # Folding what is left attached would be a state without its archived months.
            raise Unavailable(
                f"clinic {clinic_id}'s older months are archived and no snapshot holds",
                code="rebuilding",
            )
        bodies = await self.journal.bodies(
            clinic_id, after=max(0, min(after, head.offset - STREAM_TAIL_ON_REBUILD))
        )
        base = snapshot.state if snapshot else ClinicState()
        state = await fold_bodies(bodies, base, after)
        # Nothing read (the head's month archived, nothing since): the head's own link.
        return state, bodies, link_of(bodies[-1]) if bodies else head.link

    async def reconcile(self, clinic_id: str) -> int:
        """Journal events that reached Redis but not the journal, in order; return how many."""
        head = await self.journal.head(clinic_id)
        pos = await self.store.position(clinic_id)
        streamed = await self.store.stream_after(clinic_id, head.offset)
        entries = []
        for offset, body, idem_key, prev in streamed:
            event = ev.decode_event(body)
            record = await self.store.idem_record(clinic_id, idem_key) if idem_key else None
            entries.append(
                Entry(
                    clinic_id,
                    offset,
                    ev.kind_of(event),
                    event.at,
                    body,
                    idem_key or None,
                    record,
                    prev,
                )
            )
        try:
            await self.journal.append(entries)
        except JournalRefused as refused:
            if pos.epoch:
                await self._recover(clinic_id, pos.epoch, refused.reason, refused.offset)
            return 0
        except JournalGap as gap:
            log.warning(
                "clinic %s: the stream lacks events before offset %d", clinic_id, gap.offset
            )
            return 0
        # Committed by this call or, for an entry whose request was still in flight, already.
        self.reconciled += len(entries)
        return len(entries)

    async def maintain(self) -> None:
        """The periodic care of every clinic: catch a stale live state, take due snapshots.
        One clinic's failure is logged and does not hold up the others."""
        heads = await self.journal.heads()
        mine = {c: h.offset for c, h in heads.items() if c in self.clinics}
        due = await self.snapshots.due(mine)
        for clinic_id in list(self.clinics):
            try:
                await self.check_fresh(clinic_id, heads.get(clinic_id))
                if clinic_id in due:
                    await self.snapshots.take(clinic_id)
            except Exception as exc:
                log.warning("clinic %s: maintenance failed: %r", clinic_id, exc)

    # -- reads ---------------------------------------------------------------------------------

    async def live_state(self, clinic_id: str) -> tuple[ClinicState, str]:
        """The clinic's live state and its epoch, read in one transaction (no torn read)."""
        await self.clinic(clinic_id)
        return await self._loaded(clinic_id, lambda: self.store.snapshot(clinic_id))

    async def board_state(self, clinic_id: str) -> tuple[ClinicState, str]:
        """What a board is built from (``store.board_state``: the live queues and the tickets in
        doctors' hands, not the whole state) and its epoch, in one atomic read."""
        clinic = await self.clinic(clinic_id)
        services = [s.id for s in clinic.services]
        return await self._loaded(clinic_id, lambda: self.store.board_state(clinic_id, services))

    async def board(self, clinic_id: str) -> dict[str, Any]:
        clinic = await self.clinic(clinic_id)
        state, epoch = await self.board_state(clinic_id)
        return board(clinic, state, epoch=epoch, now=self.clock())

    async def ticket_by_link(self, clinic_id: str, link: str) -> tuple[Any, int]:
        """Today's ticket that a patient's status link names, as ``ticket`` answers."""
        await self.clinic(clinic_id)
        find = lambda: self.store.ticket_of_link(clinic_id, link)  # noqa: E731
        ticket_id = await self._loaded(clinic_id, find)
        if ticket_id is None and await self.check_fresh(clinic_id):
            ticket_id = await self._loaded(clinic_id, find)
        if ticket_id is None:
            raise NotFound("no ticket with this link today", code="ticket_not_found")
        return await self.ticket(clinic_id, ticket_id)

    async def past_reservation(self, clinic_id: str, rid: str) -> Reservation | None:
        """A reservation as the journal has it (for one the live state no longer holds)."""
        return await past_reservation(self.pool, clinic_id, rid)

    async def ticket(self, clinic_id: str, ticket_id: str) -> tuple[Any, int]:
        await self.clinic(clinic_id)
        found = await self._loaded(clinic_id, lambda: self.store.ticket(clinic_id, ticket_id))
        if found is None and await self.check_fresh(clinic_id):
            # A live state behind the journal cannot say "no such ticket": ask the rebuilt one.
            found = await self._loaded(clinic_id, lambda: self.store.ticket(clinic_id, ticket_id))
        if found is None:
            raise NotFound(f"no ticket {ticket_id!r} today", code="ticket_not_found")
        return found

    async def tickets_numbered(
        self, clinic_id: str, typed: tuple[str, int]
    ) -> list[tuple[Any, int]]:
        """Today's tickets with the number typed (usually one), oldest first, as ``ticket``
        answers each."""
        await self.clinic(clinic_id)
        find = lambda: self.store.tickets_numbered(clinic_id, typed)  # noqa: E731
        found = await self._loaded(clinic_id, find)
        if not found and await self.check_fresh(clinic_id):
            found = await self._loaded(clinic_id, find)
        out = []
        for t in sorted(found, key=lambda t: t.issued_at):
            got = await self._loaded(
                clinic_id, functools.partial(self.store.ticket, clinic_id, t.id)
            )
            if got is not None:
                out.append(got)
        return out
