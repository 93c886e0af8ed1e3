"""The spool against loopback printers: job and printer states, alerts, fallback, reprint."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field

import pytest
from escpos_decode import decode
from fake_printer import FakePrinter

from ticketing.errors import PrinterConfigError, SpoolError
from ticketing.layout import TicketPrint
from ticketing.printers import open_printer
from ticketing.spool import JobState, PrintJob, Spool, SpoolPolicy
from ticketing.status import PrinterState

Factory = Callable[..., FakePrinter]
FAST = SpoolPolicy(attempts=3, backoff=0.01, backoff_max=0.05, call_timeout=3, poll_interval=None)


@dataclass
class Recorder:
    """Collects what the spool reports to the dashboard and the kiosk."""

    alerts: list[tuple[str, PrinterState]] = field(default_factory=list)
    fallbacks: list[PrintJob] = field(default_factory=list)

    def on_alert(self, printer_id: str, state: PrinterState, message: str) -> None:
        assert message
        self.alerts.append((printer_id, state))

    def on_fallback(self, job: PrintJob) -> None:
        self.fallbacks.append(job)


StartSpool = Callable[..., Awaitable[tuple[Spool, Recorder]]]


@pytest.fixture
async def spool_for() -> AsyncIterator[StartSpool]:
    """Start spools on printer URLs (or adapters); all are closed after the test."""
    spools: list[Spool] = []

    async def start(printers: dict[str, object], policy: SpoolPolicy = FAST):
        recorder = Recorder()
        adapters = {k: open_printer(v) if isinstance(v, str) else v for k, v in printers.items()}
        spool = Spool(
            adapters, policy=policy, on_alert=recorder.on_alert, on_fallback=recorder.on_fallback
        )
        await spool.start()
        spools.append(spool)
        return spool, recorder

    yield start
    for spool in spools:
        await spool.close()


async def until(predicate: Callable[[], object], limit: float = 3.0) -> None:
    """Wait for a condition another thread or task makes true."""
    deadline = time.monotonic() + limit
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.01)


async def test_online_printer_prints(
    spool_for: StartSpool, printer_factory: Factory, ticket: TicketPrint
) -> None:
    """The job is printed, its bytes reach the printer, the printer turns OK."""
    fake = printer_factory("online")
    spool, seen = await spool_for({"k1": fake.url})
    job = spool.submit("k1", ticket)
    assert job.state is JobState.QUEUED
    assert await spool.wait(job.id) is JobState.PRINTED
    assert (job.attempts, job.error, job.printer_state) == (1, None, PrinterState.OK)
    await until(lambda: fake.jobs)
    assert fake.jobs == [job.data]
    assert spool.printer_state("k1") is PrinterState.OK
    assert seen.alerts == [("k1", PrinterState.OK)]
    assert seen.fallbacks == []


async def test_paper_out_fails_alerts_and_falls_back(
    spool_for: StartSpool, printer_factory: Factory, ticket: TicketPrint
) -> None:
    """Paper out: no ticket bytes sent, job failed without retries, alert and fallback."""
    fake = printer_factory("paper_out")
    spool, seen = await spool_for({"k1": fake.url})
    job = spool.submit("k1", ticket)
    assert await spool.wait(job.id) is JobState.FAILED
    assert job.attempts == 1
    assert job.printer_state is PrinterState.PAPER_OUT
    assert spool.printer_state("k1") is PrinterState.PAPER_OUT
    assert seen.alerts == [("k1", PrinterState.PAPER_OUT)]
    assert seen.fallbacks == [job]
    assert seen.fallbacks[0].ticket.number == "Т-042"
    await until(lambda: fake.jobs)
    assert fake.jobs == [b""]


async def test_known_bad_printer_falls_back_at_once(
    spool_for: StartSpool, printer_factory: Factory, ticket: TicketPrint
) -> None:
    """While a printer is known out of paper, new tickets go on screen without a print try."""
    fake = printer_factory("paper_out")
    spool, seen = await spool_for({"k1": fake.url})
    await spool.wait(spool.submit("k1", ticket).id)
    await until(lambda: fake.connections == 1)
    second = spool.submit("k1", ticket)
    assert second.state is JobState.FAILED
    assert seen.fallbacks[-1] is second
    await spool.join()
    assert fake.connections == 1


async def test_unreachable_printer_retries_then_goes_offline(
    spool_for: StartSpool, refused_url: str, ticket: TicketPrint
) -> None:
    """A refused connection is retried with back-off, then the job fails and alerts OFFLINE."""
    spool, seen = await spool_for({"k1": refused_url})
    job = spool.submit("k1", ticket)
    assert await spool.wait(job.id) is JobState.FAILED
    assert job.attempts == FAST.attempts
    assert job.error is not None and "cannot open" in job.error
    assert spool.printer_state("k1") is PrinterState.OFFLINE
    assert seen.alerts == [("k1", PrinterState.OFFLINE)]
    assert seen.fallbacks == [job]


@pytest.mark.parametrize("scenario", ["silent", "deaf", "once"])
async def test_unconfirmed_job_is_not_printed(
    spool_for: StartSpool, printer_factory: Factory, ticket: TicketPrint, scenario: str
) -> None:
    """Silence after the job (a printer that never answers, never reads, or stopped answering)
    is UNKNOWN: the ticket is sent once, not retried, not "printed", and the kiosk falls back
    with an alert even when the printer was already unknown."""
    fake = printer_factory(scenario)
    spool, seen = await spool_for({"k1": fake.url})
    job = spool.submit("k1", ticket)
    assert await spool.wait(job.id) is JobState.UNCONFIRMED
    assert (job.attempts, job.printer_state) == (1, PrinterState.UNKNOWN)
    assert job.error is not None and "did not confirm" in job.error
    assert spool.printer_state("k1") is PrinterState.UNKNOWN
    assert seen.alerts == [("k1", PrinterState.UNKNOWN)]
    assert seen.fallbacks == [job]
    await until(lambda: fake.jobs)
    assert fake.jobs == [b"" if scenario == "deaf" else job.data]


async def test_cover_open_sends_nothing_and_alerts_red(
    spool_for: StartSpool, printer_factory: Factory, ticket: TicketPrint
) -> None:
    """An open cover (DLE EOT 2) fails the job at once without sending it."""
    fake = printer_factory("cover_open")
    spool, seen = await spool_for({"k1": fake.url})
    job = spool.submit("k1", ticket)
    assert await spool.wait(job.id) is JobState.FAILED
    assert (job.attempts, job.printer_state) == (1, PrinterState.COVER_OPEN)
    assert seen.alerts == [("k1", PrinterState.COVER_OPEN)]
    await until(lambda: fake.jobs)
    assert fake.jobs == [b""]


async def test_connection_dropped_mid_job_fails_after_retries(
    spool_for: StartSpool, printer_factory: Factory, ticket: TicketPrint
) -> None:
    """A printer that drops every job: each attempt is cut short, then OFFLINE and fallback;
    the job is unconfirmed, not failed, since part of it reached the paper."""
    fake = printer_factory("drop", drop_after=40)
    spool, seen = await spool_for({"k1": fake.url})
    job = spool.submit("k1", ticket)
    assert await spool.wait(job.id) is JobState.UNCONFIRMED
    assert job.attempts == FAST.attempts
    assert spool.printer_state("k1") is PrinterState.OFFLINE
    assert seen.alerts == [("k1", PrinterState.OFFLINE)]
    assert seen.fallbacks == [job]
    await until(lambda: len(fake.jobs) == FAST.attempts)
    assert all(len(sent) == 40 for sent in fake.jobs)


async def test_connection_dropped_once_is_retried(
    spool_for: StartSpool, printer_factory: Factory, ticket: TicketPrint
) -> None:
    """One dropped connection is retried and the same ticket bytes print in full."""
    fake = printer_factory("drop", drop_after=40, drops_left=1)
    spool, seen = await spool_for({"k1": fake.url})
    job = spool.submit("k1", ticket)
    assert await spool.wait(job.id) is JobState.PRINTED
    assert job.attempts == 2
    await until(lambda: len(fake.jobs) == 2)
    assert fake.jobs == [job.data[:40], job.data]
    assert seen.alerts == [("k1", PrinterState.OK)]
    assert seen.fallbacks == []


async def test_paper_near_end_prints_and_alerts(
    spool_for: StartSpool, printer_factory: Factory, ticket: TicketPrint
) -> None:
    """Near end of paper still prints, and the dashboard hears about it."""
    fake = printer_factory("near_end")
    spool, seen = await spool_for({"k1": fake.url})
    job = spool.submit("k1", ticket)
    assert await spool.wait(job.id) is JobState.PRINTED
    assert seen.alerts == [("k1", PrinterState.PAPER_NEAR_END)]


async def test_idle_poll_sees_paper_replaced(
    spool_for: StartSpool, printer_factory: Factory, ticket: TicketPrint
) -> None:
    """After paper out, the idle status poll notices the new roll and printing resumes."""
    fake = printer_factory("paper_out")
    policy = SpoolPolicy(backoff=0.01, call_timeout=3, poll_interval=0.05)
    spool, seen = await spool_for({"k1": fake.url}, policy)
    await spool.wait(spool.submit("k1", ticket).id)
    fake.scenario = "online"
    await until(lambda: spool.printer_state("k1") is PrinterState.OK)
    assert seen.alerts == [("k1", PrinterState.PAPER_OUT), ("k1", PrinterState.OK)]
    assert await spool.wait(spool.submit("k1", ticket).id) is JobState.PRINTED


async def test_reprint_sends_the_same_bytes(
    spool_for: StartSpool, printer_factory: Factory, ticket: TicketPrint
) -> None:
    """A reprint is a new job with the original's bytes; nothing new is rendered or issued."""
    fake = printer_factory("online")
    spool, _ = await spool_for({"k1": fake.url})
    first = spool.submit("k1", ticket)
    await spool.wait(first.id)
    again = spool.reprint(first.id)
    assert (again.id != first.id, again.reprint_of, again.data) == (True, first.id, first.data)
    assert again.ticket is first.ticket
    assert await spool.wait(again.id) is JobState.PRINTED
    await until(lambda: len(fake.jobs) == 2)
    assert fake.jobs == [first.data, first.data]
    with pytest.raises(SpoolError):
        spool.reprint("pj-nope")


