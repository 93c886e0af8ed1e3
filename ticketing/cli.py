"""``clinicq print-test`` and ``clinicq ticket-preview``; ``commands`` is attached to clinicq."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import click

from ticketing.errors import TicketingError
from ticketing.layout import TicketPrint, printer_test_page, render
from ticketing.messages import DEFAULT_LOCALE, MESSAGES
from ticketing.preview import preview_png
from ticketing.printers import open_printer

_LOCALES = click.Choice(sorted(MESSAGES))


def _fail(exc: Exception) -> click.ClickException:
    # escpos messages span lines; the operator gets one.
    return click.ClickException(" ".join(str(exc).split()))


@click.command("print-test")
@click.option("--printer", "printer_url", required=True, help="e.g. tcp://HOST:9100, usb://VID:PID")
@click.option("--locale", default=DEFAULT_LOCALE, type=_LOCALES, show_default=True)
@click.option("--url", default="https://example.org/clinicq/print-test", help="QR payload.")
def print_test(printer_url: str, locale: str, url: str) -> None:
    """Print a test page: Cyrillic, a large number, a QR code and a cut."""
    try:
        printer = open_printer(printer_url)
        ops = printer_test_page(locale, url)
        state = printer.print(render(ops, profile=printer.profile, codepage=printer.codepage))
    except TicketingError as exc:
        raise _fail(exc) from exc
    note = " (the printer does not answer status queries)" if state == "unknown" else ""
    click.echo(f"sent the test page; printer status: {state}{note}")


@click.command("ticket-preview")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), default="ticket.png")
@click.option("--locale", default=DEFAULT_LOCALE, type=_LOCALES, show_default=True)
@click.option("--number", default="Т-042", show_default=True)
@click.option("--tz", default="Europe/Moscow", show_default=True)
@click.option("--scale", default=1, type=click.IntRange(1, 4), show_default=True)
def ticket_preview(out: Path, locale: str, number: str, tz: str, scale: int) -> None:
    """Write a PNG preview of a sample ticket."""
    sample = {
        "ru": ("Городская поликлиника № 3", "Терапевт"),
        "en": ("City Polyclinic No. 3", "General practitioner"),
    }
    clinic, service = sample.get(locale, sample["en"])
    try:
        ticket = TicketPrint(
            clinic_name=clinic,
            number=number,
            service_name=service,
            cabinet="214",
            issued_at=datetime.now(UTC),
            tz=tz,
            locale=locale,
            people_ahead=7,
            expected_wait_minutes=25,
            status_url="https://example.org/clinicq/t/sample",
        )
        out.write_bytes(preview_png(ticket, scale=scale))
    except (TicketingError, OSError) as exc:
        raise _fail(exc) from exc
    click.echo(f"wrote {out}")


commands = [print_test, ticket_preview]


@click.group()
def cli() -> None:
    """Ticket printing tools."""


for _command in commands:
    cli.add_command(_command)

if __name__ == "__main__":
    cli()
