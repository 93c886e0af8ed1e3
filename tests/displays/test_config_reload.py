"""A clinic's configuration change reaches open pages within seconds, not at the next minute's
reload: the PUT's PostgreSQL NOTIFY reaches every push process, which sends its sockets a
``reload`` frame and builds boards on the new configuration; cq.js loads the page again."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest

from tests.displays.browsing import BROWSER, WAIT_MS, open_page
from tests.displays.support import PushServer, Screen
from tests.support import ClinicClient, EngineServer, MakeClinic, clinic_config

WITHIN = 15.0  # seconds: a bound to fail rather than hang, well under the 60 s periodic reload
CABINET = "Офтальмолог 501"


async def add_ophthalmologist(cc: ClinicClient) -> None:
    """PUT the clinic again with a new doctor d9 in a new cabinet 501."""
    config: dict[str, Any] = clinic_config(cc.clinic)
    config["services"].append({"id": "eyes", "prefix": "О", "name": "Офтальмолог"})
    config["cabinets"].append({"id": "501", "name": CABINET})
    config["doctors"].append(
        {"id": "d9", "name": "Доктор 9", "services": ["eyes"], "cabinet": "501"}
    )
    response = await cc.http.put(cc.api, json=config, headers=cc.auth("admin"))
    assert response.status_code == 200, response.text


def doctor_ids(screen: Screen) -> set[str]:
    return {d["id"] for d in (screen.board or {}).get("doctors", [])}


@pytest.mark.integration
async def test_a_config_change_reloads_open_sockets_and_reaches_new_boards(
    clinics: MakeClinic, push_server: PushServer
) -> None:
    """After the PUT every open socket of the clinic (on both push processes) gets a reload
    frame, and a socket opened after it gets a board with the new doctor."""
    cc = await clinics("config-reload")
    url = f"{push_server.ws}/ws/clinics/{cc.clinic}?token={cc.tokens['display']}"
    # Several sockets, so that both processes behind the shared port hold some.
    screens = [await Screen.open(url) for _ in range(6)]
    for screen in screens:
        await screen.until(lambda s: s.board is not None)
        assert "d9" not in doctor_ids(screen)
    await add_ophthalmologist(cc)

    for screen in screens:
        reloads: list[dict[str, Any]] = []
        async with asyncio.timeout(WITHIN):
            while not reloads:
                frame = json.loads(await screen.ws.recv())
                if frame["type"] == "reload":
                    reloads.append(frame)
                else:
                    screen.take(frame)
        assert reloads == [{"type": "reload", "reason": "config"}]
        await screen.ws.close()

    fresh = await Screen.open(url)
    await fresh.until(lambda s: s.board is not None, within=WITHIN)
    assert "d9" in doctor_ids(fresh)
    await fresh.ws.close()


@BROWSER[0]
@BROWSER[1]
@BROWSER[2]
async def test_an_open_screen_names_a_cabinet_added_after_it_opened(
    clinics: MakeClinic, engine_server: EngineServer, own_push: PushServer, browser: Any
) -> None:
    """A screen open before the PUT shows a call to the new cabinet by its name."""
    from playwright.async_api import expect

    cc = await clinics("config-screen")
    screen = await open_page(
        browser, engine_server, own_push, f"/screen/{cc.clinic}", cc.tokens["display"]
    )
    await expect(screen.locator("#conn")).to_have_attribute("data-state", "online", timeout=WAIT_MS)
    await add_ophthalmologist(cc)
    duty = await cc.http.put(
        cc.api + "/doctors/d9/duty", json={"status": "on_duty"}, headers=cc.auth("head")
    )
    assert duty.status_code == 200, duty.text
    taken = await cc.http.post(
        cc.api + "/tickets", json={"service": "eyes"}, headers=cc.auth("kiosk")
    )
    assert taken.status_code == 201, taken.text
    called = await cc.http.post(cc.api + "/cabinets/501/call-next", headers=cc.auth("head"))
    assert called.status_code == 200, called.text

    await expect(screen.locator("#hero .call").first).to_contain_text("О-001", timeout=WAIT_MS)
    await expect(screen.locator("#hero .call").first).to_contain_text(CABINET, timeout=WAIT_MS)
    assert screen.url.endswith(f"token={cc.tokens['display']}")
    assert screen.errors == []


@BROWSER[0]
@BROWSER[1]
@BROWSER[2]
async def test_a_kiosk_showing_a_ticket_reloads_only_once_it_is_back_to_its_first_screen(
    clinics: MakeClinic, engine_server: EngineServer, own_push: PushServer, browser: Any
) -> None:
    """A patient reading their new ticket is not interrupted by a configuration change: the kiosk
    reloads when "Готово" takes it back to the services, which then include the new one."""
    from playwright.async_api import expect

    cc = await clinics("config-kiosk")
    duty = await cc.http.put(
        cc.api + "/doctors/d0/duty", json={"status": "on_duty"}, headers=cc.auth("head")
    )
    assert duty.status_code == 200, duty.text
    kiosk = await open_page(
        browser, engine_server, own_push, f"/kiosk/{cc.clinic}", cc.tokens["kiosk"],
        width=1280, height=1024,
    )  # fmt: skip
    await expect(kiosk.locator("#conn")).to_have_attribute("data-state", "online", timeout=WAIT_MS)
    await kiosk.click("button[data-service=therapy]")
    await expect(kiosk.locator("#ticket-number")).to_have_text("Т-001", timeout=WAIT_MS)
    await kiosk.evaluate("window.NOT_RELOADED = true")
    await add_ophthalmologist(cc)
    # The reload frame has come (the live feed stopped for it), and the ticket is still shown.
    await kiosk.wait_for_function("window.CQ_LIVE.stopped === true", timeout=WAIT_MS)
    await kiosk.wait_for_timeout(1500)  # past the reload's own spread of up to a second
    assert await kiosk.evaluate("window.NOT_RELOADED === true")
    await expect(kiosk.locator("#ticket-number")).to_have_text("Т-001")
    await kiosk.locator("#ticket button.back").click()
    await expect(kiosk.locator("button[data-service=eyes]")).to_be_visible(timeout=WAIT_MS)
    assert await kiosk.evaluate("window.NOT_RELOADED === undefined")
    assert kiosk.errors == []
    await kiosk.close()
