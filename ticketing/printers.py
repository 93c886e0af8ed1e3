"""Printer adapters over python-escpos: network, USB, serial, file/device and CUPS.

A printer is configured by one URL-ish string, e.g. ``tcp://10.0.0.5:9100?profile=TM-T20II``,
``usb://04b8:0e15``, ``serial:///dev/ttyUSB0?baudrate=19200``, ``file:///dev/usb/lp0``,
``cups://printhost:631/Kiosk_1``. Every call here blocks: the spool runs them in a thread.
"""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, Final

from escpos import printer as escpos_printer
from escpos.exceptions import DeviceNotFoundError
from escpos.exceptions import Error as EscposError

from ticketing.errors import PrinterConfigError, PrinterError, PrinterNotReady
from ticketing.printer_config import SCHEMES, PrinterConfig, parse_printer_url, usb_ids
from ticketing.status import (
    DLE_EOT_OFFLINE,
    DLE_EOT_PAPER,
    DLE_EOT_PRINTER,
    NOT_READY,
    PrinterState,
    parse_cause,
    parse_online,
    parse_paper,
    state_of,
)

__all__ = [
    "SCHEMES",
    "TRANSPORTS",
    "EscposPrinter",
    "PrinterConfig",
    "open_printer",
    "parse_printer_url",
    "printer_for",
]


class _Network(escpos_printer.Network):
    """escpos' Network, except that a failed connect does not leak its socket."""

    def open(self, raise_not_found: bool = True) -> None:
        if self._device:
            self.close()
        try:
            self.device = socket.create_connection((self.host, self.port), timeout=self.timeout)
        except OSError as exc:
            raise DeviceNotFoundError(
                f"could not connect to {self.host}:{self.port}: {exc}"
            ) from exc


def _network(c: PrinterConfig) -> Any:
    return _Network(c.host, c.port, timeout=c.timeout, profile=c.profile)


def _usb(c: PrinterConfig) -> Any:
    vendor, product = usb_ids(c.target) or (0, 0)
    endpoints = {k: int(c.options[k], 0) for k in ("in_ep", "out_ep") if k in c.options}
    timeout = int(c.timeout * 1000)
    return escpos_printer.Usb(vendor, product, timeout=timeout, **endpoints, profile=c.profile)


def _serial(c: PrinterConfig) -> Any:
    baudrate = int(c.options.get("baudrate", 9600))
    return escpos_printer.Serial(
        c.target, baudrate=baudrate, timeout=c.status_timeout, profile=c.profile
    )


def _cups(c: PrinterConfig) -> Any:
    where = {k: v for k, v in (("host", c.host), ("port", c.port)) if v}
    return escpos_printer.CupsPrinter(c.target, **where, profile=c.profile)


def _file(c: PrinterConfig) -> Any:
    return escpos_printer.File(c.target, profile=c.profile)


@dataclass(frozen=True, slots=True)
class Transport:
    """How one printer type is reached: its python-escpos device and what it can do."""

    driver: type[Any]  # the escpos class; ``is_usable()`` says whether its extra is installed
    make: Callable[[PrinterConfig], Any]  # an unopened device for a parsed URL
    queryable: bool  # carries the printer's real-time (DLE EOT) replies back to us
    extra: str | None = None  # the python-escpos extra that installs its driver


# The printer types, by URL scheme; ``printer_config.SCHEMES`` parses each (a test keeps them equal).
TRANSPORTS: Final[dict[str, Transport]] = {
    "tcp": Transport(escpos_printer.Network, _network, queryable=True),
    "usb": Transport(escpos_printer.Usb, _usb, queryable=True, extra="usb"),
    "serial": Transport(escpos_printer.Serial, _serial, queryable=True, extra="serial"),
    "file": Transport(escpos_printer.File, _file, queryable=False),
    "cups": Transport(escpos_printer.CupsPrinter, _cups, queryable=False, extra="cups"),
}


