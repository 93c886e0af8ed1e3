"""The patient's status page on a phone in headless Chromium: the call reaches it with the push
server down (it polls the HTTP API), a recall is said to be one, a no-show says what to do."""

from __future__ import annotations

from typing import Any

from tests.displays.browsing import BROWSER, WAIT_MS
from tests.displays.support import PushServer
from tests.support import ClinicClient, EngineServer, MakeClinic, clinic_config

pytestmark = BROWSER

PHONE = {"width": 390, "height": 844}
# Every call and recall buzzes the phone; the page's script finds this stand-in for the motor.
BUZZER = """Object.defineProperty(navigator, "vibrate", {
    value: (pattern) => { (window.BUZZED = window.BUZZED || []).push(pattern); return true; },
});"""


async def _ticket(cc: ClinicClient) -> dict[str, Any]:
    duty = await cc.http.put(
        cc.api + "/doctors/d0/duty", json={"status": "on_duty"}, headers=cc.auth("head")
    )
    assert duty.status_code == 200, duty.text
    response = await cc.http.post(
        cc.api + "/tickets", json={"service": "therapy"}, headers=cc.auth("kiosk")
    )
    assert response.status_code == 201, response.text
    ticket: dict[str, Any] = response.json()
    assert ticket["status_url"]
    return ticket


async def _act(cc: ClinicClient, path: str) -> None:
    response = await cc.http.post(cc.api + path, headers=cc.auth("head"))
    assert response.status_code == 200, response.text


async def _phone(browser: Any, engine: EngineServer, push: PushServer, url: str) -> Any:
    page = await browser.new_page(viewport=PHONE)
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.errors = errors
    await page.add_init_script(BUZZER)
    await page.goto(f"{engine.url}{url}?push={push.ws}")
    return page


async def test_with_the_push_server_down_the_call_still_reaches_the_phone(
    clinics: MakeClinic, engine_server: EngineServer, own_push: PushServer, browser: Any
) -> None:
    """No push server: the page polls the HTTP API, says it is slower, and shows (and buzzes)
    the call and then the recall."""
    from playwright.async_api import expect

    cc = await clinics("statuspoll")
    ticket = await _ticket(cc)
    own_push.kill()
    try:
        phone = await _phone(browser, engine_server, own_push, ticket["status_url"])
        await expect(phone.locator("#number")).to_have_text(ticket["number"], timeout=WAIT_MS)
        await expect(phone.locator("#slow")).to_be_visible(timeout=WAIT_MS)
        await expect(phone.locator("#slow")).to_contain_text("обновляется")
        await expect(phone.locator("#conn")).not_to_have_attribute("data-state", "online")

        await _act(cc, "/cabinets/c0/call-next")
        called = phone.locator("#called")
        await expect(called).to_be_visible(timeout=WAIT_MS)
        await expect(called).to_contain_text("Вас вызывают в Кабинет 0")
        await phone.wait_for_function("(window.BUZZED || []).length === 1", timeout=WAIT_MS)

        await _act(cc, f"/tickets/{ticket['id']}/recall")
        await expect(called).to_contain_text("Повторный вызов", timeout=WAIT_MS)
        await phone.wait_for_function("window.BUZZED.length === 2", timeout=WAIT_MS)
    finally:
        own_push.start()
    # Back online, the note goes.
    await expect(phone.locator("#conn")).to_have_attribute("data-state", "online", timeout=60_000)
    await expect(phone.locator("#slow")).to_be_hidden(timeout=WAIT_MS)
    assert phone.errors == []
    await phone.close()


async def test_a_recall_and_a_no_show_are_said_on_the_phone(
    clinics: MakeClinic,
    engine_server: EngineServer,
    own_push: PushServer,
    browser: Any,
    admin_token: str,
) -> None:
    """Live: a recall says it is a repeated call; a no-show tells the patient where to go; the
    clinic's "№ 42" stays on one line."""
    from playwright.async_api import expect

    cc = await clinics("statusnoshow")
    config = clinic_config(cc.clinic)
    config["name"] = "Городская поликлиника № 42"
    response = await cc.http.put(
        cc.api, json=config, headers={"Authorization": f"Bearer {admin_token}"}
    )
    assert response.status_code == 200, response.text
    ticket = await _ticket(cc)
    phone = await _phone(browser, engine_server, own_push, ticket["status_url"])
    await expect(phone.locator("#conn")).to_have_attribute("data-state", "online", timeout=WAIT_MS)
    assert await phone.locator("h1").text_content() == "Городская поликлиника №\u00a042"

    await _act(cc, "/cabinets/c0/call-next")
    called = phone.locator("#called")
    await expect(called).to_contain_text("Вас вызывают в Кабинет 0", timeout=WAIT_MS)
    await expect(called).not_to_contain_text("Повторный")
    await _act(cc, f"/tickets/{ticket['id']}/recall")
    await expect(called).to_contain_text("Повторный вызов", timeout=WAIT_MS)
    await phone.wait_for_function("window.BUZZED.length === 2", timeout=WAIT_MS)

    await _act(cc, f"/tickets/{ticket['id']}/no-show")
    await expect(called).to_be_hidden(timeout=WAIT_MS)
    await expect(phone.locator("#state")).to_have_text(
        "Вас вызывали, но вы не подошли. Обратитесь в регистратуру"
    )
    await expect(phone.locator("#slow")).to_be_hidden()
    assert phone.errors == []
    await phone.close()
