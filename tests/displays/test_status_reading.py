"""The patient's status page for every patient (issue 16): whole at 200% text on a 320 px wide
phone, the call said once in a live region that is always there, a chime and a notification
beside the buzz, and the clinic's Russian names marked as Russian on the English page."""

from __future__ import annotations

import re
from typing import Any

from engine.embedded import free_port
from tests.displays.browsing import BROWSER, WAIT_MS
from tests.displays.support import PushServer
from tests.support import ClinicClient, EngineServer, MakeClinic, clinic_config

pytestmark = BROWSER

# A notification permitted, and recorded instead of shown.
NOTIFICATIONS = """window.Notification = class {
    static permission = "granted";
    static requestPermission() { return Promise.resolve("granted"); }
    constructor(title, options) { (window.NOTIFIED = window.NOTIFIED || []).push([title, options.body]); }
};"""

# What sticks out sideways: the page, or any element whose content is wider than its box.
OVERFLOW = """() => {
    const out = [];
    if (document.documentElement.scrollWidth > innerWidth) out.push("page " + document.documentElement.scrollWidth);
    for (const n of document.querySelectorAll("header *, main *")) {
        const r = n.getBoundingClientRect();
        if (r.width && (n.scrollWidth > n.clientWidth + 1 || r.right > innerWidth + 1)) out.push(n.id || n.className || n.tagName);
    }
    return out;
}"""


async def called_ticket(cc: ClinicClient) -> dict[str, Any]:
    duty = await cc.http.put(
        cc.api + "/doctors/d0/duty", json={"status": "on_duty"}, headers=cc.auth("head")
    )
    assert duty.status_code == 200, duty.text
    taken = await cc.http.post(
        cc.api + "/tickets", json={"service": "therapy"}, headers=cc.auth("kiosk")
    )
    assert taken.status_code == 201, taken.text
    ticket: dict[str, Any] = taken.json()
    return ticket


async def phone(browser: Any, url: str, width: int = 390, init: str = "") -> Any:
    page = await browser.new_page(viewport={"width": width, "height": 800})
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.errors = errors
    if init:
        await page.add_init_script(init)
    await page.goto(url)
    return page


async def test_no_sideways_scroll_at_200_percent_text_on_320_px(
    clinics: MakeClinic,
    engine_server: EngineServer,
    push_server: PushServer,
    browser: Any,
    admin_token: str,
) -> None:
    from playwright.async_api import expect

    cc = await clinics("status200")
    config = clinic_config(cc.clinic)
    config["name"] = "Городская поликлиника № 42"
    config["cabinets"][0]["name"] = "Кабинет 101 (терапевтическое отделение)"  # type: ignore[index]
    response = await cc.http.put(
        cc.api, json=config, headers={"Authorization": f"Bearer {admin_token}"}
    )
    assert response.status_code == 200, response.text
    ticket = await called_ticket(cc)
    page = await phone(
        browser, f"{engine_server.url}{ticket['status_url']}?push={push_server.ws}", 320
    )
    await page.add_style_tag(content="html { font-size: 200% !important; }")  # the text doubled
    await expect(page.locator("#number")).to_have_text("Т-001", timeout=WAIT_MS)
    assert await page.evaluate(OVERFLOW) == []
    call = await cc.http.post(cc.api + "/cabinets/c0/call-next", headers=cc.auth("head"))
    assert call.status_code == 200, call.text
    await expect(page.locator("#called")).to_contain_text("Кабинет 101", timeout=WAIT_MS)
    assert await page.evaluate(OVERFLOW) == []
    assert page.errors == []
    await page.close()


async def test_a_call_is_said_once_chimes_and_notifies(
    clinics: MakeClinic, engine_server: EngineServer, push_server: PushServer, browser: Any
) -> None:
    from playwright.async_api import expect

    cc = await clinics("statusalert")
    ticket = await called_ticket(cc)
    url = f"{engine_server.url}{ticket['status_url']}?push={push_server.ws}&lang=en"
    page = await phone(browser, url, init=NOTIFICATIONS)
    await expect(page.locator("#conn")).to_have_attribute("data-state", "online", timeout=WAIT_MS)
    # The page alerts on a change it saw happen: a call before its first state is only shown.
    await expect(page.locator("#number")).to_have_text("Т-001", timeout=WAIT_MS)
    called = page.locator("#called")
    # The live region is in the page before the call, empty, so that its text is announced.
    await expect(called).to_be_attached()
    assert await called.get_attribute("hidden") is None
    await expect(called).to_have_text("")
    # Sound runs (the tests' Chromium may autoplay) and notifications are allowed: no button.
    await expect(page.locator("#alerts")).to_be_hidden()
    # The service's Russian name is marked as Russian on the English page.
    await expect(page.locator("#service")).to_have_attribute("lang", "ru")

    call = await cc.http.post(cc.api + "/cabinets/c0/call-next", headers=cc.auth("head"))
    assert call.status_code == 200, call.text
    await expect(called).to_have_text("You are called to Кабинет 0", timeout=WAIT_MS)
    await expect(called.locator("span[lang=ru]")).to_have_text("Кабинет 0")
    await expect(page.locator("#state")).to_have_text("")  # said once, not twice
    await page.wait_for_function("window.CQ_ALERTS.length === 2", timeout=WAIT_MS)
    assert await page.evaluate("window.CQ_ALERTS") == ["sound", "notification"]
    assert await page.evaluate("window.NOTIFIED") == [
        ["Ticket Т-001", "You are called to Кабинет 0"]
    ]
    assert page.errors == []
    await page.close()


async def test_a_phone_that_cannot_sound_yet_offers_the_button(
    clinics: MakeClinic, engine_server: EngineServer, push_server: PushServer, browser: Any
) -> None:
    """No sound until a tap (every phone's rule): the button is there, and a tap turns it on."""
    from playwright.async_api import expect

    cc = await clinics("statusmute")
    ticket = await called_ticket(cc)
    muted = "const Real = AudioContext; window.AudioContext = class extends Real { constructor() { super(); this.suspend(); } };"
    page = await phone(
        browser, f"{engine_server.url}{ticket['status_url']}?push={push_server.ws}", init=muted
    )
    button = page.locator("#alerts")
    await expect(button).to_be_visible(timeout=WAIT_MS)
    await expect(button).to_have_text("Сигнал о вызове: звук и уведомление")
    await button.click()
    await expect(button).to_be_hidden(timeout=WAIT_MS)
    assert page.errors == []
    await page.close()


async def test_the_connection_state_wraps_at_200_percent_text_on_320_px(
    clinics: MakeClinic, engine_server: EngineServer, browser: Any
) -> None:
    """With the push server out of reach the status line says so in its longest words: at 200%
    text on a 320 px phone it wraps rather than pushing the page sideways."""
    from playwright.async_api import expect

    cc = await clinics("status200conn")
    ticket = await called_ticket(cc)
    unreachable = f"ws://127.0.0.1:{free_port()}"  # nothing listens there
    page = await phone(
        browser, f"{engine_server.url}{ticket['status_url']}?push={unreachable}", 320
    )
    await page.add_style_tag(content="html { font-size: 200% !important; }")
    await expect(page.locator("#number")).to_have_text("Т-001", timeout=WAIT_MS)
    await expect(page.locator("#conn")).to_have_attribute(
        "data-state", re.compile("reconnecting|offline"), timeout=WAIT_MS
    )
    assert await page.evaluate(OVERFLOW) == []
    await page.close()
