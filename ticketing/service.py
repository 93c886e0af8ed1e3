"""Printing for the engine: one spool per worker process for the kiosk printers it has used.

    kiosk ── POST .../kiosks/{k}/print ──> print_ticket: claim the ticket, Spool.submit (at once),
                                            record "queued" in Redis ──> 202 {"id": "pj-...", ...}
    spool worker (this process) ── prints ──> record "printed" | "failed" in Redis
    kiosk ── GET .../print/{job} ──> any worker reads the record; "failed" means fallback

The ticket is issued before any of this: a printer can only cost a patient paper, never their
place. Jobs run in the process that took the request, so their records and each printer's last
observed state live in Redis, where every worker reads them. Printers open on first use, and
again when a kiosk's configuration names another printer.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any, Final
from zoneinfo import ZoneInfo

import msgspec

from engine.clinic import Clinic, Kiosk
from engine.service import wall_clock_ms
from ticketing.errors import SpoolError
from ticketing.fleet import day_of, fleet_view, parse_stats
from ticketing.layout import TicketPrint
from ticketing.printer_config import PrinterConfig, check_printer
from ticketing.printers import printer_for
from ticketing.records import JobRecord, PrinterRecord, Roll, is_alert
from ticketing.records_redis import PENDING, PrintRecords
from ticketing.spool import JobState, Printer, PrintJob, Spool, SpoolPolicy
from ticketing.status import PrinterState

log = logging.getLogger(__name__)
CLAIM_WAIT_SECONDS: Final = 2.0  # how long a repeated request waits for a first one to submit
SEEN_EVERY: Final = 20.0  # seconds between writes of a printer's "last seen"
CLOSE_SECONDS: Final = 2.0  # how long closing waits for the last records to reach Redis
# A printer back to ``ok`` from these has had its roll changed.
NEEDS_PAPER: Final = frozenset({PrinterState.PAPER_NEAR_END, PrinterState.PAPER_OUT})


class PrintService:
    """Submit, reprint and look up print jobs; keep printer states for the dashboard."""

    def __init__(
        self,
        records: PrintRecords,
        *,
        policy: SpoolPolicy | None = None,
        open_printer: Callable[[PrinterConfig], Printer] = printer_for,
    ) -> None:
        """``open_printer`` makes the adapter for a kiosk's printer URL (by its scheme)."""
        self.records = records
        self._open_printer = open_printer
        self.spool = Spool({}, policy=policy, on_alert=self._on_alert, on_seen=self._on_seen)
        self._seen_at: dict[str, float] = {}  # printer id -> when its answer was last written
        self._opened: dict[str, tuple[str, str | None]] = {}  # printer id -> (url, profile)
        self._tasks: set[asyncio.Task[None]] = set()
        # Redis writes about printers, in the order this process saw them happen.
        self._states: asyncio.Queue[Callable[[], Awaitable[None]] | None] = asyncio.Queue()
        self._writer: asyncio.Task[None] | None = None

    async def start(self) -> None:
        await self.spool.start()
        self._writer = asyncio.create_task(self._write_states(), name="printing:states")

    async def close(self) -> None:
        """Stop printing; jobs still queued fail (their kiosks already show the tickets)."""
        await self.spool.close()
        self._states.put_nowait(None)
        pending = [*self._tasks, *([self._writer] if self._writer else [])]
        if pending:
            _, late = await asyncio.wait(pending, timeout=CLOSE_SECONDS)
            for task in late:
                task.cancel()
            await asyncio.gather(*late, return_exceptions=True)

    async def print_ticket(
        self, clinic: str, kiosk: Kiosk, ticket: str, paper: TicketPrint
    ) -> tuple[JobRecord, bool]:
        """Queue the first print of ``ticket`` at ``kiosk``; returns (its job, whether new).

        A ticket prints once: asking again (a retried request) answers the first job, and a
        second copy is an explicit reprint.
        """
        held = await self.records.claim_ticket(clinic, ticket)
        if held is not None:
            return await self._first_job(clinic, ticket, held), False
        try:
            job = self.spool.submit(self._printer(clinic, kiosk), paper)
        except Exception:
            await self.records.release_ticket(clinic, ticket)
            raise
        record = await self._track(clinic, kiosk.id, ticket, job)
        await self.records.bind_ticket(clinic, ticket, job.id)
        return record, True

    async def reprint(self, clinic: str, kiosk: Kiosk, job_id: str) -> JobRecord | None:
        """Print the same ticket again at ``kiosk``; None if there is no such job."""
        original = await self.records.job(clinic, job_id)
        if original is None:
            return None
        job = self.spool.submit(self._printer(clinic, kiosk), original.paper, reprint_of=job_id)
        return await self._track(clinic, kiosk.id, original.ticket, job)

    async def job(self, clinic: str, job_id: str) -> JobRecord | None:
        return await self.records.job(clinic, job_id)

    async def printer(self, clinic: str, kiosk: str) -> PrinterRecord:
        """The kiosk printer's last state observed by any worker (unknown before the first)."""
        return (await self.records.printers(clinic)).get(kiosk) or PrinterRecord(kiosk=kiosk)

    async def rolls(self, clinic: str) -> dict[str, Roll]:
        return await self.records.rolls(clinic)

    async def alerts(self, clinic: Clinic) -> list[PrinterRecord]:
        """The clinic's kiosk printers that need someone: out of paper, offline, gone silent."""
        states = await self.records.printers(clinic.id)
        found = [states.get(k.id) for k in clinic.kiosks]
        return [record for record in found if record is not None and is_alert(record)]

    def _printer(self, clinic: str, kiosk: Kiosk) -> str:
        """The spool's printer id for a kiosk, opening the printer if it is new or changed."""
        printer_id = f"{clinic}/{kiosk.id}"
        wanted = (kiosk.printer, kiosk.profile)
        if self._opened.get(printer_id) != wanted:
            # PrinterConfigError, e.g. a driver extra missing on this host
            self.spool.add(printer_id, self._open_printer(check_printer(*wanted)))
            self._opened[printer_id] = wanted
        return printer_id

    async def _first_job(self, clinic: str, ticket: str, held: str) -> JobRecord:
        deadline = time.monotonic() + CLAIM_WAIT_SECONDS
        while held == PENDING.decode() and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
            held = await self.records.ticket_job(clinic, ticket) or held
        record = await self.records.job(clinic, held) if held != PENDING.decode() else None
        if record is None:
            raise SpoolError(f"ticket {ticket!r} is being sent to a printer; ask again shortly")
        return record

    async def _track(self, clinic: str, kiosk: str, ticket: str, job: PrintJob) -> JobRecord:
        record = JobRecord(
            id=job.id,
            clinic=clinic,
            kiosk=kiosk,
            ticket=ticket,
            state=job.state.value,
            paper=job.ticket,
            reprint_of=job.reprint_of,
            submitted_at=wall_clock_ms(),
        )
        record = _update(record, job)
        await self.records.save_job(record)
        # Started after the first save, so the final record is always written after it.
        task = asyncio.create_task(self._finish(record, job), name=f"printing:{job.id}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return record

    async def _finish(self, record: JobRecord, job: PrintJob) -> None:
        await job.done.wait()
        clinic, kiosk, now = record.clinic, record.kiosk, wall_clock_ms()
        day = day_of(ZoneInfo(record.paper.tz), now)
        self._states.put_nowait(
            functools.partial(self.records.job_finished, clinic, kiosk, job.state.value, day, now)
        )
        self._states.put_nowait(functools.partial(self.records.announce, clinic, kiosk))
        if job.printer_state is not None:
            # Every finished job is news about its printer for every worker: another may have
            # seen it last (say, near the end of its roll), and Redis may have lost the record
            # (a flush): the spool alerts only on a change it sees, so a printer still out of
            # paper would go quiet. Written only when Redis holds something else.
            printed = job.state is JobState.PRINTED
            seen = PrinterRecord(
                kiosk=record.kiosk,
                state=job.printer_state.value,
                message="printed" if printed else job.error or job.printer_state.value,
            )
            self._states.put_nowait(functools.partial(self._observed, record.clinic, seen, False))
            if printed:
                count = functools.partial(self.records.count_printed, record.clinic, record.kiosk)
                self._states.put_nowait(count)
        try:
            await self.records.save_job(_update(record, job))
        except Exception as exc:  # the kiosk's poll times out and falls back on its own
            log.warning("print job %s: record not saved: %s", job.id, exc.__class__.__name__)

    def _on_alert(self, printer_id: str, state: PrinterState, message: str) -> None:
        clinic, _, kiosk = printer_id.partition("/")
        record = PrinterRecord(kiosk=kiosk, state=state.value, message=message)
        self._states.put_nowait(functools.partial(self._observed, clinic, record, True))

    def _on_seen(self, printer_id: str, state: PrinterState) -> None:
        # Every poll answers; "last seen" to the minute needs a write only now and then.
        if time.monotonic() - self._seen_at.get(printer_id, -SEEN_EVERY) < SEEN_EVERY:
            return
        self._seen_at[printer_id] = time.monotonic()
        clinic, _, kiosk = printer_id.partition("/")
        self._states.put_nowait(
            functools.partial(self.records.seen, clinic, kiosk, wall_clock_ms())
        )

    async def fleet(self, clinic: Clinic) -> list[dict[str, Any]]:
        """Every kiosk printer of the clinic: state, last seen and printed, today's failures."""
        now = wall_clock_ms()
        records, rolls = await self.records.printers(clinic.id), await self.records.rolls(clinic.id)
        stats = parse_stats(await self.records.stats(clinic.id), day_of(clinic.zone, now))
        return fleet_view(clinic, records, rolls, stats, now)

    async def _observed(self, clinic: str, record: PrinterRecord, always: bool) -> None:
        """Record what a printer said; a printer back to ``ok`` from near end or paper out has a
        new roll. ``always``: a state change this worker saw, kept even if it repeats the last."""
        before = (await self.records.printers(clinic)).get(record.kiosk)
        now = wall_clock_ms()
        if always or before is None or before.state != record.state:
            await self.records.save_printer(clinic, msgspec.structs.replace(record, at=now))
        if record.state == PrinterState.OK and before is not None and before.state in NEEDS_PAPER:
            await self.records.roll_changed(clinic, record.kiosk, now)
        if always or before is None or before.state != record.state:
            await self.records.announce(clinic, record.kiosk)

    async def _write_states(self) -> None:
        # One writer, so a printer's states reach Redis in the order this process saw them.
        while (write := await self._states.get()) is not None:
            try:
                await write()
            except Exception as exc:
                log.warning("printer state not saved: %s", exc.__class__.__name__)


def _update(record: JobRecord, job: PrintJob) -> JobRecord:
    return msgspec.structs.replace(
        record,
        state=job.state.value,
        error=job.error,
        printer_state=job.printer_state.value if job.printer_state else None,
        attempts=job.attempts,
        finished_at=wall_clock_ms() if job.done.is_set() else None,
    )
