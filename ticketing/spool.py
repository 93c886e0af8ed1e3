"""The print spool: one asyncio queue and one worker task per printer.

``submit`` renders the ticket and queues it without waiting, so printing never delays issuing a
ticket. Workers run the blocking printer calls in a thread under a time-out, retry transport
faults with back-off, and keep a state per job and per printer. ``on_alert`` hears every printer
state change (for the dashboard); ``on_fallback`` hears every job that will not print (the kiosk
then shows the number and its QR on screen).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Final, Protocol, TypeVar

from ticketing.errors import PrinterError, PrinterNotReady, SpoolError
from ticketing.layout import TicketPrint, layout, render
from ticketing.printer_config import code_page
from ticketing.status import CONFIRMS, NOT_READY, PrinterState

log = logging.getLogger(__name__)
T = TypeVar("T")


class JobState(StrEnum):
    QUEUED = "queued"
    PRINTING = "printing"
    PRINTED = "printed"  # the printer's status, read back after the job, confirms it
    UNCONFIRMED = "unknown"  # sent, but the printer did not confirm: treat as not printed
    FAILED = "failed"  # not sent, or cut short and never confirmed


FINISHED: Final = frozenset({JobState.PRINTED, JobState.UNCONFIRMED, JobState.FAILED})


TRANSITIONS: Final[dict[JobState, frozenset[JobState]]] = {
    JobState.QUEUED: frozenset({JobState.PRINTING, JobState.FAILED}),
    JobState.PRINTING: frozenset({JobState.PRINTED, JobState.UNCONFIRMED, JobState.FAILED}),
    JobState.PRINTED: frozenset(),
    JobState.UNCONFIRMED: frozenset(),
    JobState.FAILED: frozenset(),
}

AlertHook = Callable[[str, PrinterState, str], None]
SeenHook = Callable[[str, PrinterState], None]
FallbackHook = Callable[["PrintJob"], None]


class Printer(Protocol):
    """What the spool needs from a printer adapter (``printers.TRANSPORTS`` opens the real ones)."""

    @property
    def profile(self) -> str: ...

    @property
    def codepage(self) -> str | None: ...

    def status(self) -> PrinterState: ...

    def print(self, data: bytes) -> PrinterState: ...


@dataclass(frozen=True)
class SpoolPolicy:
    """Retries, back-off and time-outs, in seconds."""

    attempts: int = 3
    backoff: float = 0.5  # first pause between attempts; doubles up to backoff_max
    backoff_max: float = 4.0
    call_timeout: float = 10.0  # one blocking printer call, whatever the adapter's own time-outs
    poll_interval: float | None = 15.0  # status query while idle, to see recovery; None: never
    stale_after: float = 120.0  # a ticket still queued this long is not printed any more
    keep_jobs: int = 1000  # finished jobs remembered for reprint


@dataclass
class PrintJob:
    """One ticket on its way to one printer; ``data`` is the exact bytes sent."""

    id: str
    printer_id: str
    ticket: TicketPrint
    data: bytes
    reprint_of: str | None = None
    state: JobState = JobState.QUEUED
    attempts: int = 0
    error: str | None = None
    printer_state: PrinterState | None = None
    submitted_at: float = field(default_factory=time.monotonic)
    done: asyncio.Event = field(default_factory=asyncio.Event, repr=False, compare=False)

    def move(self, new: JobState) -> None:
        """Change state along TRANSITIONS, or raise SpoolError."""
        if new not in TRANSITIONS[self.state]:
            raise SpoolError(f"job {self.id}: illegal transition {self.state} -> {new}")
        self.state = new
        if new in FINISHED:
            self.done.set()


class Spool:
    """Print jobs per printer; use as ``async with Spool(printers, ...) as spool``."""

    def __init__(
        self,
        printers: Mapping[str, Printer],
        *,
        policy: SpoolPolicy | None = None,
        on_alert: AlertHook | None = None,
        on_fallback: FallbackHook | None = None,
        on_seen: SeenHook | None = None,
    ) -> None:
        self.policy = policy or SpoolPolicy()
        self._printers = dict(printers)
        self._states = dict.fromkeys(self._printers, PrinterState.UNKNOWN)
        self._queues: dict[str, asyncio.Queue[PrintJob]] = {}
        self._workers: list[asyncio.Task[None]] = []
        self._jobs: OrderedDict[str, PrintJob] = OrderedDict()
        self._on_alert = on_alert
        self._on_fallback = on_fallback
        self._on_seen = on_seen  # every answer a printer gives, changed or not (its "last seen")
        self._started = False

    async def start(self) -> None:
        """Check each printer's profile and code page, then start one worker task per printer."""
        for printer in self._printers.values():
            code_page(printer.profile, printer.codepage)  # PrinterConfigError
        self._started = True
        for printer_id in self._printers:
            self._start_worker(printer_id)

    def add(self, printer_id: str, printer: Printer) -> None:
        """Add a printer, or replace the adapter of one that was reconfigured; its state restarts
        as unknown. On a running spool the new printer's worker starts at once."""
        code_page(printer.profile, printer.codepage)  # PrinterConfigError
        self._printers[printer_id] = printer  # a worker reads the adapter at each job
        self._states[printer_id] = PrinterState.UNKNOWN
        if self._started and printer_id not in self._queues:
            self._start_worker(printer_id)

    def _start_worker(self, printer_id: str) -> None:
        self._queues[printer_id] = asyncio.Queue()
        task = asyncio.create_task(self._work(printer_id), name=f"spool:{printer_id}")
        self._workers.append(task)

    async def close(self) -> None:
        """Stop the workers; queued jobs are failed so their kiosks fall back."""
        for task in self._workers:
            task.cancel()
        await asyncio.gather(*self._workers, return_exceptions=True)
        self._workers.clear()
        self._started = False
        for job in list(self._jobs.values()):
            if not job.done.is_set():
                self._fail(job, "spool closed")

    async def __aenter__(self) -> Spool:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    def submit(
        self, printer_id: str, ticket: TicketPrint, *, reprint_of: str | None = None
    ) -> PrintJob:
        """Render ``ticket`` for the printer and queue it; returns at once.

        ``reprint_of`` marks a copy of a job this spool no longer holds (say, one another process
        printed): the same ticket data renders to the same bytes.
        """
        printer = self._printer(printer_id)
        data = render(layout(ticket), profile=printer.profile, codepage=printer.codepage)
        job = PrintJob(self._new_id(), printer_id, ticket, data, reprint_of=reprint_of)
        return self._enqueue(job)

    def reprint(self, job_id: str, printer_id: str | None = None) -> PrintJob:
        """Queue the same ticket again as a new job, never a new ticket.

        On the same printer the bytes are the original's; another printer (say, at reception)
        gets the same ticket rendered for its own profile.
        """
        original = self.job(job_id)
        target = printer_id or original.printer_id
        data = original.data
        if target != original.printer_id:
            printer = self._printer(target)
            data = render(
                layout(original.ticket), profile=printer.profile, codepage=printer.codepage
            )
        job = PrintJob(self._new_id(), target, original.ticket, data, reprint_of=job_id)
        return self._enqueue(job)

    def job(self, job_id: str) -> PrintJob:
        try:
            return self._jobs[job_id]
        except KeyError:
            raise SpoolError(f"no print job {job_id!r}") from None

    def printer_state(self, printer_id: str) -> PrinterState:
        self._printer(printer_id)
        return self._states[printer_id]

    async def wait(self, job_id: str) -> JobState:
        """Wait until the job is printed or failed."""
        job = self.job(job_id)
        await job.done.wait()
        return job.state

    async def join(self) -> None:
        """Wait until every queue is empty and idle (a burst mode for tests and shutdown)."""
        for queue in self._queues.values():
            await queue.join()

    def _printer(self, printer_id: str) -> Printer:
        try:
            return self._printers[printer_id]
        except KeyError:
            raise SpoolError(f"no printer {printer_id!r}") from None

    def _new_id(self) -> str:
        # Random, so an id kept by a kiosk across a restart never names another ticket's job.
        return f"pj-{uuid.uuid4().hex[:12]}"

    def _enqueue(self, job: PrintJob) -> PrintJob:
        if job.printer_id not in self._queues:
            raise SpoolError("spool is not started")
        self._jobs[job.id] = job
        while len(self._jobs) > self.policy.keep_jobs:
            oldest = next(iter(self._jobs.values()))
            if not oldest.done.is_set():
                break
            self._jobs.popitem(last=False)
        state = self._states[job.printer_id]
        if state in NOT_READY:
            # Known out of paper or offline: show the number on screen now rather than print a
            # ticket minutes later for a patient who has already walked away.
            self._fail(job, f"printer is {state}")
        else:
            self._queues[job.printer_id].put_nowait(job)
        return job

    async def _work(self, printer_id: str) -> None:
        queue = self._queues[printer_id]
        while True:
            try:
                async with asyncio.timeout(self.policy.poll_interval):
                    job = await queue.get()
            except TimeoutError:
                await self._poll(printer_id)
                continue
            try:
                await self._print(job)
            except Exception:
                log.exception("print job %s crashed", job.id)
                if not job.done.is_set():
                    self._fail(job, "internal error")
            finally:
                queue.task_done()

    async def _print(self, job: PrintJob) -> None:
        if time.monotonic() - job.submitted_at > self.policy.stale_after:
            self._fail(job, "not printed in time")
            return
        job.move(JobState.PRINTING)
        printer = self._printers[job.printer_id]
        delay = self.policy.backoff
        error, sent = "no attempt made", False
        for attempt in range(1, self.policy.attempts + 1):
            job.attempts = attempt
            try:
                state = await self._call(printer.print, job.data)
            except PrinterNotReady as exc:
                # Paper out or offline will not fix itself within a back-off: fall back now.
                self._seen(job.printer_id, exc.state)
                self._set_state(job.printer_id, exc.state, str(exc))
                self._fail(job, str(exc))
                return
            except PrinterError as exc:
                error, sent = str(exc), exc.sent
                log.warning("print job %s attempt %d failed: %s", job.id, attempt, exc)
                if attempt < self.policy.attempts:
                    await asyncio.sleep(delay)
                    delay = min(delay * 2, self.policy.backoff_max)
                continue
            job.printer_state = state
            self._seen(job.printer_id, state)
            if state in CONFIRMS:
                self._set_state(job.printer_id, state, "printed")
                job.move(JobState.PRINTED)
            else:
                # Sent, but nothing says it came out: no retry (it may have printed), no "printed".
                self._unconfirmed(job, state, f"the printer did not confirm the ticket ({state})")
            return
        if sent:  # cut short or timed out after the write: some paper may have come out
            self._unconfirmed(job, PrinterState.OFFLINE, error)
        else:
            self._set_state(job.printer_id, PrinterState.OFFLINE, error)
            self._fail(job, error)

    def _unconfirmed(self, job: PrintJob, state: PrinterState, error: str) -> None:
        # Always an alert, even when the state has not changed: a printer that never answers
        # is silent at start-up too, but a ticket it did not confirm needs someone to look.
        self._set_state(job.printer_id, state, error, force=True)
        job.error = error
        job.printer_state = state
        job.move(JobState.UNCONFIRMED)
        if self._on_fallback is not None:
            with _guard("on_fallback"):
                self._on_fallback(job)

    async def _poll(self, printer_id: str) -> None:
        try:
            state = await self._call(self._printers[printer_id].status)
        except PrinterError as exc:
            self._set_state(printer_id, PrinterState.OFFLINE, str(exc))
        else:
            self._seen(printer_id, state)
            self._set_state(printer_id, state, "status query")

    def _seen(self, printer_id: str, state: PrinterState) -> None:
        if state is not PrinterState.UNKNOWN and self._on_seen is not None:
            with _guard("on_seen"):
                self._on_seen(printer_id, state)

    async def _call(self, fn: Callable[..., T], *args: object) -> T:
        try:
            async with asyncio.timeout(self.policy.call_timeout):
                return await asyncio.to_thread(fn, *args)
        except TimeoutError as exc:
            # The thread may be past the write: paper may have come out.
            raise PrinterError(
                f"no answer within {self.policy.call_timeout:g} s", sent=True
            ) from exc

    def _set_state(
        self, printer_id: str, state: PrinterState, message: str, *, force: bool = False
    ) -> None:
        if self._states[printer_id] == state and not force:
            return
        self._states[printer_id] = state
        if self._on_alert is not None:
            with _guard("on_alert"):
                self._on_alert(printer_id, state, message)
        if state in NOT_READY:
            # Tickets already waiting would each sit through the same failures: show them
            # on screen now.
            queue = self._queues[printer_id]
            while not queue.empty():
                self._fail(queue.get_nowait(), f"printer is {state}")
                queue.task_done()

    def _fail(self, job: PrintJob, error: str) -> None:
        job.error = error
        job.printer_state = self._states.get(job.printer_id)
        job.move(JobState.FAILED)
        if self._on_fallback is not None:
            with _guard("on_fallback"):
                self._on_fallback(job)


@contextlib.contextmanager
def _guard(hook: str) -> Iterator[None]:
    # A failing hook must not stop a printer's worker.
    try:
        yield
    except Exception:
        log.exception("%s hook failed", hook)
