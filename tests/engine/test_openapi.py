"""The OpenAPI document is built from the same declarations as the routes, so it cannot drift;
OPTIONS and 405 name every method a path takes."""

from __future__ import annotations

import httpx
from starlette.routing import Route

from clinicq.app import ROUTES, create_app
from clinicq.openapi import spec
from clinicq.settings import Settings

SLOT = "/api/v1/clinics/demo/slots/ivanova-2026-12-01T09:00/reservation"


def _documented() -> set[tuple[str, str]]:
    return {(m.upper(), p) for p, ops in spec()["paths"].items() for m in ops}


def test_every_api_route_is_documented_with_its_methods() -> None:
    """Each /api and probe route's methods appear under its path (the fallbacks excepted)."""
    documented = _documented()
    missing = []
    for route in ROUTES:
        if not isinstance(route, Route) or not route.path.startswith(("/api/", "/healthz")):
            continue
        if route.path.endswith("/{action}"):
            continue  # the unknown-action fallbacks: a 404 with a code, not an operation
        path = route.path.replace(":int}", "}")
        missing += [
            (m, path) for m in (route.methods or ()) - {"HEAD"} if (m, path) not in documented
        ]
    assert missing == []


def test_bodies_that_need_fields_are_required_and_metrics_are_text() -> None:
    paths = spec()["paths"]
    take = paths["/api/v1/clinics/{clinic}/tickets"]["post"]
    assert take["requestBody"]["required"] is True
    assert paths["/api/v1/clinics/{clinic}/what-if"]["post"]["requestBody"]["required"] is True
    assert paths["/api/v1/clinics/{clinic}"]["put"]["requestBody"]["required"] is True
    call_next = paths["/api/v1/clinics/{clinic}/cabinets/{cabinet}/call-next"]["post"]
    assert call_next["requestBody"]["required"] is False  # an empty body is fine
    assert "text/plain" in paths["/metrics"]["get"]["responses"]["200"]["content"]
    assert "security" not in paths["/api/v1/clinics/{clinic}/ticket-status/{link}"]["get"]
    assert "security" in paths["/api/v1/clinics/{clinic}/tickets/{ticket}"]["get"]


async def _call(method: str, path: str) -> httpx.Response:
    # No lifespan: routing answers OPTIONS and 405 before any store is touched.
    app = create_app(Settings())
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://engine") as http:
        return await http.request(method, path)


async def test_options_names_every_method_of_the_path() -> None:
    """A slot's reservation is POSTed and DELETEd by two routes: OPTIONS names both."""
    answer = await _call("OPTIONS", SLOT)
    assert answer.status_code == 204
    assert answer.headers["allow"] == "DELETE, OPTIONS, POST"
    unknown = await _call("OPTIONS", "/no/such/path")
    assert unknown.status_code == 404
    assert unknown.json()["error"]["code"] == "route_not_found"


async def test_a_wrong_method_lists_every_allowed_one() -> None:
    answer = await _call("PATCH", SLOT)
    assert answer.status_code == 405
    assert answer.json()["error"]["code"] == "method_not_allowed"
    assert answer.headers["allow"] == "DELETE, OPTIONS, POST"
