"""SMSC's callbacks: a relative's reply (a STOP withdraws consent) and delivery reports.

SMSC POSTs form fields (``application/x-www-form-urlencoded``) to the URLs set in its personal
account, each carrying the secret ``NotifierSettings.smsc_callback_secret`` as a path segment:

    POST /api/v1/sms/smsc/{secret}/incoming   id, phone, mes (and to, sent, time, md5)
    POST /api/v1/sms/smsc/{secret}/status     id, phone, status (and time, ts, err, md5)
    POST /api/v1/sms/smsc/{secret}            either, told apart by its fields

No bearer token: SMSC has none. The secret is compared in constant time; a wrong one is 403
``bad_callback_secret``, none configured is 404 ``sms_callbacks_disabled``. Every authenticated
reply gets the same ``{"ok": true}``, whether its number is known or not and whether it was a
STOP or a retry, so the answer tells nothing about a number. Phone numbers and texts are never
logged. SMSC's status codes are read with ``gateway_smsc.STATUSES``, as the poll reads them.
"""

from __future__ import annotations

import hmac
import logging
from datetime import date
from urllib.parse import parse_qsl

from starlette.responses import Response

from engine.api.endpoint import PUBLIC, Call, Endpoint
from engine.api.http import JSON, read_body
from engine.errors import BadRequest, Forbidden, NotFound
from notifier.api import SmsService
from notifier.gateway_smsc import STATUSES
from notifier.inbox_postgres import Inbox
from notifier.outbox_postgres import Outbox
from notifier.phones import from_provider
from notifier.replies import confirmation, is_stop

log = logging.getLogger(__name__)
PROVIDER = "smsc"
_MAX_FIELDS = 40


def _service(call: Call) -> SmsService:
    service: SmsService | None = getattr(call.request.app.state, "sms", None)
    secret = service.settings.smsc_callback_secret if service is not None else ""
    if service is None or not secret:
        # 404, not 503: nothing here will ever answer until an operator sets the secret.
        raise NotFound(
            "SMSC callbacks are not configured here (CLINICQ_SMSC_CALLBACK_SECRET)",
            code="sms_callbacks_disabled",
        )
    given = str(call.params["secret"]).encode()
    if not hmac.compare_digest(given, secret.encode()):
        raise Forbidden("this callback URL is not valid", code="bad_callback_secret")
    return service


async def _form(call: Call, service: SmsService) -> dict[str, str]:
    """SMSC's form: UTF-8 as the account should be set, windows-1251 (its default) else."""
    raw = await read_body(call.request, service.max_body_bytes)
    try:
        text = raw.decode("ascii")  # percent-encoded: any other byte is not a form
        for charset in ("utf-8", "cp1251"):
            try:
                pairs = parse_qsl(
                    text, encoding=charset, errors="strict", max_num_fields=_MAX_FIELDS
                )
                return dict(pairs)
            except UnicodeDecodeError:
                continue
    except (UnicodeDecodeError, ValueError):
        pass
    raise BadRequest("the callback body is not a form", code="bad_callback")


def _field(form: dict[str, str], name: str) -> str:
    value = form.get(name, "").strip()
    if not value:
        raise BadRequest(f"the callback has no {name!r}", code="bad_callback")
    return value


def _ok() -> Response:
    return JSON({"ok": True})


async def incoming(call: Call) -> Response:
    """A relative's SMS: a STOP from a subscribed number withdraws consent and is answered."""
    service = _service(call)
    return await _incoming(service, await _form(call, service))


async def status(call: Call) -> Response:
    """A delivery report; recorded only if it moves the message's status forward."""
    service = _service(call)
    return await _status(service, await _form(call, service))


async def either(call: Call) -> Response:
    """One URL for both, as SMSC's account may have one handler field: a form with ``mes`` is
    an incoming SMS, one with ``status`` a report; anything else (a check call) is ignored."""
    service = _service(call)
    form = await _form(call, service)
    if "mes" in form:
        return await _incoming(service, form)
    if "status" in form:
        return await _status(service, form)
    return _ok()


async def _incoming(service: SmsService, form: dict[str, str]) -> Response:
    provider_id = _field(form, "id")
    if len(provider_id) > 64:
        raise BadRequest("the callback's id is too long", code="bad_callback")
    now = service.clock()
    hospitals = service.hospitals
    await hospitals.refresh()  # only what changed since the last reply

    def today(clinic: str) -> date:
        """The confirmation's date in the audit: the hospital's local date."""
        return now.astimezone(hospitals.schedule_for(clinic).zone).date()

    store = service.store
    outcome = await Inbox(store.pool, store.cipher).receive(
        provider=PROVIDER,
        provider_id=provider_id,
        phone=from_provider(form.get("phone", "")),
        stop=is_stop(form.get("mes", "")),
        now=now,
        confirm=confirmation,
        today=today,
    )
    log.info("sms reply %s from %s: %s", provider_id, PROVIDER, outcome.value)
    return _ok()


async def _status(service: SmsService, form: dict[str, str]) -> Response:
    try:
        outbox_id = int(_field(form, "id"))
        code = int(_field(form, "status"))
    except ValueError:
        raise BadRequest("the callback's id and status are numbers", code="bad_callback") from None
    phone = from_provider(form.get("phone", ""))
    delivery = STATUSES.get(code)
    moved = False
    if phone is not None and delivery is not None:
        store = service.store
        moved = await Outbox(store.pool, store.cipher).record_pushed_delivery(
            outbox_id, phone, delivery, f"smsc status {code} (callback)", service.clock()
        )
    log.info("sms delivery report for outbox %d: status %d, recorded=%s", outbox_id, code, moved)
    return _ok()


S = "/api/v1/sms/smsc/{secret}"
ERRORS = (400, 403, 404, 413, 503)  # 503: the database is down
NOTE = "SMSC, authenticated by the secret in the URL"
ENDPOINTS = [
    Endpoint("POST", S, "SMSC: an incoming SMS or a delivery report, told apart by its fields",
             either, PUBLIC, errors=ERRORS, roles_note=NOTE),
    Endpoint("POST", f"{S}/incoming", "SMSC: a relative's SMS (STOP withdraws consent)",
             incoming, PUBLIC, errors=ERRORS, roles_note=NOTE),
    Endpoint("POST", f"{S}/status", "SMSC: a delivery report", status, PUBLIC, errors=ERRORS,
             roles_note=NOTE),
]  # fmt: skip
