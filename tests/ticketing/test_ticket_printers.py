"""Printer URLs and the network adapter against a loopback printer, per status scenario."""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest
from escpos_decode import decode
from fake_printer import FakePrinter

from ticketing.errors import PrinterConfigError, PrinterError, PrinterNotReady
from ticketing.layout import TicketPrint, layout, render
from ticketing.printers import (
    SCHEMES,
    TRANSPORTS,
    EscposPrinter,
    PrinterConfig,
    open_printer,
    parse_printer_url,
)
from ticketing.status import Paper, PrinterState, parse_online, parse_paper

Factory = Callable[..., FakePrinter]


def test_printer_urls_parse() -> None:
    """Each transport is one URL; options carry profile, code page and time-outs."""
    tcp = parse_printer_url("tcp://10.0.0.5?profile=TM-T20II&timeout=2")
    assert tcp == PrinterConfig("tcp", "10.0.0.5", host="10.0.0.5", port=9100, profile="TM-T20II",
                                timeout=2.0)  # fmt: skip
    assert parse_printer_url("usb://04b8:0e15?out_ep=0x01").options == {"out_ep": "0x01"}
    serial = parse_printer_url("serial:///dev/ttyUSB0?baudrate=19200")
    assert (serial.scheme, serial.target, serial.options) == (
        "serial",
        "/dev/ttyUSB0",
        {"baudrate": "19200"},
    )
    assert parse_printer_url("file:///dev/usb/lp0").target == "/dev/usb/lp0"
    cups = parse_printer_url("cups://printhost:631/Kiosk_1?codepage=CP1251")
    assert (cups.target, cups.host, cups.port, cups.codepage) == ("Kiosk_1", "printhost", 631,
                                                                  "CP1251")  # fmt: skip


@pytest.mark.parametrize(
    "url",
    [
        "lpt://x",
        "tcp://",
        "tcp://host:notaport",
        "usb://epson",
        "file://relative/path",
        "tcp://h?timeout=0",
        "tcp://h?colour=red",
    ],
)
def test_bad_printer_urls_are_config_errors(url: str) -> None:
    """A malformed printer URL fails at start-up with a PrinterConfigError."""
    with pytest.raises(PrinterConfigError):
        parse_printer_url(url)


def test_status_bytes_are_checked() -> None:
    """Only bytes with the fixed status bits count; anything else is no answer."""
    assert parse_online(b"\x12") is True
    assert parse_online(b"\x1a") is False
    assert parse_online(b"") is None
    assert parse_online(b"\x00\xff") is None
    assert parse_paper(b"\x1e") is Paper.NEAR_END
    assert parse_paper(b"\x72") is Paper.OUT
    assert parse_paper(b"\x12") is Paper.ADEQUATE


@pytest.mark.parametrize(
    ("scenario", "state"),
    [
        ("online", PrinterState.OK),
        ("near_end", PrinterState.PAPER_NEAR_END),
        ("paper_out", PrinterState.PAPER_OUT),
        ("offline", PrinterState.OFFLINE),
        ("silent", PrinterState.UNKNOWN),
    ],
)
def test_status_query_per_scenario(printer_factory: Factory, scenario: str, state: str) -> None:
    """DLE EOT answers map to printer states; silence is UNKNOWN, not "paper fine"."""
    fake = printer_factory(scenario)
    assert open_printer(fake.url).status() == state


def test_print_sends_the_ticket_bytes(printer_factory: Factory, ticket: TicketPrint) -> None:
    """An online printer receives exactly the rendered job between status queries."""
    fake = printer_factory("online")
    data = render(layout(ticket))
    assert open_printer(fake.url).print(data) is PrinterState.OK
    wait_for(lambda: fake.jobs)
    assert fake.jobs == [data]
    assert fake.queries == [b"\x10\x04\x01", b"\x10\x04\x04"] * 2
    assert "Т-042" in decode(fake.jobs[0]).text.splitlines()


def test_paper_out_sends_nothing(printer_factory: Factory, ticket: TicketPrint) -> None:
    """A printer out of paper gets status queries only, and the adapter says why."""
    fake = printer_factory("paper_out")
    with pytest.raises(PrinterNotReady) as caught:
        open_printer(fake.url).print(render(layout(ticket)))
    assert caught.value.state is PrinterState.PAPER_OUT
    wait_for(lambda: fake.jobs)
    assert fake.jobs == [b""]


def test_silent_printer_still_gets_the_job(printer_factory: Factory, ticket: TicketPrint) -> None:
    """A printer that never answers is sent the job after one short status wait."""
    fake = printer_factory("silent")
    data = render(layout(ticket))
    started = time.monotonic()
    assert open_printer(fake.url).print(data) is PrinterState.UNKNOWN
    assert time.monotonic() - started < 1.0
    wait_for(lambda: fake.jobs)
    assert fake.jobs == [data]
    assert fake.queries == [b"\x10\x04\x01"]


def test_connection_dropped_mid_job_is_an_error(
    printer_factory: Factory, ticket: TicketPrint
) -> None:
    """A printer that answered before the job but is gone after it fails the job."""
    fake = printer_factory("drop", drop_after=40)
    with pytest.raises(PrinterError, match=r"may be cut short|sending failed"):
        open_printer(fake.url).print(render(layout(ticket)))
    wait_for(lambda: fake.jobs)
    assert len(fake.jobs[0]) == 40


def test_unreachable_printer_fails_fast(refused_url: str) -> None:
    """A refused connection is a PrinterError within the short time-out."""
    started = time.monotonic()
    with pytest.raises(PrinterError, match="cannot open"):
        open_printer(refused_url).status()
    assert time.monotonic() - started < 1.0


def test_missing_driver_is_a_config_error() -> None:
    """USB without pyusb (or any missing extra) is reported at construction."""
    config = parse_printer_url("usb://04b8:0e15")
    try:
        import usb  # type: ignore[import-not-found]  # noqa: F401
    except ImportError:
        with pytest.raises(PrinterConfigError, match=r"python-escpos\[usb\]"):
            EscposPrinter(config)
    else:
        assert EscposPrinter(config).profile == "default"


def wait_for(predicate: Callable[[], object], timeout: float = 2.0) -> None:
    """Poll until the loopback printer's thread has recorded the connection."""
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


def test_every_parsed_scheme_has_a_transport() -> None:
    """A scheme printer_config accepts is one the printers registry can open, and no other."""
    assert list(TRANSPORTS) == list(SCHEMES)
    for scheme, transport in TRANSPORTS.items():
        assert transport.queryable is (scheme in ("tcp", "usb", "serial")), scheme
