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
from engine.clinic import TEMPLATE_MAX
from engine.errors import Forbidden, Unavailable, ValidationFailed
from engine.text import PLAIN
from notifier import wording
from notifier.crypto import PhoneCipher
from notifier.errors import MessageTooLong, PatientNotAdmitted
from notifier.hospitals import daily_message, next_send
from notifier.hospitals_postgres import Hospitals
from notifier.phones import normalise
from notifier.schedule import PatientStatus
from notifier.settings import NotifierSettings
from notifier.store_postgres import SmsStore
from notifier.vitals import LIMITS, Dynamics, Observation, assess, merge, validate
from notifier.worker import Clock, utcnow

ICU_ROLES = frozenset({"icu_doctor"})
# The engine's one rule for typed text (engine/text.py).
Text40 = Annotated[str, msgspec.Meta(min_length=1, max_length=40, pattern=PLAIN)]
Text200 = Annotated[str, msgspec.Meta(min_length=1, max_length=200, pattern=PLAIN)]
_PATIENT_ID = re.compile(PLAIN.replace("*$", "{1,64}$"))


@dataclass
class SmsService:
    store: SmsStore
    settings: NotifierSettings
    hospitals: Hospitals
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
    hospitals = Hospitals(pool, settings.default_schedule)
    return SmsService(SmsStore(pool, cipher), settings, hospitals, clock, max_body_bytes)


class RelativeIn(msgspec.Struct, forbid_unknown_fields=True):
    phone: Annotated[str, msgspec.Meta(max_length=32)]
    relation: Text40
    language: Literal["ru", "en"] = "ru"


class StatusIn(msgspec.Struct, forbid_unknown_fields=True):
    status: Literal["admitted", "discharged", "transferred", "deceased"]
    attending_doctor: Text40 | None = None
    label: Text40 | None = None
    new: bool = False  # an admission that must not touch a patient the hospital already has


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