class EscposPrinter:
    """One configured printer; each call opens the device, does its work and closes it.

    Opening per job lets other clients (CUPS, a second kiosk) share a network printer, which
    accepts one connection at a time, and leaves nothing half-open after a fault.
    """

    def __init__(self, config: PrinterConfig) -> None:
        transport = TRANSPORTS[config.scheme]
        if not transport.driver.is_usable():
            extra = transport.extra or config.scheme
            raise PrinterConfigError(
                f"{config.scheme} printers need python-escpos[{extra}] installed"
            )
        self.config = config
        self._transport = transport
        # A wait_for time-out in the spool does not stop the thread: serialise device access.
        self._lock = threading.Lock()

    @property
    def profile(self) -> str:
        return self.config.profile

    @property
    def codepage(self) -> str | None:
        return self.config.codepage

    def status(self) -> PrinterState:
        """Ask the printer (DLE EOT 1 and 4); UNKNOWN when it cannot or does not answer."""
        with self._lock, self._device() as device:
            return self._query(device)

    def print(self, data: bytes) -> PrinterState:
        """Send one job unless the printer says it cannot print; return its state read back after.

        Only that state is evidence the ticket came out: ``status.CONFIRMS`` means printed, any
        other (UNKNOWN for silence, COVER_OPEN, ...) means the bytes went out unconfirmed. Faults
        after the bytes were written raise PrinterError with ``sent`` set.
        """
        with self._lock, self._device() as device:
            state = self._query(device)
            if state in NOT_READY:
                raise PrinterNotReady(f"printer is {state}", state)
            try:
                device._raw(data)
            except (OSError, EscposError) as exc:
                raise PrinterError(f"{self._name()}: sending failed: {exc}", sent=True) from exc
            # TCP accepts bytes a printer never receives: only an answer after the job says the
            # printer took it. A connection closed under us means it was cut short.
            return self._finish(device, self._query(device, sent=True))

    def _finish(self, device: Any, state: PrinterState) -> PrinterState:
        try:
            device.close()  # CUPS submits the job here; others flush and disconnect
        except (OSError, EscposError) as exc:
            raise PrinterError(
                f"{self._name()}: finishing the job failed: {exc}", sent=True
            ) from exc
        return state

    def close(self) -> None:
        """Nothing stays open between calls; present for a uniform adapter interface."""

    @contextlib.contextmanager
    def _device(self) -> Iterator[Any]:
        device = self._transport.make(self.config)
        try:
            device.open()
        except (OSError, EscposError) as exc:
            device.close()
            raise PrinterError(f"{self._name()}: cannot open: {exc}") from exc
        try:
            yield device
        finally:
            with contextlib.suppress(OSError, EscposError):
                device.close()

    def _query(self, device: Any, *, sent: bool = False) -> PrinterState:
        if not self._transport.queryable:
            return PrinterState.UNKNOWN
        # After the job the answer is the only evidence it printed: allow the send time-out
        # for it (a busy host or printer), not just the short wait for a status check.
        wait = self.config.timeout if sent else self.config.status_timeout
        online = parse_online(self._ask(device, DLE_EOT_PRINTER, sent, wait))
        if online is None:
            return PrinterState.UNKNOWN  # a silent printer: do not wait three times
        cause = parse_cause(self._ask(device, DLE_EOT_OFFLINE, sent, wait))
        paper = parse_paper(self._ask(device, DLE_EOT_PAPER, sent, wait))
        if sent and (cause is None or paper is None):
            # A ticket is confirmed by every answer: paper and error sensors unread are no word.
            return PrinterState.UNKNOWN
        return state_of(online, paper, cause)

    def _ask(self, device: Any, command: bytes, sent: bool, wait: float) -> bytes:
        """One real-time query; b"" for silence. A TCP connection the printer closed or reset is
        PrinterError: it lost what we sent, unlike a printer that merely does not answer."""
        sock = device.device if isinstance(device.device, socket.socket) else None
        try:
            if sock is not None:
                # escpos reads with the connect time-out; a reply is due within milliseconds.
                sock.settimeout(wait)
            try:
                reply = bytes(device.query_status(command) or b"")
            finally:
                if sock is not None:
                    sock.settimeout(self.config.timeout)
        except (ConnectionError, EOFError) as exc:
            raise PrinterError(f"{self._name()}: connection dropped: {exc}", sent=sent) from exc
        except (OSError, EscposError, NotImplementedError):
            # No reply in time, or a transport that cannot read: silence.
            return b""
        if sock is not None and not reply:
            # recv() answers b"" only once the printer has closed the connection.
            raise PrinterError(f"{self._name()}: connection closed by the printer", sent=sent)
        return reply

    def _name(self) -> str:
        c = self.config
        return f"{c.scheme}://{c.host}:{c.port}" if c.scheme == "tcp" else f"{c.scheme}:{c.target}"


def printer_for(config: PrinterConfig) -> EscposPrinter:
    """The adapter for a parsed printer URL; PrinterConfigError when its driver is missing."""
    return EscposPrinter(config)


def open_printer(url: str) -> EscposPrinter:
    """A printer adapter for a URL-ish configuration string."""
    return printer_for(parse_printer_url(url))
