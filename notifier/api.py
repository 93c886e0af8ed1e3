"""HTTP endpoints for the ICU, declared in ``ENDPOINTS`` and mounted by the assembly.

The engine's endpoint declaration authenticates (an ICU doctor's token) and reads the body with
its one reader; the handlers expect ``request.app.state.sms`` (an ``SmsService`` opened in the
app's lifespan). Errors are engine errors, rendered as ``{"error": {"code", "message"}}``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any, Literal

import asyncpg
import msgspec
from starlette.responses import Response

from engine.api.endpoint import Call, Endpoint
from engine.errors import Forbidden, Unavailable, ValidationFailed
from engine.text import PLAIN
from notifier.crypto import PhoneCipher
from notifier.phones import normalise
from notifier.schedule import PatientStatus
from notifier.settings import NotifierSettings
from notifier.store_postgres import SmsStore
from notifier.vitals import Dynamics, Observation, assess, merge, validate
from notifier.worker import Clock, utcnow

ICU_ROLES = frozenset({"icu_doctor"})
# The engine's one rule for typed text (engine/text.py).
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


def _patient(call: Call) -> str:
    patient_id: str = call.params["patient_id"]
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


def _ctx(call: Call) -> _Ctx:
    principal = call.principal
    if principal.role not in ICU_ROLES:
        raise Forbidden("only an ICU doctor may do this")
    if not principal.clinic:
        raise Forbidden("the ICU doctor's token is not bound to a clinic")
    service = getattr(call.request.app.state, "sms", None)
    if service is None:
        raise Unavailable("ICU messages are not configured here", code="sms_disabled")
    who = f"{principal.role}:{principal.doctor or principal.token_id}"
    return _Ctx(service, principal.clinic, who, principal.doctor)


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


async def set_status(call: Call) -> Response:
    ctx = _ctx(call)
    body = call.body
    patient, change = await ctx.service.store.set_status(
        _patient(call),
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


async def add_relative(call: Call) -> Response:
    ctx = _ctx(call)
    body = call.body
    rel = await ctx.service.store.add_relative(
        _patient(call),
        clinic=ctx.clinic,
        phone=normalise(body.phone),
        relation=body.relation,
        language=body.language,
        by=ctx.who,
        now=ctx.service.clock(),
    )
    return _json(_relative(rel), 201)


async def list_relatives(call: Call) -> Response:
    ctx = _ctx(call)
    rels = await ctx.service.store.relatives(_patient(call), clinic=ctx.clinic)
    return _json({"relatives": [_relative(r) for r in rels]})


async def revoke_relative(call: Call) -> Response:
    ctx = _ctx(call)
    rel = await ctx.service.store.revoke_relative(
        _patient(call),
        call.params["relative_id"],
        clinic=ctx.clinic,
        by=ctx.who,
        now=ctx.service.clock(),
    )
    return _json(_relative(rel))


async def add_observation(call: Call) -> Response:
    ctx = _ctx(call)
    body = call.body
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
        _patient(call), obs, clinic=ctx.clinic, by=ctx.who, now=now
    )
    return _json({"id": obs_id, "measured_at": obs.measured_at}, 201)


async def latest_observations(call: Call) -> Response:
    ctx = _ctx(call)
    patient_id = _patient(call)
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


async def messages(call: Call) -> Response:
    ctx = _ctx(call)
    records = await ctx.service.store.messages(_patient(call), clinic=ctx.clinic)
    return _json(
        {
            "messages": [
                {
                    "id": m.id,
                    "relative_id": m.relative_id,
                    "kind": m.kind,
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


async def alerts(call: Call) -> Response:
    ctx = _ctx(call)
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


P = "/api/v1/icu/patients/{patient_id}"
ICU = ("icu_doctor",)
ERRORS = (400, 401, 403, 404, 409, 413, 422, 429, 503)
ENDPOINTS = [
    Endpoint("PUT", f"{P}/status", "ICU: admitted, discharged, transferred, deceased", set_status,
             ICU, body=StatusIn, errors=ERRORS),
    Endpoint("POST", f"{P}/relatives", "ICU: register a relative for the daily SMS", add_relative,
             ICU, body=RelativeIn, status=201, errors=ERRORS),
    Endpoint("GET", f"{P}/relatives", "ICU: the patient's relatives, phones masked",
             list_relatives, ICU, errors=ERRORS),
    Endpoint("POST", f"{P}/relatives/{{relative_id:int}}/revoke",
             "ICU: withdraw a relative's consent", revoke_relative, ICU, errors=ERRORS),
    Endpoint("POST", f"{P}/observations", "ICU: record the latest values", add_observation, ICU,
             body=ObservationIn, status=201, errors=ERRORS),
    Endpoint("GET", f"{P}/observations", "ICU: the latest values", latest_observations, ICU,
             errors=ERRORS),
    Endpoint("GET", f"{P}/messages", "ICU: what was sent to whom, and its status", messages, ICU,
             errors=ERRORS),
    Endpoint("GET", "/api/v1/icu/alerts", "ICU: failed or stuck messages", alerts, ICU,
             errors=ERRORS),
]  # fmt: skip
