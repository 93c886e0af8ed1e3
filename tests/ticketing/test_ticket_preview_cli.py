"""The on-screen preview and the two CLI commands."""

from __future__ import annotations

import io
from collections.abc import Callable
from pathlib import Path

import zxingcpp
from click.testing import CliRunner
from escpos_decode import CutMark, QRCode, decode
from fake_printer import FakePrinter
from PIL import Image
from sample_ticket import STATUS_URL

from ticketing.cli import commands, print_test, ticket_preview
from ticketing.layout import TicketPrint
from ticketing.preview import PAPER_DOTS, preview_png


def test_preview_is_a_paper_wide_png_with_a_scannable_qr(ticket: TicketPrint) -> None:
    """The preview is 80 mm wide at printer resolution and its QR scans to the status link."""
    image = Image.open(io.BytesIO(preview_png(ticket)))
    assert image.format == "PNG"
    assert image.width == PAPER_DOTS
    assert image.height > image.width
    assert [r.text for r in zxingcpp.read_barcodes(image)] == [STATUS_URL]


def test_preview_scales_for_the_kiosk_screen(ticket: TicketPrint) -> None:
    """A scaled preview is proportionally larger and still scans."""
    image = Image.open(io.BytesIO(preview_png(ticket, scale=2)))
    assert image.width == 2 * PAPER_DOTS
    assert [r.text for r in zxingcpp.read_barcodes(image)] == [STATUS_URL]


def test_print_test_prints_cyrillic_and_cuts(
    printer_factory: Callable[..., FakePrinter],
) -> None:
    """print-test sends a page with Russian text, a QR and a cut, and exits 0."""
    fake = printer_factory("online")
    result = CliRunner().invoke(print_test, ["--printer", fake.url])
    assert result.exit_code == 0, result.output
    assert result.output == "sent the test page; printer status: ok\n"
    fake.close()
    page = decode(fake.jobs[0])
    assert "Проверка принтера" in page.text
    assert any(isinstance(item, QRCode) for item in page.items)
    assert page.items[-1] == CutMark(partial=False)


def test_print_test_unreachable_printer_is_one_line_error(refused_url: str) -> None:
    """An unreachable printer gives one error line and exit status 1."""
    result = CliRunner().invoke(print_test, ["--printer", refused_url])
    assert result.exit_code == 1
    assert result.output.startswith("Error: tcp://127.0.0.1:")
    assert result.output.count("\n") == 1


def test_print_test_bad_url_is_an_error() -> None:
    """A URL with an unknown scheme is refused before anything is opened."""
    result = CliRunner().invoke(print_test, ["--printer", "lpt1"])
    assert result.exit_code == 1
    assert "scheme must be one of" in result.output


def test_ticket_preview_writes_png(tmp_path: Path) -> None:
    """ticket-preview writes a PNG in the chosen locale; a bad locale is a usage error."""
    out = tmp_path / "t.png"
    result = CliRunner().invoke(ticket_preview, ["--out", str(out), "--locale", "en"])
    assert result.exit_code == 0, result.output
    with Image.open(out) as image:
        assert image.format == "PNG"
    assert CliRunner().invoke(ticket_preview, ["--locale", "fr"]).exit_code == 2
    bad_zone = CliRunner().invoke(ticket_preview, ["--out", str(out), "--tz", "Mars/Base"])
    assert (bad_zone.exit_code, bad_zone.output) == (1, "Error: unknown time zone 'Mars/Base'\n")


def test_commands_are_exported_for_clinicq() -> None:
    """The engine attaches exactly these two commands to clinicq."""
    assert [c.name for c in commands] == ["print-test", "ticket-preview"]
