"""A page that cannot be shown answers a page a person can read, in the clinic's language or the
default one, with the right status; the API keeps answering JSON. The icon is served."""

from __future__ import annotations

import httpx
import pytest

from tests.support import EngineServer, MakeClinic, clinic_config

pytestmark = pytest.mark.integration

UNKNOWN_CLINIC = ["/screen/nope", "/kiosk/nope", "/t/nope/x", "/panel/nope/d0", "/dashboard/nope"]


def assert_page(response: httpx.Response, status: int, lang: str, *texts: str) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("text/html"), response.headers
    body = response.text
    assert f'<html lang="{lang}">' in body
    for text in texts:
        assert text in body, (text, body)
    assert '"error"' not in body  # no JSON body inside


async def test_an_unknown_clinic_is_a_page_in_the_default_language(
    engine_server: EngineServer,
) -> None:
    """/screen/nope and its kin: 404 and a Russian page saying what is wrong, not raw JSON."""
    async with httpx.AsyncClient(base_url=engine_server.url) as http:
        for path in [*UNKNOWN_CLINIC, "/screen/No%20Such!"]:
            response = await http.get(path, params={"token": "x"})
            assert_page(response, 404, "ru", "Такой поликлиники нет", "404")
        english = await http.get("/kiosk/nope", params={"lang": "en"})
        assert_page(english, 404, "en", "There is no such clinic")


async def test_an_unknown_doctor_or_link_speaks_the_clinics_language(
    clinics: MakeClinic, engine_server: EngineServer
) -> None:
    """In a known clinic the page is in the clinic's language (here English)."""
    cc = await clinics("errpages")
    config = {**clinic_config(cc.clinic), "locale": "en"}
    put = await cc.http.put(cc.api, json=config, headers=cc.auth("admin"))
    assert put.status_code == 200, put.text
    doctor = await cc.http.get(f"/panel/{cc.clinic}/nope")
    assert_page(doctor, 404, "en", "There is no such doctor")
    link = await cc.http.get(f"/t/{cc.clinic}/bad!link")
    assert_page(link, 404, "en", "Ticket not found")
    fine = await cc.http.get(f"/screen/{cc.clinic}")
    assert fine.status_code == 200
    assert '<link rel="icon" href="/favicon.ico"' in fine.text


async def test_the_api_still_answers_json(engine_server: EngineServer, admin_token: str) -> None:
    """Under /api/ an unknown clinic stays a JSON error with its code."""
    async with httpx.AsyncClient(base_url=engine_server.url) as http:
        response = await http.get(
            "/api/v1/clinics/nope/board", headers={"Authorization": f"Bearer {admin_token}"}
        )
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "clinic_not_found"


async def test_the_icon_is_served(engine_server: EngineServer) -> None:
    """/favicon.ico is an icon, not a 404."""
    async with httpx.AsyncClient(base_url=engine_server.url) as http:
        response = await http.get("/favicon.ico")
    assert response.status_code == 200
    assert response.headers["content-type"] in ("image/x-icon", "image/vnd.microsoft.icon")
    assert response.content[:4] == b"\x00\x00\x01\x00"  # the ICO header


async def test_the_bare_address_lists_each_clinics_pages(
    clinics: MakeClinic, engine_server: EngineServer
) -> None:
    """Someone who opens the engine's own address (as `clinicq demo --url` prints it) finds a
    page, not a JSON 404: each clinic with links to its pages, the city overview and the API."""
    cc = await clinics("home")
    async with httpx.AsyncClient(base_url=engine_server.url) as http:
        answer = await http.get("/")
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/html")
    page = answer.text
    for path in ("screen", "kiosk", "dashboard", "panel"):
        assert f'href="/{path}/{cc.clinic}' in page, path
    assert f"Поликлиника {cc.clinic}" in page
    assert 'href="/city"' in page and 'href="/docs"' in page
    assert "token=cq_" not in page  # links only; each page needs its own token