class WordingIn(msgspec.Struct, forbid_unknown_fields=True):
    language: Literal["ru", "en"]
    wording: Annotated[str, msgspec.Meta(min_length=1, max_length=TEMPLATE_MAX)]
    hospital_name: Text200 | None = None


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
    if body.attending_doctor is not None:
        clinic, _ = await ctx.service.hospitals.fetch(ctx.clinic)
        if clinic is not None and clinic.doctor(body.attending_doctor) is None:
            raise ValidationFailed("the attending doctor is not one of the hospital's doctors")
    patient, change = await ctx.service.store.set_status(
        _patient(call),
        clinic=ctx.clinic,
        status=PatientStatus(body.status),
        by=ctx.who,
        now=ctx.service.clock(),
        attending_doctor=body.attending_doctor or ctx.doctor,
        label=body.label,
        new=body.new,
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
    patient = await ctx.service.store.get_patient(_patient(call), ctx.clinic)
    if patient.status is not PatientStatus.ADMITTED:
        raise PatientNotAdmitted(f"the patient is {patient.status.value}: no vitals are recorded")
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


async def patients(call: Call) -> Response:
    ctx = _ctx(call)
    found = await ctx.service.store.patients(ctx.clinic)
    return _json(
        {
            "patients": [
                {
                    "patient_id": s.patient.patient_id,
                    "label": s.patient.label,
                    "status": s.patient.status.value,
                    "attending_doctor": s.patient.attending_doctor,
                    "updated_at": s.updated_at,
                    "relatives": s.relatives,
                    "observed_at": s.observed_at,
                }
                for s in found
            ]
        }
    )


async def rules(call: Call) -> Response:
    """The hospital's schedule and the rules the desk shows as the doctor types."""
    ctx = _ctx(call)
    settings = ctx.service.settings
    _, sched = await ctx.service.hospitals.fetch(ctx.clinic)
    upcoming = next_send(ctx.service.clock(), sched)
    return _json(
        {
            "timezone": sched.tz,
            "send_at": sched.send_at.strftime("%H:%M"),
            "quiet_start": sched.quiet_start.strftime("%H:%M"),
            "quiet_end": sched.quiet_end.strftime("%H:%M"),
            "hospital_name": sched.name,
            "own_wording": sorted(sched.templates),
            "next_date": upcoming.local_date,
            "next_send_at": upcoming.not_before,
            "stale_after_minutes": int(settings.stale_after.total_seconds() // 60),
            "max_segments": settings.max_segments,
            "limits": {
                name: {"low": low, "high": high, "unit": unit}
                for name, (low, high, unit) in LIMITS.items()
            },
        }
    )


async def next_message(call: Call) -> Response:
    """The next daily message exactly as each relative will get it, with the values that will
    be stale or missing by then. Composed as the sender will compose it at send time."""
    ctx = _ctx(call)
    store, settings = ctx.service.store, ctx.service.settings
    patient = await store.get_patient(_patient(call), ctx.clinic)
    _, sched = await ctx.service.hospitals.fetch(ctx.clinic)
    upcoming = next_send(ctx.service.clock(), sched)
    readings = merge(await store.observations(patient.patient_id))
    vitals = assess(readings, upcoming.not_before, settings.stale_after)
    going = [r for r in await store.relatives(patient.patient_id) if r.active and not r.bad_number]
    out = []
    for rel in going if patient.status is PatientStatus.ADMITTED else []:
        shown: dict[str, Any] = {
            "relative_id": rel.id,
            "to": rel.phone_masked,
            "relation": rel.relation,
            "language": rel.language,
        }
        try:
            message = daily_message(
                sched,
                language=rel.language,
                local_date=upcoming.local_date,
                vitals=vitals,
                max_segments=settings.max_segments,
                patient=patient.label,
            )
        except MessageTooLong as exc:
            shown["problem"] = {"code": exc.code, "message": exc.message}
        else:
            parts = message.segments
            shown |= {"text": message.text, "style": message.style}
            shown |= {"segments": parts.count, "encoding": parts.encoding}
        out.append(shown)
    return _json(
        {
            "status": patient.status.value,
            "local_date": upcoming.local_date,
            "send_at": upcoming.not_before,
            "stale": sorted(n for n, a in vitals.items() if a.state == "stale"),
            "missing": sorted(n for n, a in vitals.items() if a.state == "missing"),
            "messages": out,
        }
    )


async def preview_wording(call: Call) -> Response:
    """A hospital's own wording tried on every field's every state; refused with what failed."""
    body = call.body
    hospital = body.hospital_name or ""
    problems = wording.problems(body.language, body.wording, hospital=hospital)
    if problems:
        raise ValidationFailed("; ".join(problems), code="wording_invalid")
    message = wording.sample(body.language, body.wording, hospital, "Иванов И.И.")
    parts = message.segments
    return _json(
        {
            "text": message.text,
            "style": message.style,
            "segments": parts.count,
            "encoding": parts.encoding,
            "cases": sum(1 for _ in wording.cases()),
        }
    )


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
    Endpoint("GET", "/api/v1/icu/alerts", "ICU: deaths, bad numbers, failed messages, low funds",
             alerts, ICU, errors=ERRORS),
    Endpoint("GET", "/api/v1/icu/patients", "ICU: the hospital's ICU patients", patients, ICU,
             errors=ERRORS),
    Endpoint("GET", "/api/v1/icu/rules",
             "ICU: the hospital's send time, quiet hours, plausibility limits, staleness", rules,
             ICU, errors=ERRORS),
    Endpoint("GET", f"{P}/next-message",
             "ICU: the next daily message as each relative will get it", next_message, ICU,
             errors=ERRORS),
    Endpoint("POST", "/api/v1/icu/wording/preview",
             "A hospital's own wording of the daily message, tried on every field's every state",
             preview_wording, ("icu_doctor", "head", "admin"), body=WordingIn, errors=ERRORS),
]  # fmt: skip
