"""HTTP routes for the ICU (mounted by the engine under /api/v1).

Handlers expect ``request.state.principal`` (set by the engine's auth middleware) and
``request.app.state.sms`` (an ``SmsService`` opened in the app's lifespan). Errors are engine
errors; the engine renders them as ``{"error": {"code", "message"}}``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any, Literal, TypeVar

import asyncpg
import msgspec
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from engine.api.http import decode_body
from engine.errors import Forbidden, ValidationFailed
from notifier.crypto import PhoneCipher
from notifier.phones import normalise
from notifier.schedule import PatientStatus
from notifier.settings import NotifierSettings
from notifier.store_postgres import SmsStore
from notifier.vitals import Dynamics, Observation, assess, merge, validate
from notifier.worker import Clock, utcnow

ICU_ROLES = frozenset({"icu_doctor"})
# Printable text only: no control characters (NUL cannot be stored), no bidi overrides (they
# turn a page's text around).
PLAIN = r"^[^\x00-\x1f\x7f\u202a-\u202e\u2066-\u2069]*$"
Text40 = Annotated[str, msgspec.Meta(min_length=1, max_length=40, pattern=PLAIN)]
_PATIENT_ID = re.compile(PLAIN.replace("*$", "{1,64}$"))


@dataclass
class SmsService:
    store: SmsStore
    settings: NotifierSettings
    clock: Clock = utcnow
    max_body_bytes: int = 64 * 1024


def create_service(
    pool: asyncpg.Pool,
    settings: NotifierSettings,
    clock: Clock = utcnow,
    *,
    max_body_bytes: int = 64 * 1024,
) -> SmsService:
    """What the engine puts on ``app.state.sms`` in its lifespan."""
    settings.validate()
    cipher = PhoneCipher(settings.encryption_key)
    return SmsService(SmsStore(pool, cipher), settings, clock, max_body_bytes)


class RelativeIn(msgspec.Struct, forbid_unknown_fields=True):
    phone: Annotated[str, msgspec.Meta(max_length=32)]
    relation: Text40
    language: Literal["ru", "en"] = "ru"


class StatusIn(msgspec.Struct, forbid_unknown_fields=True):
    status: Literal["admitted", "discharged", "transferred", "deceased"]
    attending_doctor: Text40 | None = None
    label: Text40 | None = None


class ObservationIn(msgspec.Struct, forbid_unknown_fields=True):
    measured_at: datetime | None = None
    temperature: float | None = None
    pulse: int | None = None
    bp_systolic: int | None = None
    bp_diastolic: int | None = None
    spo2: int | None = None
    heart_rate: int | None = None
    respiratory_rate: int | None = None
    conscious: bool | None = None
    ventilator: bool | None = None
    dynamics: Literal["positive", "negative", "unchanged"] | None = None


T = TypeVar("T")


async def _body(request: Request, kind: type[T]) -> T:
    """The body, through the engine's one reader: the same size limit and errors everywhere."""
    body, _ = await decode_body(request, kind, request.app.state.sms.max_body_bytes)
    return body


def _patient(request: Request) -> str:
    patient_id: str = request.path_params["patient_id"]
    if not _PATIENT_ID.match(patient_id):
        raise ValidationFailed("a patient id is 1-64 printable characters")
    return patient_id


def _json(data: Any, status: int = 200) -> Response:
    return Response(msgspec.json.encode(data), status_code=status, media_type="application/json")


@dataclass(frozen=True)
class _Ctx:
    service: SmsService
    clinic: str
    who: str
    doctor: str | None


def _ctx(request: Request) -> _Ctx:
    principal = getattr(request.state, "principal", None)
    if principal is None or principal.role not in ICU_ROLES:
        raise Forbidden("only an ICU doctor may do this")
    if not principal.clinic:
        raise Forbidden("the ICU doctor's token is not bound to a clinic")
    who = f"{principal.role}:{principal.doctor or principal.token_id}"
    return _Ctx(request.app.state.sms, principal.clinic, who, principal.doctor)


def _relative(rel: Any) -> dict[str, Any]:
    return {
        "id": rel.id,
        "phone": rel.phone_masked,
        "relation": rel.relation,
        "language": rel.language,
        "active": rel.active,
        "bad_number": rel.bad_number,
        "consent_since": rel.consent_since,
        "history": [{"action": h.action, "by": h.by, "at": h.at} for h in rel.history],
    }


async def set_status(request: Request) -> Response:
    ctx = _ctx(request)
    body = await _body(request, StatusIn)
    patient, change = await ctx.service.store.set_status(
        _patient(request),
        clinic=ctx.clinic,
        status=PatientStatus(body.status),
        by=ctx.who,
        now=ctx.service.clock(),
        attending_doctor=body.attending_doctor or ctx.doctor,
        label=body.label,
    )
    return _json(
        {
            "patient_id": patient.patient_id,
            "status": patient.status.value,
            "attending_doctor": patient.attending_doctor,
            "sending_stopped": change.stop_sending,
            "attending_alerted": change.alert_attending,
        }
    )


