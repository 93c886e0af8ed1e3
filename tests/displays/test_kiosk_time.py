"""The kiosk's booking form and a slow typist (issue 16): every key restarts the wait, a form
left alone asks "Ещё нужно время?" before it goes, and back at the start nothing of the last
patient is left in the page (the fields, the ticket's number and QR code)."""

from __future__ import annotations

from typing import Any

from tests.displays.browsing import BROWSER, WAIT_MS
from tests.displays.support import PushServer
from tests.support import ClinicClient, EngineServer, MakeClinic

pytestmark = BROWSER


async def kiosk(browser: Any, engine: EngineServer, push: PushServer, cc: ClinicClient) -> Any:
    """The kiosk with the page's clock in the test's hand (it still runs on its own)."""
    from playwright.async_api import expect

    page = await browser.new_page(viewport={"width": 1280, "height": 1024})
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.errors = errors
    await page.clock.install()
    await page.goto(f"{engine.url}/kiosk/{cc.clinic}?push={push.ws}&token={cc.tokens['kiosk']}")
    await expect(page.locator("#conn")).to_have_attribute("data-state", "online", timeout=WAIT_MS)
    return page


async def test_a_slow_typist_keeps_the_form_and_the_next_patient_finds_it_empty(
    clinics: MakeClinic, engine_server: EngineServer, push_server: PushServer, browser: Any
) -> None:
    from playwright.async_api import expect

    cc = await clinics("kioskslow")
    page = await kiosk(browser, engine_server, push_server, cc)
    await page.click("#booking-open")
    form, more = page.locator("#booking"), page.locator("#more-time")
    # One key every 40 s for two minutes: never dropped (the form waits 45 s after the last key).
    for key in "R12":
        await page.locator(f'#keypad .key[data-key="{key}"]').click()
        await page.clock.run_for(40_000)
        await expect(form).to_be_visible()
        await expect(more).to_be_hidden()
    await page.keyboard.type("3")  # a physical keyboard counts as well
    await page.clock.run_for(40_000)
    await expect(more).to_be_hidden()
    await expect(page.locator("#booking-code")).to_have_value("R123")

    # Left alone: asked first, the form still there; "yes" keeps it.
    await page.clock.run_for(6_000)
    await expect(more).to_be_visible()
    await expect(more).to_contain_text("Ещё нужно время?")
    await expect(page.locator("#more-time-yes")).to_be_focused()
    await expect(form).to_be_visible()
    await page.click("#more-time-yes")
    await expect(more).to_be_hidden()
    await expect(page.locator("#booking-code")).to_have_value("R123")

    # Not answered: back to the start, and the form is empty in the page, not only out of view.
    await page.click("#booking-patient")
    await page.keyboard.type("7700")
    await page.clock.run_for(46_000)
    await expect(more).to_be_visible()
    await page.clock.run_for(21_000)
    await expect(page.locator("#choose")).to_be_visible()
    await expect(form).to_be_hidden()
    for field in ("#booking-code", "#booking-patient"):
        await expect(page.locator(field)).to_have_value("")
    assert page.errors == []
    await page.close()


async def test_a_ticket_left_on_the_kiosk_leaves_the_page(
    clinics: MakeClinic, engine_server: EngineServer, push_server: PushServer, browser: Any
) -> None:
    from playwright.async_api import expect

    cc = await clinics("kioskforget")
    duty = await cc.http.put(
        cc.api + "/doctors/d0/duty", json={"status": "on_duty"}, headers=cc.auth("head")
    )
    assert duty.status_code == 200, duty.text
    page = await kiosk(browser, engine_server, push_server, cc)
    await page.click("button[data-service=therapy]")
    await expect(page.locator("#ticket-number")).to_have_text("Т-001", timeout=WAIT_MS)
    await expect(page.locator("#ticket-qr")).to_have_attribute("alt", "QR-код: ссылка на ваш талон")
    await page.clock.run_for(46_000)  # no question on the ticket screen: the patient has it
    await expect(page.locator("#choose")).to_be_visible()
    await expect(page.locator("#more-time")).to_be_hidden()
    for part in ("#ticket-number", "#ticket-service", "#ticket-ahead", "#ticket-wait"):
        await expect(page.locator(part)).to_have_text("")
    assert await page.locator("#ticket-qr").get_attribute("src") is None
    assert await page.locator("#ticket-qr").get_attribute("data-link") == ""
    assert page.errors == []
    await page.close()
