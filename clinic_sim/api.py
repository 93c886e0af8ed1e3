"""``POST /api/v1/clinics/{clinic}/what-if``: the department head's "what if I move Dr X?".

Declared in ``ENDPOINTS``, mounted by the assembly (``clinicq/app.py``). The simulation is CPU work of a
few tens of milliseconds, run in a worker thread so the event loop keeps serving.
"""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from clinic_sim.whatif import RosterChange, predict
from engine.api.endpoint import Call, Endpoint
from engine.api.http import JSON
from engine.errors import NotFound, ValidationFailed

# Bounds the work one request may ask for: runs x waiting patients simulated per roster.
MAX_PATIENT_RUNS = 20_000


class WhatIfBody(msgspec.Struct, forbid_unknown_fields=True):
    doctor: str
    services: list[str] | None = None
    status: Literal["on_duty", "break", "off"] | None = None
    runs: Annotated[int, msgspec.Meta(ge=1, le=200)] = 30
    seed: Annotated[int, msgspec.Meta(ge=0, le=2**31)] = 0
    arrivals_per_hour: dict[str, Annotated[float, msgspec.Meta(ge=0, le=600)]] | None = None


async def what_if(call: Call) -> Response:
    engine, clinic_id, clinic, body = call.engine, call.clinic_id, await call.clinic(), call.body
    if clinic.doctor(body.doctor) is None:
        raise NotFound(f"no doctor {body.doctor!r} in this clinic", code="doctor_not_found")
    if body.services is None and body.status is None:
        raise ValidationFailed("say what changes: services, status or both")
    if body.services is not None:
        unknown = [s for s in body.services if clinic.service(s) is None]
        if unknown or not body.services or len(set(body.services)) != len(body.services):
            raise ValidationFailed(
                "services must be a non-empty list of this clinic's services, once each"
            )
    if body.arrivals_per_hour and any(clinic.service(s) is None for s in body.arrivals_per_hour):
        raise ValidationFailed("arrivals_per_hour names a service this clinic does not have")
    board = await engine.board(clinic_id)
    waiting = sum(q["waiting"] for q in board["queues"])
    runs = max(1, min(body.runs, MAX_PATIENT_RUNS // max(1, waiting)))
    change = RosterChange(body.doctor, tuple(body.services) if body.services else None, body.status)
    prediction = await run_in_threadpool(
        predict, board, change, runs=runs, seed=body.seed, arrivals_per_hour=body.arrivals_per_hour
    )
    return JSON({"clinic": clinic_id, "offset": board["offset"], **prediction.to_json()})


ENDPOINTS = [
    Endpoint(
        "POST",
        "/api/v1/clinics/{clinic}/what-if",
        "Predict waits under a roster change (simulated from the live board)",
        what_if,
        ("head",),
        body=WhatIfBody,
        errors=(400, 401, 403, 404, 413, 422, 429, 503),
    )
]
