"""A checked-in booking's paper ticket: its time, doctor and cabinet, and the wait to its slot."""

from __future__ import annotations

from datetime import UTC, datetime

import msgspec
from escpos_decode import decode
from sample_ticket import STATUS_URL, make_ticket

from engine.api.views import ticket_view
from engine.clinic import Clinic
from engine.model.entities import Ticket
from ticketing.layout import TicketPrint, layout, render
from ticketing.records import JobRecord, ticket_print

CLINIC = msgspec.convert(
    {
        "id": "c42",
        "name": "Городская поликлиника № 3",
        "timezone": "Europe/Moscow",
        "services": [{"id": "therapy", "prefix": "Т", "name": "Терапевт"}],
        "cabinets": [{"id": "214", "name": "Кабинет 214"}],
        "doctors": [
            {"id": "ivanova", "name": "Иванова А. П.", "services": ["therapy"], "cabinet": "214"}
        ],
    },
    Clinic,
)
CHECKED_IN = datetime(2025, 3, 14, 14, 6, tzinfo=UTC)  # 17:06 in Moscow
SLOT = datetime(2025, 3, 14, 14, 30, tzinfo=UTC)  # 17:30 in Moscow


def ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


def booked_ticket() -> Ticket:
    return Ticket(
        id="t7",
        number="Т-004",
        service="therapy",
        state="waiting",
        arrival=4,
        issued_at=ms(CHECKED_IN),
        day="2025-03-14",
        seq=4,
        channel="booking",
        doctor="ivanova",
        reservation="r1",
        slot_time=ms(SLOT),
        link="abc",
    )


def printed_lines(paper: TicketPrint) -> list[str]:
    return [line.text for line in decode(render(layout(paper))).lines if line.text]


def test_a_booked_ticket_prints_its_time_doctor_and_cabinet() -> None:
    """Checked in at 17:06 for 17:30: the time, doctor, cabinet and 24 minutes; no "nobody
    ahead", which would promise a call at once."""
    paper = ticket_print(
        CLINIC, ticket_view(CLINIC, booked_ticket(), 0, None, now=ms(CHECKED_IN)), STATUS_URL
    )
    assert printed_lines(paper) == [
        "Городская поликлиника № 3",
        "Т-004",
        "Терапевт",
        "Приём в 17:30",
        "Врач: Иванова А. П.",
        "Кабинет № 214",
        "Выдан: 14 марта 2025, 17:06",
        "Ожидание: около 24 мин",
        "Следите за номером на табло. Статус талона",
        "- по QR-коду.",
    ]


def test_the_appointment_is_bold_and_in_the_clinic_zone_in_english() -> None:
    """The time line is bold with the service; printed in the clinic's zone, not UTC."""
    job = decode(
        render(
            layout(
                make_ticket(
                    locale="en",
                    tz="Asia/Vladivostok",
                    appointment_at=SLOT,
                    doctor_name="Ivanova",
                    people_ahead=2,
                )
            )
        )
    )
    lines = {line.text: line for line in job.lines if line.text}
    assert lines["Appointment at 00:30"].bold
    assert not lines["Doctor: Ivanova"].bold
    assert "People ahead of you: 2" in lines


def test_a_walk_in_ticket_prints_no_appointment() -> None:
    """A walk-in has no time or doctor line; its wait is the queue's."""
    walk_in = msgspec.structs.replace(booked_ticket(), slot_time=None, reservation=None)
    paper = ticket_print(
        CLINIC, ticket_view(CLINIC, walk_in, 3, (4, 3600, 2), now=ms(CHECKED_IN)), STATUS_URL
    )
    assert (paper.appointment_at, paper.doctor_name, paper.cabinet) == (None, None, None)
    assert paper.expected_wait_minutes == 23  # 3 ahead x 15 min / 2 doctors
    lines = printed_lines(paper)
    assert "Перед вами: 3" in lines
    assert not any(line.startswith(("Приём", "Врач", "Кабинет")) for line in lines)


def test_a_print_job_keeps_the_appointment_for_a_reprint() -> None:
    """A job record, read back by another worker, reprints the same appointment."""
    paper = make_ticket(appointment_at=SLOT, doctor_name="Иванова А. П.")
    record = JobRecord(id="pj-1", clinic="c42", kiosk="k", ticket="t7", state="queued", paper=paper)
    again = msgspec.json.decode(msgspec.json.encode(record), type=JobRecord)
    assert layout(again.paper) == layout(paper)
