"""The kiosk printing API, declared in ``ENDPOINTS`` and mounted by the assembly.

    POST /api/v1/clinics/{clinic}/kiosks/{kiosk}/print                  {"ticket": id}: 202, the job
    GET  /api/v1/clinics/{clinic}/kiosks/{kiosk}/print/{job}            the job, from any worker
    POST /api/v1/clinics/{clinic}/kiosks/{kiosk}/print/{job}/reprint    the same ticket again
    GET  /api/v1/clinics/{clinic}/kiosks/{kiosk}/printer                the printer's last state
    GET  /api/v1/clinics/{clinic}/alerts                                printers needing someone

The kiosk calls print after the ticket is issued and answers at once; it polls the job until it
is done, and keeps the ticket on screen when ``fallback`` is true.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Annotated

import msgspec
from starlette.responses import Response

from engine.api.endpoint import Call, Endpoint
from engine.api.http import JSON
from engine.api.routes import live_view
from engine.clinic import Clinic, Kiosk
from engine.errors import Conflict, NotFound
from ticketing.errors import PrinterConfigError, SpoolError
from ticketing.records import job_view, printer_view, status_url, ticket_print
from ticketing.service import PrintService

PRINTERS = ("kiosk", "registrar", "head")


class PrintBody(msgspec.Struct, forbid_unknown_fields=True):
    ticket: Annotated[str, msgspec.Meta(min_length=1, max_length=64)]


def service_of(call: Call) -> PrintService:
    service: PrintService = call.request.app.state.printing
    return service


def _kiosk(clinic: Clinic, kiosk_id: str) -> Kiosk:
    kiosk = clinic.kiosk(kiosk_id)
    if kiosk is None:
        raise NotFound(f"no kiosk {kiosk_id!r} in this clinic", code="kiosk_not_found")
    return kiosk


@contextlib.contextmanager
def _printing() -> Iterator[None]:
    """Printer trouble the request itself can meet, as the edge's errors."""
    try:
        yield
    except PrinterConfigError as exc:
        raise Conflict(str(exc), code="printer_unusable") from exc
    except SpoolError as exc:
        raise Conflict(str(exc), code="print_in_progress") from exc


async def print_ticket(call: Call) -> Response:
    engine, clinic_id, clinic, body = call.engine, call.clinic_id, await call.clinic(), call.body
    kiosk = _kiosk(clinic, call.params["kiosk"])
    request, settings = call.request, call.request.app.state.settings
    ticket, ahead = await engine.ticket(clinic_id, body.ticket)
    if not ticket.link:
        # Issued before status links existed: a QR code would lead nowhere.
        raise Conflict("this ticket has no status link to print", code="no_status_link")
    link = status_url(settings.public_url or str(request.base_url), clinic_id, ticket.link)
    paper = ticket_print(clinic, await live_view(call, ticket, ahead), link)
    with _printing():
        record, new = await service_of(call).print_ticket(clinic_id, kiosk, ticket.id, paper)
    return JSON(job_view(record), status_code=202 if new else 200)


async def get_job(call: Call) -> Response:
    engine, clinic_id = call.engine, call.clinic_id
    kiosk = _kiosk(await engine.clinic(clinic_id), call.params["kiosk"])
    record = await service_of(call).job(clinic_id, call.params["job"])
    if record is None or record.kiosk != kiosk.id:
        raise NotFound("no such print job at this kiosk", code="print_job_not_found")
    return JSON(job_view(record))


async def reprint(call: Call) -> Response:
    """The same ticket again at this kiosk (the original may have been printed elsewhere)."""
    engine, clinic_id = call.engine, call.clinic_id
    kiosk = _kiosk(await engine.clinic(clinic_id), call.params["kiosk"])
    with _printing():
        record = await service_of(call).reprint(clinic_id, kiosk, call.params["job"])
    if record is None:
        raise NotFound("no such print job", code="print_job_not_found")
    return JSON(job_view(record), status_code=202)


async def get_printer(call: Call) -> Response:
    engine, clinic_id = call.engine, call.clinic_id
    kiosk = _kiosk(await engine.clinic(clinic_id), call.params["kiosk"])
    service = service_of(call)
    roll = (await service.rolls(clinic_id)).get(kiosk.id)
    return JSON(printer_view(await service.printer(clinic_id, kiosk.id), roll))


async def get_alerts(call: Call) -> Response:
    engine, clinic_id = call.engine, call.clinic_id
    service = service_of(call)
    alerts = await service.alerts(await engine.clinic(clinic_id))
    rolls = await service.rolls(clinic_id)
    return JSON({"printers": [printer_view(record, rolls.get(record.kiosk)) for record in alerts]})


async def get_fleet(call: Call) -> Response:
    """Every kiosk printer of the clinic (the dashboard's and the city's fleet view)."""
    engine, clinic_id = call.engine, call.clinic_id
    return JSON({"printers": await service_of(call).fleet(await engine.clinic(clinic_id))})


KIOSK = "/api/v1/clinics/{clinic}/kiosks/{kiosk}"
ERRORS = (400, 401, 403, 404, 409, 413, 422, 429, 503)
ENDPOINTS = [
    Endpoint("POST", KIOSK + "/print",
             "Print an issued ticket at the kiosk's printer; answers at once with the job",
             print_ticket, PRINTERS, body=PrintBody, status=202, errors=(200, *ERRORS)),
    Endpoint("GET", KIOSK + "/print/{job}",
             "A print job's state; fallback: keep the ticket on screen", get_job, PRINTERS,
             errors=ERRORS),
    Endpoint("POST", KIOSK + "/print/{job}/reprint",
             "Print the same ticket again at this kiosk (never a new ticket)", reprint, PRINTERS,
             status=202, errors=ERRORS),
    Endpoint("GET", KIOSK + "/printer", "The kiosk printer's last state", get_printer, PRINTERS,
             errors=ERRORS),
    Endpoint("GET", "/api/v1/clinics/{clinic}/alerts",
             "Kiosk printers out of paper, offline or gone silent", get_alerts,
             ("head", "registrar"), errors=ERRORS),
    Endpoint("GET", "/api/v1/clinics/{clinic}/printers",
             "Every kiosk printer: state, last seen and printed, failed or unconfirmed today, paper",
             get_fleet, ("head", "registrar"), errors=ERRORS),
]  # fmt: skip
