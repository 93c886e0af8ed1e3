"""Fixtures for the ticketing tests: a fixed ticket and loopback TCP printers."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from fake_printer import FakePrinter
from sample_ticket import make_ticket

from ticketing.layout import TicketPrint


@pytest.fixture
def ticket() -> TicketPrint:
    return make_ticket()


@pytest.fixture
def printer_factory() -> Iterator[Callable[..., FakePrinter]]:
    """Start loopback printers; all are stopped after the test."""
    started: list[FakePrinter] = []

    def start(scenario: str = "online", **kwargs: object) -> FakePrinter:
        printer = FakePrinter(scenario, **kwargs)  # type: ignore[arg-type]
        started.append(printer)
        return printer

    yield start
    for printer in started:
        printer.close()


@pytest.fixture
def refused_url() -> str:
    """A loopback port with nothing listening: connections are refused at once."""
    import socket

    with socket.create_server(("127.0.0.1", 0)) as probe:
        port = probe.getsockname()[1]
    return f"tcp://127.0.0.1:{port}?timeout=1&status_timeout=0.2"
