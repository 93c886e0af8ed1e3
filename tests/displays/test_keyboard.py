"""The doctors' keyboard (issue 16): the panel's shortcuts by the physical key in a Russian
layout, a second press before a visit ends, shortcuts that can be turned off, and the focus kept
on a useful control across the page's own updates (panel and dashboard)."""

from __future__ import annotations

import re
from typing import Any

from tests.displays.browsing import BROWSER, WAIT_MS, open_page
from tests.displays.support import PushServer
from tests.support import ClinicClient, EngineServer, MakeClinic

pytestmark = BROWSER

# The ЙЦУКЕН layout: what the physical keys the panel uses type there.
RUSSIAN = {"KeyN": "т", "KeyR": "к", "KeyS": "ы", "KeyP": "з", "KeyC": "с", "KeyX": "ч"}


async def press_russian(page: Any, code: str) -> None:
    """The physical key ``code`` as Chromium gets it with the Russian layout on: the Cyrillic
    character as ``key``, the key's place as ``code``."""
    cdp = await page.context.new_cdp_session(page)
    key = RUSSIAN[code]
    vk = ord(code[-1])
    await cdp.send("Input.dispatchKeyEvent", {"type": "keyDown", "key": key, "code": code, "text": key, "windowsVirtualKeyCode": vk})  # fmt: skip
    await cdp.send("Input.dispatchKeyEvent", {"type": "keyUp", "key": key, "code": code, "windowsVirtualKeyCode": vk})  # fmt: skip
    await cdp.detach()


async def issue(cc: ClinicClient, count: int) -> None:
    for _ in range(count):
        response = await cc.http.post(
            cc.api + "/tickets", json={"service": "therapy"}, headers=cc.auth("kiosk")
        )
        assert response.status_code == 201, response.text


async def on_duty(cc: ClinicClient, doctor: str = "d0") -> None:
    response = await cc.http.put(
        cc.api + f"/doctors/{doctor}/duty", json={"status": "on_duty"}, headers=cc.auth("head")
    )
    assert response.status_code == 200, response.text


async def ticket_state(cc: ClinicClient, number: str) -> str:
    board = await cc.http.get(cc.api + "/board", headers=cc.auth("display"))
    doctor = next(d for d in board.json()["doctors"] if d["id"] == "d0")
    return str(doctor["current_state"]) if doctor["current"] == number else "none"


async def panel_page(browser: Any, engine: EngineServer, push: PushServer, cc: ClinicClient) -> Any:
    from playwright.async_api import expect

    page = await open_page(browser, engine, push, f"/panel/{cc.clinic}/d0", cc.tokens["doctor"])
    await expect(page.locator("#conn")).to_have_attribute("data-state", "online", timeout=WAIT_MS)
    return page


async def test_shortcuts_work_in_the_russian_layout_and_complete_takes_two_presses(
    clinics: MakeClinic, engine_server: EngineServer, push_server: PushServer, browser: Any
) -> None:
    """N, S, C pressed with the Russian layout on (т, ы, с) call, start and complete; one C
    only asks, the second within 5 s completes."""
    from playwright.async_api import expect

    cc = await clinics("keysru")
    await on_duty(cc)
    await issue(cc, 2)
    page = await panel_page(browser, engine_server, push_server, cc)
    await expect(page.locator("#call-next")).to_be_enabled(timeout=WAIT_MS)
    await press_russian(page, "KeyN")
    await expect(page.locator("#current")).to_have_text("Т-001", timeout=WAIT_MS)
    await press_russian(page, "KeyS")
    await expect(page.locator("#complete")).to_be_enabled(timeout=WAIT_MS)
    await expect(page.locator("#message")).to_have_text("Т-001: на приёме", timeout=WAIT_MS)
    await press_russian(page, "KeyC")
    await expect(page.locator("#message")).to_contain_text("C ещё раз")
    await expect(page.locator("#complete")).to_have_class(re.compile(r"\barmed\b"))
    assert await ticket_state(cc, "Т-001") == "serving"
    await press_russian(page, "KeyC")
    await expect(page.locator("#current")).to_have_text("нет пациента", timeout=WAIT_MS)
    assert await ticket_state(cc, "Т-001") == "none"
    # A click on the button is deliberate: one is enough.
    await press_russian(page, "KeyN")
    await expect(page.locator("#start")).to_be_enabled(timeout=WAIT_MS)
    await press_russian(page, "KeyS")
    await expect(page.locator("#complete")).to_be_enabled(timeout=WAIT_MS)
    await page.click("#complete")
    await expect(page.locator("#current")).to_have_text("нет пациента", timeout=WAIT_MS)
    assert page.errors == []
    await page.close()


