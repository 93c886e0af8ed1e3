"""The engine's print service against real Redis and loopback printers, as two worker processes
would run it: two services sharing one Redis."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from fake_printer import FakePrinter

from engine.clinic import Kiosk
from tests.support import redis_client
from ticketing.layout import TicketPrint
from ticketing.records_redis import PrintRecords
from ticketing.service import PrintService
from ticketing.spool import SpoolPolicy

pytestmark = pytest.mark.integration

Factory = Callable[..., FakePrinter]
FAST = SpoolPolicy(attempts=2, backoff=0.01, call_timeout=3, poll_interval=None)


@pytest.fixture
async def workers(redis_url: str) -> AsyncIterator[tuple[PrintService, PrintService]]:
    """Two print services over one Redis, as in two engine workers."""
    client = redis_client(redis_url)
    services = (
        PrintService(PrintRecords(client), policy=FAST),
        PrintService(PrintRecords(client), policy=FAST),
    )
    for service in services:
        await service.start()
    try:
        yield services
    finally:
        for service in services:
            await service.close()
        await client.aclose()


async def done(service: PrintService, clinic: str, job: str) -> Any:
    deadline = time.monotonic() + 5
    while True:
        record = await service.job(clinic, job)
        if record is not None and record.finished_at is not None:
            return record
        assert time.monotonic() < deadline, record
        await asyncio.sleep(0.02)


async def until(predicate: Callable[[], object], limit: float = 5.0) -> None:
    deadline = time.monotonic() + limit
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.02)


async def test_another_worker_reprints_the_same_bytes(
    workers: tuple[PrintService, PrintService], printer_factory: Factory, ticket: TicketPrint
) -> None:
    """A job printed by one worker is read and reprinted by the other, byte for byte."""
    one, two = workers
    fake = printer_factory("online")
    clinic, kiosk = f"c{uuid.uuid4().hex[:6]}", Kiosk(id="hall-1", printer=fake.url)
    first, new = await one.print_ticket(clinic, kiosk, "t1", ticket)
    assert new and (await done(two, clinic, first.id)).state == "printed"
    copy = await two.reprint(clinic, kiosk, first.id)
    assert copy is not None and copy.reprint_of == first.id and copy.ticket == "t1"
    assert (await done(one, clinic, copy.id)).state == "printed"
    await until(lambda: len(fake.jobs) == 2)
    assert fake.jobs[0] == fake.jobs[1] and b"\x1dV" in fake.jobs[0]  # and cut
    assert await two.reprint(clinic, kiosk, "pj-none") is None


async def test_a_ticket_prints_once_whichever_worker_is_asked(
    workers: tuple[PrintService, PrintService], printer_factory: Factory, ticket: TicketPrint
) -> None:
    """Both workers asked at once to print one ticket: one job, and both answer it."""
    one, two = workers
    fake = printer_factory("online")
    clinic, kiosk = f"c{uuid.uuid4().hex[:6]}", Kiosk(id="hall-1", printer=fake.url)
    (a, a_new), (b, b_new) = await asyncio.gather(
        one.print_ticket(clinic, kiosk, "t1", ticket), two.print_ticket(clinic, kiosk, "t1", ticket)
    )
    assert a.id == b.id and sorted([a_new, b_new]) == [False, True]
    await done(one, clinic, a.id)
    await asyncio.sleep(0.2)  # a second job, were there one, would have printed by now
    assert len(fake.jobs) == 1


async def test_a_reconfigured_kiosk_prints_on_its_new_printer(
    workers: tuple[PrintService, PrintService], printer_factory: Factory, ticket: TicketPrint
) -> None:
    """The kiosk's printer changes in the configuration: the next ticket goes to the new one, and
    the kiosk's state follows the new printer."""
    one, _ = workers
    old, new = printer_factory("paper_out"), printer_factory("online")
    clinic = f"c{uuid.uuid4().hex[:6]}"
    first, _ = await one.print_ticket(clinic, Kiosk(id="k", printer=old.url), "t1", ticket)
    assert (await done(one, clinic, first.id)).fallback
    await until(lambda: one.spool.printer_state(f"{clinic}/k") == "paper_out")

    second, _ = await one.print_ticket(clinic, Kiosk(id="k", printer=new.url), "t2", ticket)
    assert (await done(one, clinic, second.id)).state == "printed"
    await until(lambda: new.jobs)
    assert old.jobs == [b""] and old.connections == 1
    deadline = time.monotonic() + 5
    while (await one.printer(clinic, "k")).state != "ok":  # states reach Redis in order
        assert time.monotonic() < deadline
        await asyncio.sleep(0.02)
