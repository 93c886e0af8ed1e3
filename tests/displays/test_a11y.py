"""axe-core on every page, in Russian and in English, quiet and busy (a call just made, a red
queue, a suspended patient, the kiosk's booking form and ticket, an ICU patient open): no
violation of impact serious or critical (issue 16)."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.async_api import expect

from tests.displays.axe import Audit
from tests.displays.browsing import BROWSER, WAIT_MS, open_page
from tests.displays.support import PushServer
from tests.support import ClinicClient, EngineServer, MakeClinic, midday_zone

pytestmark = BROWSER

LANGS = ("ru", "en")
# The clinics here keep the zone the city page's test uses (the city's clock shows the zone most
# clinics keep, and this module runs before that one in the same database).


async def ok(response: Any) -> dict[str, Any]:
    assert response.status_code in (200, 201), response.text
    data: dict[str, Any] = response.json()
    return data


async def busy(cc: ClinicClient) -> dict[str, Any]:
    """d0 on duty with one patient suspended and the next just called; surgery has patients and
    nobody on duty (red). Returns the called ticket."""
    await ok(
        await cc.http.put(
            cc.api + "/doctors/d0/duty", json={"status": "on_duty"}, headers=cc.auth("head")
        )
    )
    tickets = []
    for service in ("therapy", "therapy", "therapy", "surgery", "surgery"):
        tickets.append(
            await ok(
                await cc.http.post(
                    cc.api + "/tickets", json={"service": service}, headers=cc.auth("kiosk")
                )
            )
        )
    first = await ok(await cc.http.post(cc.api + "/cabinets/c0/call-next", headers=cc.auth("head")))
    tid = first["ticket"]["id"]
    for action in ("start", "suspend"):
        await ok(await cc.http.post(f"{cc.api}/tickets/{tid}/{action}", headers=cc.auth("head")))
    await ok(await cc.http.post(cc.api + "/cabinets/c0/call-next", headers=cc.auth("head")))
    return tickets[1]


async def check(
    audit: Audit,
    browser: Any,
    engine: EngineServer,
    push: PushServer,
    path: str,
    token: str | None,
    where: str,
    ready: str = "#conn[data-state=online]",
    **size: int,
) -> Any:
    page = await open_page(browser, engine, push, path, token, **size)
    await expect(page.locator(ready).first).to_be_attached(timeout=WAIT_MS)
    await audit(page, where)
    return page


@pytest.mark.parametrize("lang", LANGS)
async def test_every_page_quiet(
    lang: str,
    clinics: MakeClinic,
    engine_server: EngineServer,
    push_server: PushServer,
    browser: Any,
) -> None:
    audit = Audit()
    cc = await clinics(f"axequiet{lang}", timezone=midday_zone())
    tk = cc.tokens
    c = cc.clinic
    pages = [
        (f"/?lang={lang}", None, "h1"),
        (f"/screen/{c}?lang={lang}", tk["display"], "#conn[data-state=online]"),
        (f"/kiosk/{c}?lang={lang}", tk["kiosk"], "#conn[data-state=online]"),
        (f"/panel/{c}/d0?lang={lang}", tk["doctor"], "#conn[data-state=online]"),
        (f"/dashboard/{c}?lang={lang}", tk["head"], "#conn[data-state=online]"),
        (f"/desk/{c}?lang={lang}", tk["registrar"], "#conn[data-state=online]"),
        (f"/icu/{c}?lang={lang}", tk["icu_doctor"], "#schedule:not(:empty)"),
        (f"/city?lang={lang}", tk["admin"], f"[data-clinic={c}][data-slots]"),
        (f"/screen/no-such-clinic?lang={lang}", None, "h1"),
    ]
    ticket = await ok(
        await cc.http.post(
            cc.api + "/tickets", json={"service": "therapy"}, headers=cc.auth("kiosk")
        )
    )
    pages.append((ticket["status_url"] + f"?lang={lang}", None, "#number:not(:empty)"))
    for path, token, ready in pages:
        size = {"width": 390, "height": 844} if path.startswith("/t/") else {}
        page = await check(
            audit,
            browser,
            engine_server,
            push_server,
            path,
            token,
            f"{path} ({lang})",
            ready,
            **size,
        )
        assert page.errors == []
        await page.close()
    audit.done()


@pytest.mark.parametrize("lang", LANGS)
async def test_every_page_busy(
    lang: str,
    clinics: MakeClinic,
    engine_server: EngineServer,
    push_server: PushServer,
    browser: Any,
) -> None:
    audit = Audit()
    cc = await clinics(f"axebusy{lang}", timezone=midday_zone())
    tk = cc.tokens
    c = cc.clinic
    called = await busy(cc)

    screen = await check(
        audit,
        browser,
        engine_server,
        push_server,
        f"/screen/{c}?lang={lang}",
        tk["display"],
        f"busy screen ({lang})",
        "#hero .call",
    )
    await screen.close()

    panel = await check(
        audit,
        browser,
        engine_server,
        push_server,
        f"/panel/{c}/d0?lang={lang}",
        tk["doctor"],
        f"busy panel ({lang})",
        "#suspended li",
    )
    await panel.click("#no-show")  # armed: asks for a second press
    await audit(panel, f"panel, no-show armed ({lang})")
    await panel.close()

    dash = await check(
        audit,
        browser,
        engine_server,
        push_server,
        f"/dashboard/{c}?lang={lang}",
        tk["head"],
        f"busy dashboard ({lang})",
        "tr[data-doctor=d0][data-status=on_duty]",
    )
    await dash.locator("tr[data-doctor=d1] button.edit").click()
    await expect(dash.locator("tr.editor[data-editor-for=d1]")).to_be_visible()
    await audit(dash, f"dashboard with a row open ({lang})")
    await dash.close()

    city = await check(
        audit,
        browser,
        engine_server,
        push_server,
        f"/city?lang={lang}",
        tk["admin"],
        f"busy city ({lang})",
        f"[data-clinic={c}][data-slots]",
    )
    await city.close()

    status = await check(
        audit,
        browser,
        engine_server,
        push_server,
        called["status_url"] + f"?lang={lang}",
        None,
        f"status page, called ({lang})",
        "#called:not(:empty)",
        width=390,
        height=844,
    )
    await status.close()

    kiosk = await check(
        audit,
        browser,
        engine_server,
        push_server,
        f"/kiosk/{c}?lang={lang}",
        tk["kiosk"],
        f"busy kiosk ({lang})",
        width=1280,
        height=1024,
    )
    await kiosk.click("#booking-open")
    await expect(kiosk.locator("#booking")).to_be_visible()
    await kiosk.fill("#booking-code", "R1")
    await kiosk.click("#booking-form button[type=submit]")
    await expect(kiosk.locator("#message")).not_to_be_empty(timeout=WAIT_MS)
    await audit(kiosk, f"kiosk booking form with an error ({lang})")
    await kiosk.locator("#booking .back").click()
    await kiosk.click("button[data-service=therapy]")
    await expect(kiosk.locator("#ticket-number")).not_to_be_empty(timeout=WAIT_MS)
    await audit(kiosk, f"kiosk ticket ({lang})")
    await kiosk.close()

    desk = await check(
        audit,
        browser,
        engine_server,
        push_server,
        f"/desk/{c}?lang={lang}",
        tk["registrar"],
        f"busy desk ({lang})",
    )
    await desk.click("#issue-button")
    await expect(desk.locator("#issued")).to_be_visible(timeout=WAIT_MS)
    await audit(desk, f"desk, a ticket issued ({lang})")
    await desk.close()

    patient = f"AX-{c[-6:]}"
    await ok(
        await cc.http.put(
            f"/api/v1/icu/patients/{patient}/status",
            json={"status": "admitted", "label": "Иванов И.И."},
            headers=cc.auth("icu_doctor"),
        )
    )
    icu = await check(
        audit,
        browser,
        engine_server,
        push_server,
        f"/icu/{c}?patient={patient}&lang={lang}",
        tk["icu_doctor"],
        f"ICU desk, a patient open ({lang})",
        "#schedule:not(:empty)",
    )
    await icu.close()
    audit.done()
