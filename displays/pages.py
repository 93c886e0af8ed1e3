"""The screens' pages, served by the engine: jinja2 templates, plain scripts and styles.

    /screen/{clinic}?token=           waiting-room screen (1920x1080)
    /kiosk/{clinic}?token=            self-service kiosk: take a ticket, check in a booking
    /t/{clinic}/{link}                a patient's ticket status (the QR link is the credential)
    /panel/{clinic}/{doctor}?token=   doctor's panel
    /dashboard/{clinic}?token=        department head's dashboard
    /desk/{clinic}?token=[&printer=]  information desk (registrar); printer: a kiosk id
    /city?token=                      the city's situation centre (an admin token)
    /icu/{clinic}?token=              the ICU doctor's desk: consent, vitals, the daily SMS
    /displays/qr.png?data=...         a QR code as PNG
    /displays/static/...              scripts and styles
    /favicon.ico                      the icon

A page that cannot be shown (an unknown clinic, ticket or doctor; a store down) answers an HTML
page in the clinic's language, or the default one, with the error's status; ``/api/`` answers
JSON.

A page holds the clinic's public configuration and the catalogue for its locale (``?lang=`` to
override); its script reads the token from the URL, calls the JSON API with it and opens the push
server's WebSocket (same origin ``/ws/...`` behind a proxy, or the ``?push=ws://host:port``
given in the URL). Mount with ``ROUTES += displays.pages.routes``.
"""

from __future__ import annotations

import functools
import io
import logging
import re
from collections import Counter
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import jinja2
import msgspec
import qrcode
from babel import Locale
from babel.numbers import format_decimal
from starlette.requests import Request
from starlette.responses import FileResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.templating import Jinja2Templates

from displays.messages import DEFAULT_LOCALE, MESSAGES, catalogue
from engine.api.http import STORE_DOWN
from engine.clinic import ID_PATTERN, Clinic
from engine.errors import EngineError, NotFound, Unavailable
from engine.model.tickets import CANCEL_REASONS
from engine.service import Engine

log = logging.getLogger(__name__)
HERE = Path(__file__).parent
QR_MAX_CHARS = 512
LINK_PATTERN = re.compile(r"^[A-Za-z0-9_-]{1,64}$")  # a status link (token_urlsafe)
templates = Jinja2Templates(
    env=jinja2.Environment(
        loader=jinja2.FileSystemLoader(HERE / "templates"),
        autoescape=True,
        trim_blocks=True,
        lstrip_blocks=True,
    )
)


def _json_for_script(data: Any) -> str:
    # Inside <script> only "</" can end the element early; escape every "<".
    return msgspec.json.encode(data).decode().replace("<", "\\u003c")


def public_config(clinic: Clinic) -> dict[str, Any]:
    """What every page may know of a clinic: names of services, cabinets and doctors."""
    return {
        "id": clinic.id,
        "name": clinic.name,
        "locale": clinic.locale,
        "timezone": clinic.timezone,
        "services": [{"id": s.id, "name": s.name, "prefix": s.prefix} for s in clinic.services],
        "cabinets": {c.id: c.name for c in clinic.cabinets},
        "doctors": [
            {"id": d.id, "name": d.name, "cabinet": d.cabinet, "services": d.services}
            for d in clinic.doctors
        ],
        "levels": {
            "yellow": clinic.policy.yellow_wait_minutes,
            "red": clinic.policy.red_wait_minutes,
        },
    }


def say(messages: dict[str, str], key: str, **values: Any) -> str:
    """A catalogue message as the pages' ``t()`` says it, through babel: numbers in the
    locale's form ("0,1"), and the plural form (``key_one``, ``key_few``, ...) ``count`` asks."""
    lang = messages["lang"].replace("-", "_")
    if key not in messages and f"{key}_other" in messages:
        form = Locale.parse(lang).plural_form(values.get("count", 0))
        key = f"{key}_{form}" if f"{key}_{form}" in messages else f"{key}_other"
    shown = {
        k: format_decimal(v, locale=lang)
        if isinstance(v, int | float) and not isinstance(v, bool)
        else v
        for k, v in values.items()
    }
    return messages[key].format(**shown)


def page_locale(request: Request, locale: str) -> str:
    lang = request.query_params.get("lang")
    return lang if lang in MESSAGES else locale


def render(page: str, request: Request, locale: str, title: str, **config: Any) -> Response:
    messages = catalogue(page_locale(request, locale))
    return templates.TemplateResponse(
        request,
        f"{page}.html.j2",
        {
            "page": page,
            "title": title,
            "locale": messages["lang"][:2],
            "t": functools.partial(say, messages),
            "config_json": _json_for_script({"page": page, "messages": messages, **config}),
            **config,
        },
        headers={"Cache-Control": "no-store"},
    )


def error_page(request: Request, exc: EngineError, locale: str | None = None) -> Response:
    """A page route's refusal as a page a person can read, with the error's status."""
    messages = catalogue(page_locale(request, locale or DEFAULT_LOCALE))
    text = messages.get(f"err_{exc.code}") or messages["err_http_error"]
    return templates.TemplateResponse(
        request,
        "error.html.j2",
        {
            "locale": messages["lang"][:2],
            "t": functools.partial(say, messages),
            "status": exc.status,
            "code": exc.code,
            "text": text,
        },
        status_code=exc.status,
        headers={"Cache-Control": "no-store"},
    )


PageHandler = Callable[[Request], Awaitable[Response]]