async def test_reprint_elsewhere_is_the_same_ticket(
    spool_for: StartSpool, printer_factory: Factory, ticket: TicketPrint
) -> None:
    """A reprint at another printer renders the same ticket for that printer's profile."""
    kiosk, desk = printer_factory("paper_out"), printer_factory("online")
    spool, _ = await spool_for({"kiosk": kiosk.url, "desk": desk.url + "&profile=TM-T88III"})
    first = spool.submit("kiosk", ticket)
    assert await spool.wait(first.id) is JobState.FAILED
    again = spool.reprint(first.id, printer_id="desk")
    assert await spool.wait(again.id) is JobState.PRINTED
    assert (again.ticket, again.reprint_of, again.printer_id) == (ticket, first.id, "desk")
    await until(lambda: desk.jobs)
    assert "Т-042" in decode(desk.jobs[0], profile="TM-T88III").text.splitlines()


class HangingPrinter:
    """An adapter whose device never returns, as a wedged USB or driver would."""

    profile = "default"
    codepage = None

    def __init__(self) -> None:
        self.calls = 0

    def status(self) -> PrinterState:
        return PrinterState.UNKNOWN

    def print(self, data: bytes) -> PrinterState:
        self.calls += 1
        time.sleep(0.3)
        return PrinterState.OK