async def test_shortcuts_can_be_turned_off_and_stay_off(
    clinics: MakeClinic, engine_server: EngineServer, push_server: PushServer, browser: Any
) -> None:
    from playwright.async_api import expect

    cc = await clinics("keysoff")
    await on_duty(cc)
    await issue(cc, 1)
    page = await panel_page(browser, engine_server, push_server, cc)
    await expect(page.locator("#call-next")).to_be_enabled(timeout=WAIT_MS)
    await page.uncheck("#shortcuts")
    await expect(page.locator("#keys")).to_contain_text("выключены")
    await expect(page.locator("#call-next kbd")).to_be_hidden()
    await page.locator("#call-next").focus()
    await page.locator("#call-next").blur()
    await page.keyboard.press("n")
    await page.wait_for_timeout(500)
    await expect(page.locator("#current")).to_have_text("нет пациента")
    await page.reload()
    await expect(page.locator("#conn")).to_have_attribute("data-state", "online", timeout=WAIT_MS)
    await expect(page.locator("#shortcuts")).not_to_be_checked()
    await page.keyboard.press("n")
    await page.wait_for_timeout(500)
    await expect(page.locator("#current")).to_have_text("нет пациента")
    await page.check("#shortcuts")
    await page.keyboard.press("n")
    await expect(page.locator("#current")).to_have_text("Т-001", timeout=WAIT_MS)
    assert page.errors == []
    await page.close()


async def test_the_panel_keeps_the_focus_on_a_useful_control(
    clinics: MakeClinic, engine_server: EngineServer, push_server: PushServer, browser: Any
) -> None:
    """Enter on "Начать приём" disables it: the focus moves to "Завершить", not to <body>;
    suspending moves it to "Вызвать следующего"; resuming by the patient's own button (named with
    their number) to "Завершить"; a live update elsewhere leaves it where it is."""
    from playwright.async_api import expect

    cc = await clinics("keysfocus")
    await on_duty(cc)
    await issue(cc, 2)
    page = await panel_page(browser, engine_server, push_server, cc)
    await expect(page.locator("#call-next")).to_be_enabled(timeout=WAIT_MS)
    await page.locator("#call-next").focus()
    await page.keyboard.press("Enter")
    await expect(page.locator("#current")).to_have_text("Т-001", timeout=WAIT_MS)
    await expect(page.locator("#start")).to_be_focused(timeout=WAIT_MS)
    await page.keyboard.press("Enter")
    await expect(page.locator("#complete")).to_be_focused(timeout=WAIT_MS)
    # The ring is the accent colour and thick.
    ring = await page.locator("#complete").evaluate(
        "(n) => { const s = getComputedStyle(n); return [s.outlineStyle, s.outlineWidth]; }"
    )
    assert ring == ["solid", "4px"], ring
    await page.locator("#suspend").focus()
    await page.keyboard.press("Enter")
    await expect(page.locator("#suspended li")).to_have_count(1, timeout=WAIT_MS)
    await expect(page.locator("#call-next")).to_be_focused(timeout=WAIT_MS)
    resume = page.locator("#suspended li button")
    await expect(resume).to_have_text("Продолжить Т-001 1")
    await resume.focus()
    await page.keyboard.press("Enter")
    await expect(page.locator("#current")).to_have_text("Т-001", timeout=WAIT_MS)
    await expect(page.locator("#complete")).to_be_focused(timeout=WAIT_MS)  # back in service
    # A live update that changes nothing of this doctor's leaves the focus where it is.
    await page.locator("#suspend").focus()
    await issue(cc, 1)
    await expect(page.locator("#queue .waiting")).to_have_text("2", timeout=WAIT_MS)
    await expect(page.locator("#suspend")).to_be_focused()
    assert await page.evaluate("document.activeElement !== document.body")
    assert page.errors == []
    await page.close()


async def test_the_dashboard_keeps_the_focus_across_live_updates(
    clinics: MakeClinic, engine_server: EngineServer, push_server: PushServer, browser: Any
) -> None:
    """A head's focus on a row's "Изменить" and on a control in its editor stays there while the
    board changes under it (a colleague's duty change, a new ticket)."""
    from playwright.async_api import expect

    cc = await clinics("dashfocus")
    page = await open_page(
        browser, engine_server, push_server, f"/dashboard/{cc.clinic}", cc.tokens["head"]
    )
    row = page.locator("tr[data-doctor=d1]")
    await expect(row).to_have_attribute("data-status", "off", timeout=WAIT_MS)
    await row.locator("button.edit").focus()
    await page.keyboard.press("Enter")
    editor = page.locator("tr.editor[data-editor-for=d1]")
    await expect(editor).to_be_visible()
    await editor.locator("button.on-duty").focus()
    await on_duty(cc, "d1")
    await issue(cc, 2)
    await expect(row).to_have_attribute("data-status", "on_duty", timeout=WAIT_MS)
    await expect(page.locator("[data-queue=therapy] .waiting")).to_have_text("2", timeout=WAIT_MS)
    await page.wait_for_timeout(2500)  # past the once-a-second re-render the issue saw
    # "Начать смену" is hidden once on duty: the focus was on it, and must not be lost.
    assert await page.evaluate("document.activeElement !== document.body")
    await on_duty(cc, "d2")
    await page.locator("tr[data-doctor=d2] button.edit").focus()
    await issue(cc, 1)
    await expect(page.locator("[data-queue=therapy] .waiting")).to_have_text("3", timeout=WAIT_MS)
    await page.wait_for_timeout(2500)
    await expect(page.locator("tr[data-doctor=d2] button.edit")).to_be_focused()
    assert page.errors == []
    await page.close()