def as_page(handler: PageHandler) -> PageHandler:
    """Serve ``handler``'s refusals as an HTML page, in the clinic's language when it is known."""

    @functools.wraps(handler)
    async def serve(request: Request) -> Response:
        try:
            return await handler(request)
        except EngineError as exc:
            return error_page(request, exc, request.scope.get("cq_locale"))
        # A store that does not answer: the API's 503 (clinicq.app), here as a page.
        except STORE_DOWN as exc:
            log.warning("store unavailable on page %s: %s", handler.__name__, type(exc).__name__)
            down = Unavailable("a store did not answer")
            return error_page(request, down, request.scope.get("cq_locale"))

    return serve


async def _clinic(request: Request) -> Clinic:
    clinic_id = request.path_params["clinic"]
    if not ID_PATTERN.match(clinic_id):
        raise NotFound("no such clinic", code="clinic_not_found")
    engine: Engine = request.app.state.engine
    clinic = await engine.clinic(clinic_id)
    request.scope["cq_locale"] = clinic.locale  # an error page after this speaks its language
    return clinic


async def screen(request: Request) -> Response:
    clinic = await _clinic(request)
    return render("screen", request, clinic.locale, clinic.name, clinic=public_config(clinic))


async def kiosk(request: Request) -> Response:
    clinic = await _clinic(request)
    return render("kiosk", request, clinic.locale, clinic.name, clinic=public_config(clinic))


async def status(request: Request) -> Response:
    clinic = await _clinic(request)
    link = request.path_params["link"]
    if not LINK_PATTERN.match(link):
        raise NotFound("no such ticket", code="ticket_not_found")
    return render(
        "status", request, clinic.locale, clinic.name, clinic=public_config(clinic), ticket=link
    )


async def panel(request: Request) -> Response:
    clinic = await _clinic(request)
    doctor = clinic.doctor(request.path_params["doctor"])
    if doctor is None:
        raise NotFound("no such doctor", code="doctor_not_found")
    return render(
        "panel", request, clinic.locale, doctor.name, clinic=public_config(clinic), doctor=doctor.id
    )


async def dashboard(request: Request) -> Response:
    clinic = await _clinic(request)
    return render("dashboard", request, clinic.locale, clinic.name, clinic=public_config(clinic))


async def icu(request: Request) -> Response:
    clinic = await _clinic(request)
    return render("icu", request, clinic.locale, clinic.name, clinic=public_config(clinic))


async def desk(request: Request) -> Response:
    """The registrar's desk; ``?printer=`` names the clinic's kiosk entry for its own printer."""
    clinic = await _clinic(request)
    printer = request.query_params.get("printer") or None
    if printer is not None and clinic.kiosk(printer) is None:
        raise NotFound("no such printer", code="kiosk_not_found")
    # A clinic may name categories the catalogue lacks: those are shown as the policy says them.
    messages = catalogue(page_locale(request, clinic.locale))
    return render(
        "desk",
        request,
        clinic.locale,
        clinic.name,
        clinic=public_config(clinic),
        priorities=[
            {"id": p, "name": messages.get(f"priority_{p}", p)}
            for p in clinic.policy.priority_categories
        ],
        cancel_reasons=CANCEL_REASONS,
        booking_days=clinic.policy.booking_days_ahead,
        printer=printer,
    )


async def city(request: Request) -> Response:
    engine: Engine = request.app.state.engine
    await engine.load_clinics()
    clinics = [
        {**public_config(c), "booking_days": c.policy.booking_days_ahead}
        for c in sorted(engine.clinics.values(), key=lambda c: c.name)
    ]
    locale = clinics[0]["locale"] if clinics else "ru"
    # The wall's clock shows the city's time: the zone most of its clinics keep.
    zones = Counter(c["timezone"] for c in clinics)
    timezone = zones.most_common(1)[0][0] if zones else None
    return render("city", request, locale, "Clinic Queue", clinics=clinics, timezone=timezone)


async def qr_png(request: Request) -> Response:
    data = request.query_params.get("data", "")
    if not 1 <= len(data) <= QR_MAX_CHARS:
        return Response("data: 1-512 characters", status_code=400)
    image = qrcode.make(data, box_size=8, border=2)
    out = io.BytesIO()
    image.save(out)
    return Response(
        # The data is a patient's status link: no shared cache may keep it.
        out.getvalue(),
        media_type="image/png",
        headers={"Cache-Control": "private, no-store"},
    )


async def favicon(request: Request) -> Response:
    return FileResponse(HERE / "static" / "favicon.ico", headers={"Cache-Control": "max-age=86400"})


async def home(request: Request) -> Response:
    """The bare address: every clinic and its pages (each needs its token), the city, the API."""
    engine: Engine = request.app.state.engine
    await engine.load_clinics()
    clinics = [public_config(c) for c in sorted(engine.clinics.values(), key=lambda c: c.name)]
    locale = clinics[0]["locale"] if clinics else DEFAULT_LOCALE
    messages = catalogue(page_locale(request, locale))
    return templates.TemplateResponse(
        request,
        "home.html.j2",
        {"locale": messages["lang"][:2], "t": functools.partial(say, messages), "clinics": clinics},
        headers={"Cache-Control": "no-store"},
    )


routes = [
    Route("/", as_page(home)),
    Route("/screen/{clinic}", as_page(screen)),
    Route("/kiosk/{clinic}", as_page(kiosk)),
    Route("/t/{clinic}/{link}", as_page(status)),
    Route("/panel/{clinic}/{doctor}", as_page(panel)),
    Route("/dashboard/{clinic}", as_page(dashboard)),
    Route("/icu/{clinic}", as_page(icu)),
    Route("/desk/{clinic}", as_page(desk)),
    Route("/city", as_page(city)),
    Route("/displays/qr.png", qr_png),
    Route("/favicon.ico", favicon),
    Mount("/displays/static", StaticFiles(directory=HERE / "static"), name="displays-static"),
]