async def test_submit_never_waits_for_the_printer(
    spool_for: StartSpool, ticket: TicketPrint
) -> None:
    """Submitting returns at once even when the printer hangs; after the call time-out the job is
    unconfirmed (the hung call may have printed it) and the queued ones go on screen."""
    hanging = HangingPrinter()
    policy = SpoolPolicy(attempts=1, call_timeout=0.05, poll_interval=None)
    spool, seen = await spool_for({"k1": hanging}, policy)
    started = time.monotonic()
    jobs = [spool.submit("k1", ticket) for _ in range(5)]
    assert time.monotonic() - started < 0.05
    assert await spool.wait(jobs[0].id) is JobState.UNCONFIRMED
    assert jobs[0].error == "no answer within 0.05 s"
    assert seen.alerts == [("k1", PrinterState.OFFLINE)]
    assert all(job.state is JobState.FAILED for job in jobs[1:])  # queued ones go on screen
    assert len(seen.fallbacks) == 5


async def test_stale_jobs_are_not_printed(spool_for: StartSpool, ticket: TicketPrint) -> None:
    """A ticket queued past stale_after goes to the screen, not on paper minutes late."""
    hanging = HangingPrinter()
    policy = SpoolPolicy(attempts=1, call_timeout=1, poll_interval=None, stale_after=0.1)
    spool, seen = await spool_for({"k1": hanging}, policy)
    first, second = spool.submit("k1", ticket), spool.submit("k1", ticket)
    assert await spool.wait(first.id) is JobState.PRINTED
    assert await spool.wait(second.id) is JobState.FAILED
    assert (second.error, hanging.calls) == ("not printed in time", 1)
    assert seen.fallbacks == [second]


async def test_unknown_printer_and_illegal_moves_raise(
    spool_for: StartSpool, ticket: TicketPrint
) -> None:
    """Misuse is a SpoolError: an unknown printer, an unknown job, a finished job moved."""
    spool, _ = await spool_for({"k1": HangingPrinter()})
    with pytest.raises(SpoolError):
        spool.submit("k9", ticket)
    with pytest.raises(SpoolError):
        spool.job("pj-0")
    job = spool.submit("k1", ticket)
    await spool.wait(job.id)
    with pytest.raises(SpoolError, match="illegal transition"):
        job.move(JobState.PRINTING)


async def test_bad_code_page_is_refused_at_start() -> None:
    """A printer configured with a code page its profile lacks stops the spool from starting."""
    printer = open_printer("tcp://127.0.0.1:9?profile=TM-T88III&codepage=CP1251")
    with pytest.raises(PrinterConfigError, match="CP1251"):
        await Spool({"k1": printer}).start()