async def add_relative(request: Request) -> Response:
    ctx = _ctx(request)
    body = await _body(request, RelativeIn)
    rel = await ctx.service.store.add_relative(
        _patient(request),
        clinic=ctx.clinic,
        phone=normalise(body.phone),
        relation=body.relation,
        language=body.language,
        by=ctx.who,
        now=ctx.service.clock(),
    )
    return _json(_relative(rel), 201)


async def list_relatives(request: Request) -> Response:
    ctx = _ctx(request)
    rels = await ctx.service.store.relatives(_patient(request), clinic=ctx.clinic)
    return _json({"relatives": [_relative(r) for r in rels]})


async def revoke_relative(request: Request) -> Response:
    ctx = _ctx(request)
    rel = await ctx.service.store.revoke_relative(
        _patient(request),
        request.path_params["relative_id"],
        clinic=ctx.clinic,
        by=ctx.who,
        now=ctx.service.clock(),
    )
    return _json(_relative(rel))


async def add_observation(request: Request) -> Response:
    ctx = _ctx(request)
    body = await _body(request, ObservationIn)
    now = ctx.service.clock()
    if (body.bp_systolic is None) != (body.bp_diastolic is None):
        raise ValidationFailed("blood pressure needs both bp_systolic and bp_diastolic")
    obs = validate(
        Observation(
            measured_at=body.measured_at or now,
            temperature=body.temperature,
            pulse=body.pulse,
            blood_pressure=(
                (body.bp_systolic, body.bp_diastolic)
                if body.bp_systolic is not None and body.bp_diastolic is not None
                else None
            ),
            spo2=body.spo2,
            heart_rate=body.heart_rate,
            respiratory_rate=body.respiratory_rate,
            conscious=body.conscious,
            ventilator=body.ventilator,
            dynamics=Dynamics(body.dynamics) if body.dynamics else None,
        ),
        now,
    )
    obs_id = await ctx.service.store.add_observation(
        _patient(request), obs, clinic=ctx.clinic, by=ctx.who, now=now
    )
    return _json({"id": obs_id, "measured_at": obs.measured_at}, 201)


async def latest_observations(request: Request) -> Response:
    ctx = _ctx(request)
    patient_id = _patient(request)
    await ctx.service.store.get_patient(patient_id, ctx.clinic)
    readings = merge(await ctx.service.store.observations(patient_id))
    assessed = assess(readings, ctx.service.clock(), ctx.service.settings.stale_after)
    return _json(
        {
            name: {"value": a.value, "measured_at": a.measured_at, "stale": a.state == "stale"}
            for name, a in assessed.items()
            if a.state != "missing"
        }
    )


async def messages(request: Request) -> Response:
    ctx = _ctx(request)
    records = await ctx.service.store.messages(_patient(request), clinic=ctx.clinic)
    return _json(
        {
            "messages": [
                {
                    "id": m.id,
                    "relative_id": m.relative_id,
                    "to": m.phone_masked,
                    "relation": m.relation,
                    "local_date": m.local_date,
                    "state": m.state,
                    "delivery": m.delivery,
                    "segments": m.parts,
                    "text": m.body,
                    "sent_at": m.sent_at,
                    "history": [{"state": s, "event": e, "at": at} for s, e, at in m.history],
                }
                for m in records
            ]
        }
    )


async def alerts(request: Request) -> Response:
    ctx = _ctx(request)
    found = await ctx.service.store.alerts(ctx.clinic)
    return _json({"alerts": [_alert(a) for a in found]})


def _alert(a: Any) -> dict[str, Any]:
    return {
        "id": a.id,
        "kind": a.kind,
        "patient_id": a.patient_id,
        "doctor": a.doctor,
        "message": a.message,
        "created_at": a.created_at,
    }


P = "/icu/patients/{patient_id}"
routes = [
    Route(f"{P}/status", set_status, methods=["PUT"]),
    Route(f"{P}/relatives", add_relative, methods=["POST"]),
    Route(f"{P}/relatives", list_relatives, methods=["GET"]),
    Route(f"{P}/relatives/{{relative_id:int}}/revoke", revoke_relative, methods=["POST"]),
    Route(f"{P}/observations", add_observation, methods=["POST"]),
    Route(f"{P}/observations", latest_observations, methods=["GET"]),
    Route(f"{P}/messages", messages, methods=["GET"]),
    Route("/icu/alerts", alerts, methods=["GET"]),
]
