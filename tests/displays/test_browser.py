"""The pages in headless Chromium: a call reaches the screen and the status page; reconnects."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import httpx

from tests.displays.browsing import BROWSER, WAIT_MS, board, open_page, shot
from tests.displays.support import PushServer
from tests.support import EngineServer, MakeClinic

pytestmark = BROWSER


async def test_call_reaches_screen_and_status_page_and_survives_a_cut(
    clinics: MakeClinic, engine_server: EngineServer, own_push: PushServer, browser: Any
) -> None:
    """Kiosk ticket, panel call-next: screen and status page show it; after a cut, the board."""
    from playwright.async_api import expect

    cc = await clinics("browser")
    tk = cc.tokens
    screen = await open_page(
        browser, engine_server, own_push, f"/screen/{cc.clinic}", tk["display"]
    )
    panel = await open_page(
        browser, engine_server, own_push, f"/panel/{cc.clinic}/d0", tk["doctor"]
    )
    kiosk = await open_page(
        browser,
        engine_server,
        own_push,
        f"/kiosk/{cc.clinic}",
        tk["kiosk"],
        width=1280,
        height=1024,
    )
    await expect(screen.locator("#conn")).to_have_attribute("data-state", "online", timeout=WAIT_MS)
    await expect(panel.locator("#conn")).to_have_attribute("data-state", "online", timeout=WAIT_MS)

    await expect(kiosk.locator("#conn")).to_have_attribute("data-state", "online", timeout=WAIT_MS)
    await kiosk.click("button[data-service=therapy]")
    await kiosk.click("#confirm-take")  # nobody is on duty yet: the kiosk asks first
    number = "Т-001"
    await expect(kiosk.locator("#ticket-number")).to_have_text(number, timeout=WAIT_MS)
    await expect(kiosk.locator("#ticket-qr")).to_have_js_property("complete", True)
    link = await kiosk.locator("#ticket-qr").get_attribute("data-link")
    assert link and f"/t/{cc.clinic}/" in link
    await shot(kiosk, "kiosk")

    status = await browser.new_page(viewport={"width": 390, "height": 844})
    await status.goto(link)
    await expect(status.locator("#number")).to_have_text(number, timeout=WAIT_MS)
    await expect(status.locator("#conn")).to_have_attribute("data-state", "online", timeout=WAIT_MS)
    await expect(status.locator("#ahead")).to_contain_text("никого")

    await panel.click("#on-duty")
    await expect(panel.locator("#doc-state")).to_have_attribute("data-status", "on_duty")
    await panel.keyboard.press("n")
    await expect(panel.locator("#current")).to_have_text(number, timeout=WAIT_MS)

    await expect(screen.locator("#hero .call").first).to_contain_text(number, timeout=WAIT_MS)
    await expect(screen.locator("#hero .call").first).to_contain_text("Кабинет 0")
    await expect(status.locator("#called")).to_be_visible(timeout=WAIT_MS)
    await expect(status.locator("#called")).to_contain_text("Кабинет 0")
    announced = await screen.evaluate("window.CQ_ANNOUNCED")
    assert announced == [f"Талон {number}. Пройдите в Кабинет 0."]

    # Two calls at the same moment are both held large; each is announced, in order.
    for _ in range(2):
        await cc.http.post(
            cc.api + "/tickets", json={"service": "therapy"}, headers=cc.auth("kiosk")
        )
    await cc.http.put(
        cc.api + "/doctors/d1/duty", json={"status": "on_duty"}, headers=cc.auth("head")
    )
    await panel.keyboard.press("s")
    await expect(panel.locator("#current-state")).to_have_text("на приёме", timeout=WAIT_MS)
    await panel.keyboard.press("p")
    await expect(panel.locator("#suspended li")).to_have_count(1, timeout=WAIT_MS)
    for cabinet in ("c0", "c1"):
        response = await cc.http.post(
            cc.api + f"/cabinets/{cabinet}/call-next", headers=cc.auth("head")
        )
        assert response.status_code == 200, response.text
    for held in ("Т-002", "Т-003"):
        await expect(screen.locator(f"#hero .call[data-number={held}]")).to_be_visible(
            timeout=WAIT_MS
        )
    await screen.wait_for_function("window.CQ_ANNOUNCED.length === 3")
    await expect(panel.locator("#current")).to_have_text("Т-002", timeout=WAIT_MS)
    await shot(screen, "screen")
    await shot(panel, "panel")
    await shot(status, "status")

    # Cut every socket from the server side; change the queue while the screens are away.
    own_push.kill()
    await expect(screen.locator("#conn")).to_have_attribute(
        "data-state", "reconnecting", timeout=WAIT_MS
    )
    await cc.http.post(cc.api + "/tickets", json={"service": "surgery"}, headers=cc.auth("kiosk"))
    await cc.http.post(cc.api + "/cabinets/c1/call-next", headers=cc.auth("head"))
    own_push.start()

    expected = await board(cc)
    # The page backs off up to 15 s between attempts; on a loaded machine the restarted push
    # process may miss the first few, so allow several rounds.
    await expect(screen.locator("#conn")).to_have_attribute("data-state", "online", timeout=60_000)
    first = expected["calls"][0]
    await expect(screen.locator("#hero .call").first).to_contain_text(first["number"])
    shown = await screen.evaluate("window.CQ_LIVE.board")
    assert shown["calls"] == expected["calls"]
    assert shown["queues"] == expected["queues"]
    for q in expected["queues"]:
        await expect(screen.locator(f"[data-queue={q['service']}] .waiting")).to_have_text(
            str(q["waiting"])
        )
    assert await screen.evaluate("window.CQ_LIVE.offset") == expected["offset"]
    for page in (screen, panel, kiosk, status):
        assert page.errors == [] if hasattr(page, "errors") else True
        await page.close()


async def test_dashboard_move_changes_who_call_next_serves(
    clinics: MakeClinic, engine_server: EngineServer, push_server: PushServer, browser: Any
) -> None:
    """Moving a doctor onto another queue on the dashboard: their next call serves that queue."""
    from playwright.async_api import expect

    cc = await clinics("dash")
    for service in ("therapy", "surgery", "therapy"):
        response = await cc.http.post(
            cc.api + "/tickets", json={"service": service}, headers=cc.auth("kiosk")
        )
        assert response.status_code == 201
    dash = await open_page(
        browser, engine_server, push_server, f"/dashboard/{cc.clinic}", cc.tokens["head"]
    )
    row = dash.locator("tr[data-doctor=d1]")
    await row.locator("button.edit").click()
    edit = dash.locator("tr.editor[data-editor-for=d1]")
    await edit.locator("button.on-duty").click()
    await expect(row).to_have_attribute("data-status", "on_duty", timeout=WAIT_MS)
    await edit.locator("input[value=therapy]").uncheck()
    await edit.locator("input[value=surgery]").check()
    await edit.locator("select.move-cabinet").select_option("c2")
    await edit.locator("button.what-if").click()  # the simulator's forecast before the move
    await expect(edit.locator(".row-message")).to_contain_text("Прогноз", timeout=WAIT_MS)
    await expect(edit.locator(".row-message")).to_contain_text("Хирург:")
    await edit.locator("button.move").click()
    await expect(row.locator("td.services")).to_have_text("Хирург", timeout=WAIT_MS)
    await expect(row.locator("td.cabinet")).to_have_text("Кабинет 2")

    response = await cc.http.post(cc.api + "/cabinets/c2/call-next", headers=cc.auth("head"))
    assert response.status_code == 200, response.text
    assert response.json()["ticket"]["number"] == "Х-001"
    await expect(dash.locator("[data-queue=surgery] .waiting")).to_have_text("0", timeout=WAIT_MS)
    await expect(dash.locator("[data-queue=therapy] .waiting")).to_have_text("2")
    await shot(dash, "dashboard")
    assert dash.errors == []
    await dash.close()


def _a_zone_at_midday() -> str:
    """A fixed-offset time zone in which it is now between 10:00 and 14:00."""
    now = datetime.now(UTC)
    for hours in range(-12, 15):
        zone = f"Etc/GMT{-hours:+d}"  # POSIX signs: Etc/GMT-3 is three hours ahead of UTC
        if 10 <= now.astimezone(ZoneInfo(zone)).hour < 14:
            return zone
    raise AssertionError("every hour of the day has a zone")


async def test_city_overview_shows_every_clinic(
    clinics: MakeClinic, engine_server: EngineServer, push_server: PushServer, browser: Any
) -> None:
    """The situation centre has a tile per clinic, with its wait level in words as well."""
    from playwright.async_api import expect

    # Green means a free slot today: in the last half hour before a clinic's midnight there is
    # none, so the clinic lives where it is now the middle of the day.
    cc = await clinics("city", timezone=_a_zone_at_midday())
    async with httpx.AsyncClient(base_url=engine_server.url) as http:
        assert (await http.get("/city")).status_code == 200
    page = await open_page(browser, engine_server, push_server, "/city", cc.tokens["admin"])
    tile = page.locator(f"[data-clinic={cc.clinic}]")
    await expect(tile).to_have_attribute("data-slots", "green", timeout=20_000)
    await expect(tile.locator(".wait .level")).to_have_text("● норма")
    await shot(page, "city")
    assert page.errors == []
    await page.close()
