"""The kiosk printing API, mounted by ``clinicq/app.py`` (``*ticketing.api.routes``).

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
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from engine.api.handlers import authenticate, engine_of
from engine.api.http import JSON, decode_body
from engine.clinic import Clinic, Kiosk
from engine.errors import Conflict, NotFound
from ticketing.errors import PrinterConfigError, SpoolError
from ticketing.records import job_view, printer_view, status_url, ticket_print
from ticketing.service import PrintService

PRINTERS = ("kiosk", "registrar", "head")


class PrintBody(msgspec.Struct, forbid_unknown_fields=True):
    ticket: Annotated[str, msgspec.Meta(min_length=1, max_length=64)]


def service_of(request: Request) -> PrintService:
    service: PrintService = request.app.state.printing
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


async def print_ticket(request: Request) -> Response:
    engine, clinic_id = engine_of(request), request.path_params["clinic"]
    (await authenticate(request)).require(clinic_id, *PRINTERS)
    clinic = await engine.clinic(clinic_id)
    kiosk = _kiosk(clinic, request.path_params["kiosk"])
    settings = request.app.state.settings
    body, _ = await decode_body(request, PrintBody, settings.max_body_bytes)
    ticket, ahead = await engine.ticket(clinic_id, body.ticket)
    rates = await engine.store.rates(clinic_id, ticket.service)
    link = status_url(settings.public_url or str(request.base_url), clinic_id, ticket.id)
    paper = ticket_print(clinic, ticket, ahead, rates, link)
    with _printing():
        record, new = await service_of(request).print_ticket(clinic_id, kiosk, ticket.id, paper)
    return JSON(job_view(record), status_code=202 if new else 200)


async def get_job(request: Request) -> Response:
    engine, clinic_id = engine_of(request), request.path_params["clinic"]
    (await authenticate(request)).require(clinic_id, *PRINTERS)
    kiosk = _kiosk(await engine.clinic(clinic_id), request.path_params["kiosk"])
    record = await service_of(request).job(clinic_id, request.path_params["job"])
    if record is None or record.kiosk != kiosk.id:
        raise NotFound("no such print job at this kiosk", code="print_job_not_found")
    return JSON(job_view(record))


async def reprint(request: Request) -> Response:
    """The same ticket again at this kiosk (the original may have been printed elsewhere)."""
    engine, clinic_id = engine_of(request), request.path_params["clinic"]
    (await authenticate(request)).require(clinic_id, *PRINTERS)
    kiosk = _kiosk(await engine.clinic(clinic_id), request.path_params["kiosk"])
    with _printing():
        record = await service_of(request).reprint(clinic_id, kiosk, request.path_params["job"])
    if record is None:
        raise NotFound("no such print job", code="print_job_not_found")
    return JSON(job_view(record), status_code=202)


async def get_printer(request: Request) -> Response:
    engine, clinic_id = engine_of(request), request.path_params["clinic"]
    (await authenticate(request)).require(clinic_id, *PRINTERS)
    kiosk = _kiosk(await engine.clinic(clinic_id), request.path_params["kiosk"])
    return JSON(printer_view(await service_of(request).printer(clinic_id, kiosk.id)))


async def get_alerts(request: Request) -> Response:
    engine, clinic_id = engine_of(request), request.path_params["clinic"]
    (await authenticate(request)).require(clinic_id, "head", "registrar")
    alerts = await service_of(request).alerts(await engine.clinic(clinic_id))
    return JSON({"printers": [printer_view(record) for record in alerts]})


KIOSK = "/api/v1/clinics/{clinic}/kiosks/{kiosk}"
routes = [
    Route(KIOSK + "/print", print_ticket, methods=["POST"]),
    Route(KIOSK + "/print/{job}", get_job, methods=["GET"]),
    Route(KIOSK + "/print/{job}/reprint", reprint, methods=["POST"]),
    Route(KIOSK + "/printer", get_printer, methods=["GET"]),
    Route("/api/v1/clinics/{clinic}/alerts", get_alerts, methods=["GET"]),
]
