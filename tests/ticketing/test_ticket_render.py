"""ESC/POS bytes of a ticket: code page, Cyrillic, large number, QR, cut, golden bytes."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import zxingcpp
from escpos_decode import CutMark, QRCode, Raster, decode
from PIL import Image
from sample_ticket import STATUS_URL, make_ticket

from ticketing import codepage
from ticketing.errors import PrinterConfigError
from ticketing.layout import Text, TicketPrint, layout, render

GOLDEN = Path(__file__).parent / "golden"


def test_ticket_prints_russian_in_cp866(ticket: TicketPrint) -> None:
    """ESC @ then ESC t 17 (CP866); every line decodes to the expected Russian text."""
    data = render(layout(ticket))
    assert data.startswith(b"\x1b@\x1bt\x11")
    job = decode(data)
    assert job.codepages == ["CP866"]
    printed = [line.text for line in job.lines if line.text]
    assert printed == [
        "Городская поликлиника № 3",
        "Т-042",
        "Терапевт",
        "Кабинет № 214",
        "Выдан: 14 марта 2025, 09:05",
        "Перед вами: 7",
        "Ожидание: около 25 мин",
        "Следите за номером на табло. Статус талона",
        "- по QR-коду.",
    ]
    assert b"?" not in data


def test_number_is_large_and_the_rest_normal(ticket: TicketPrint) -> None:
    """The number alone is printed at 4x4; every other line at normal size."""
    job = decode(render(layout(ticket)))
    sizes = {line.text: (line.width, line.height) for line in job.lines if line.text}
    assert sizes.pop("Т-042") == (4, 4)
    assert set(sizes.values()) == {(1, 1)}
    clinic = job.lines[0]
    assert clinic.bold and clinic.align == 1


def test_qr_carries_the_status_link_and_paper_is_cut(ticket: TicketPrint) -> None:
    """A native QR code with the status URL, then a full cut as the last command."""
    job = decode(render(layout(ticket)))
    codes = [item for item in job.items if isinstance(item, QRCode)]
    assert codes == [QRCode(STATUS_URL.encode(), module=6, ec=1, align=1)]
    assert job.items[-1] == CutMark(partial=False)
    assert job.items.index(codes[0]) > [line.text for line in job.lines].index("Т-042")


def test_profile_without_native_qr_prints_a_readable_image(ticket: TicketPrint) -> None:
    """On a profile lacking native QR the code is a raster image that still scans."""
    job = decode(render(layout(ticket), profile="simple"), profile="simple")
    rasters = [item for item in job.items if isinstance(item, Raster)]
    assert len(rasters) == 1
    raster = rasters[0]
    image = Image.frombytes("1", (raster.width, raster.height), raster.data)
    image = Image.eval(image.convert("L"), lambda v: 255 - v)  # 1 bits are black dots
    results = zxingcpp.read_barcodes(image.resize((raster.width * 2, raster.height * 2)))
    assert [r.text for r in results] == [STATUS_URL]


def test_golden_bytes(ticket: TicketPrint) -> None:
    """The default-profile ticket is byte-for-byte the committed golden file."""
    path = GOLDEN / "ticket_ru_default.bin"
    data = render(layout(ticket))
    if os.environ.get("UPDATE_GOLDEN"):
        path.write_bytes(data)
    assert data == path.read_bytes()


def test_golden_bytes_english_tm_t20ii() -> None:
    """An English ticket for an Epson TM-T20II profile matches its golden file."""
    path = GOLDEN / "ticket_en_tm-t20ii.bin"
    data = render(layout(make_ticket(locale="en", clinic_name="City Clinic 3")), "TM-T20II")
    if os.environ.get("UPDATE_GOLDEN"):
        path.write_bytes(data)
    assert data == path.read_bytes()


@pytest.mark.parametrize(
    ("text", "page", "expected"),
    [
        ("ёлка №5", "CP866", "ёлка №5"),
        ("Ёлка №5 — 10 €", "CP437", "Yolka No.5 - 10 EUR"),
        ("Щука, объём", "CP437", "Shchuka, obyom"),
        ("Café «Ёж»", "CP866", 'Cafe "Ёж"'),
        ("Приём 🙂 👍🏽 ok", "CP866", "Приём ok"),
        ("Zoë\u200b\u00adtab\there", "CP437", "Zoëtab here"),
        ("a\x1b@b\x07", "CP866", "a@b"),
    ],
)
def test_transliteration_never_yields_question_marks(text: str, page: str, expected: str) -> None:
    """Characters the code page lacks degrade readably; none becomes "?"."""
    fitted = codepage.fit(text, page)
    assert fitted == expected
    encoded = codepage.encode(text, page)
    assert b"?" not in encoded
    assert encoded.decode(codepage.python_codec(page)) == expected


def test_rendered_text_never_has_question_marks() -> None:
    """Emoji and symbols in ticket data reach the paper as readable text, without "?"."""
    ops = [Text("Запись № 7 — ёж 🦔 ☎ ✓ ½")]
    for page in ("CP866", "CP437", "CP1251"):
        data = render(ops, profile="TM-T88V", codepage=page)
        assert b"?" not in data, page
    assert "Запись № 7 - ёж 1/2" in decode(render(ops)).text


def test_code_page_must_exist_on_the_profile(ticket: TicketPrint) -> None:
    """Asking for a page or profile the printer lacks is a configuration error."""
    with pytest.raises(PrinterConfigError, match="code page"):
        render(layout(ticket), profile="TM-T88III", codepage="CP1251")
    with pytest.raises(PrinterConfigError, match="profile"):
        render(layout(ticket), profile="no-such-printer")
