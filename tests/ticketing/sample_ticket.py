"""The fixed ticket the ticketing tests and golden files use."""

from __future__ import annotations

from datetime import UTC, datetime

from ticketing.layout import TicketPrint

STATUS_URL = "https://q.example.org/c42/t/8f3a2b"


def make_ticket(**changes: object) -> TicketPrint:
    """The fixed ticket the golden files were made from, with ``changes`` applied."""
    fields: dict[str, object] = {
        "clinic_name": "Городская поликлиника № 3",
        "number": "Т-042",
        "service_name": "Терапевт",
        "cabinet": "214",
        "issued_at": datetime(2025, 3, 14, 6, 5, tzinfo=UTC),
        "tz": "Europe/Moscow",
        "locale": "ru",
        "people_ahead": 7,
        "expected_wait_minutes": 25,
        "status_url": STATUS_URL,
    }
    fields.update(changes)
    return TicketPrint(**fields)  # type: ignore[arg-type]
