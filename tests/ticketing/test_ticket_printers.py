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
from ticketing.status import Cause, Paper, PrinterState, parse_cause, parse_online, parse_paper

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
    assert parse_cause(b"\x16") is Cause.COVER_OPEN
    assert parse_cause(b"\x52") is Cause.ERROR
    assert parse_cause(b"\x12") is Cause.NONE
    assert parse_cause(b"") is None


@pytest.mark.parametrize(
    ("scenario", "state"),
    [
        ("online", PrinterState.OK),
        ("near_end", PrinterState.PAPER_NEAR_END),
        ("paper_out", PrinterState.PAPER_OUT),
        ("offline", PrinterState.OFFLINE),
        ("cover_open", PrinterState.COVER_OPEN),
        ("silent", PrinterState.UNKNOWN),
        ("deaf", PrinterState.UNKNOWN),
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
    assert fake.queries == [b"\x10\x04\x01", b"\x10\x04\x02", b"\x10\x04\x04"] * 2
    assert "Т-042" in decode(fake.jobs[0]).text.splitlines()


def test_paper_out_sends_nothing(printer_factory: Factory, ticket: TicketPrint) -> None:
    """A printer out of paper gets status queries only, and the adapter says why."""
    fake = printer_factory("paper_out")
    with pytest.raises(PrinterNotReady) as caught:
        open_printer(fake.url).print(render(layout(ticket)))
    assert caught.value.state is PrinterState.PAPER_OUT
    wait_for(lambda: fake.jobs)
    assert fake.jobs == [b""]


def test_silent_printer_gets_the_job_unconfirmed(
    printer_factory: Factory, ticket: TicketPrint
) -> None:
    """A printer that never answers is sent the job after one short status wait, and waited for
    again after it: UNKNOWN, which the spool reports as not confirmed."""
    fake = printer_factory("silent")
    data = render(layout(ticket))
    started = time.monotonic()
    assert open_printer(fake.url).print(data) is PrinterState.UNKNOWN
    assert time.monotonic() - started < 1.6  # 0.2 s before the job, the 1 s send time-out after it
    wait_for(lambda: fake.jobs)
    assert fake.jobs == [data]
    assert fake.queries == [b"\x10\x04\x01"] * 2


@pytest.mark.parametrize(
    ("scenario", "received"), [("deaf", b""), ("once", None), ("cover_open", b"")]
)
def test_no_confirmation_after_the_job_is_not_ok(
    printer_factory: Factory, ticket: TicketPrint, scenario: str, received: bytes | None
) -> None:
    """Accepting and never reading, or answering before the job and not after it, ends
    UNKNOWN within the short waits; an open cover is refused before anything is sent."""
    fake = printer_factory(scenario)
    data = render(layout(ticket))
    started = time.monotonic()
    if scenario == "cover_open":
        with pytest.raises(PrinterNotReady) as caught:
            open_printer(fake.url).print(data)
        assert caught.value.state is PrinterState.COVER_OPEN
    else:
        assert open_printer(fake.url).print(data) is PrinterState.UNKNOWN
    assert time.monotonic() - started < 2.0
    wait_for(lambda: fake.jobs)
    assert fake.jobs == [data if received is None else received]


def test_a_paper_sensor_unanswered_after_the_job_is_no_confirmation(
    printer_factory: Factory, ticket: TicketPrint
) -> None:
    """Online and no error after the job, but no word from the paper sensor: not confirmed
    (a walk-through found it 'printed')."""
    fake = printer_factory("once", answers=5)  # DLE EOT 1, 2, 4 before; 1, 2 after; then silence
    assert open_printer(fake.url).print(render(layout(ticket))) is PrinterState.UNKNOWN


def test_connection_dropped_mid_job_is_an_error(
    printer_factory: Factory, ticket: TicketPrint
) -> None:
    """A printer that is gone after the job fails it, marked as sent (paper may be cut short)."""
    fake = printer_factory("drop", drop_after=40)
    with pytest.raises(PrinterError, match=r"connection (dropped|closed)|sending failed") as caught:
        open_printer(fake.url).print(render(layout(ticket)))
    assert caught.value.sent
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
