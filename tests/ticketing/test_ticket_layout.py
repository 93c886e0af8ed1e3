"""The pure layout: what goes on the ticket, and that the core does no I/O."""

from __future__ import annotations

import ast
import subprocess
import sys
from datetime import datetime
from pathlib import Path

import pytest
from sample_ticket import STATUS_URL, make_ticket

from ticketing.errors import TicketDataError
from ticketing.layout import QR, Cut, Number, Text, TicketPrint, layout

PURE = (
    "layout.py",
    "codepage.py",
    "status.py",
    "messages.py",
    "preview.py",
    "printer_config.py",
    "records.py",
)
FORBIDDEN = ("asyncio", "socket", "threading", "ticketing.printers", "ticketing.spool")


def texts(ticket: TicketPrint) -> list[str]:
    return [op.text for op in layout(ticket) if isinstance(op, Text)]


def test_layout_has_every_part_in_order(ticket: TicketPrint) -> None:
    """Clinic, large number, service, cabinet, local time, queue, QR, guidance, cut."""
    ops = layout(ticket)
    assert texts(ticket) == [
        "Городская поликлиника № 3",
        "Терапевт",
        "Кабинет № 214",
        "Выдан: 14 марта 2025, 09:05",
        "Перед вами: 7",
        "Ожидание: около 25 мин",
        "Следите за номером на табло. Статус талона — по QR-коду.",
    ]
    numbers = [op for op in ops if isinstance(op, Number)]
    assert numbers == [Number("Т-042", size=4)]
    assert [op for op in ops if isinstance(op, QR)] == [QR(STATUS_URL)]
    assert ops.index(numbers[0]) < ops.index(QR(STATUS_URL)) < len(ops) - 1
    assert isinstance(ops[-1], Cut)


def test_layout_in_english_and_in_the_clinic_zone() -> None:
    """English labels (data stays as given); the time is the clinic's wall clock, not UTC."""
    ticket = make_ticket(locale="en", tz="Asia/Vladivostok", cabinet=None)
    assert texts(ticket)[1:] == [
        "Терапевт",
        "Issued: 14 March 2025, 16:05",
        "People ahead of you: 7",
        "Expected wait: about 25 min",
        "Watch the screen for your number. Scan the QR code for status.",
    ]


def test_layout_leaves_out_what_is_unknown() -> None:
    """No cabinet line without a cabinet, no wait line without an estimate; nobody ahead."""
    lines = texts(make_ticket(cabinet=None, expected_wait_minutes=None, people_ahead=0))
    assert not any("Кабинет" in line or "Ожидание" in line for line in lines)
    assert "Перед вами никого нет" in lines


@pytest.mark.parametrize(
    ("changes", "match"),
    [
        ({"issued_at": datetime(2025, 3, 14, 9, 5)}, "timezone-aware"),
        ({"locale": "de"}, "locale"),
        ({"tz": "Mars/Olympus"}, "time zone"),
        ({"people_ahead": -1}, "negative"),
        ({"status_url": ""}, "status link"),
    ],
)
def test_ticket_rejects_bad_data(changes: dict[str, object], match: str) -> None:
    """A ticket that cannot be printed correctly is refused when it is built."""
    with pytest.raises(TicketDataError, match=match):
        make_ticket(**changes)


def test_pure_modules_import_no_io() -> None:
    """The layout core imports neither asyncio, sockets, threads nor the adapters."""
    package = Path(__file__).parents[2] / "ticketing"
    for name in PURE:
        tree = ast.parse((package / name).read_text(), name)
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                modules = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                modules = [node.module or ""]
                if node.module == "escpos.printer":
                    assert [a.name for a in node.names] == ["Dummy"], name
            else:
                continue
            for module in modules:
                assert not module.startswith(FORBIDDEN), f"{name} imports {module}"
    probe = "import sys, ticketing.layout, ticketing.preview; print('asyncio' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True)
    assert result.stdout.strip() == "False", result.stderr
