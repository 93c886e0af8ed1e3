"""The waiting-room screen read across a hall (issue 16): the number, the cabinet and the wait at
the cap height the stated distance asks; sound that does not work is shown; each call is said
twice, the clinic's names by a voice of their language; a queue's level in a word as well as a
colour; the new call's flash keeps the number's contrast and stays still with reduced motion."""

from __future__ import annotations

import math
from typing import Any

from tests.displays.browsing import BROWSER, WAIT_MS
from tests.displays.support import PushServer
from tests.support import ClinicClient, EngineServer, MakeClinic

pytestmark = BROWSER

# A 55" 1080p panel: millimetres a CSS pixel.
MM_PER_PX = 55 * 25.4 / math.hypot(1920, 1080)
CAP_MM_AT_6_M = 66  # ADA 703.5.5 for about 6 m

# For each element the selector finds now (the screen re-renders every second, so it is found and
# measured in one go): its text, the rendered height of a capital in its own font (CSS px), and
# its right and bottom edges.
CAPS = """(selector) => [...document.querySelectorAll(selector)].map((n) => {
    const s = getComputedStyle(n);
    const ctx = document.createElement("canvas").getContext("2d");
    ctx.font = s.fontWeight + " " + s.fontSize + " " + s.fontFamily;
    const r = n.getBoundingClientRect();
    return [n.textContent, ctx.measureText("Н").actualBoundingBoxAscent, r.right, r.bottom];
})"""


async def caps_mm(page: Any, selector: str) -> list[tuple[str, float]]:
    """The capitals' height in millimetres on the panel; each element wholly on the screen."""
    found = await page.evaluate(CAPS, selector)
    assert found, selector
    for text, _, right, bottom in found:
        assert right <= 1920 and bottom <= 1080, (text, right, bottom)
    return [(text, cap * MM_PER_PX) for text, cap, _, _ in found]


# Speech recorded, each utterance "spoken" at once; FAIL_SPEECH makes each one fail instead.
SPEECH = """window.SAID = [];
Object.defineProperty(window, "speechSynthesis", { value: {
    getVoices: () => [],
    speak: (u) => {
        window.SAID.push([u.text, u.lang]);
        setTimeout(() => window.FAIL_SPEECH ? u.onerror({ error: "synthesis-failed" }) : u.onend({}), 10);
    },
}});"""
MUTED = """const Real = AudioContext;
window.AudioContext = class extends Real { constructor() { super(); this.suspend(); } };"""


async def post(cc: ClinicClient, path: str, body: Any = None, role: str = "head") -> Any:
    response = await cc.http.post(cc.api + path, json=body, headers=cc.auth(role))
    assert response.status_code in (200, 201), response.text
    return response.json()


async def busy_screen(cc: ClinicClient) -> None:
    """d0 on duty calls one of three therapy patients; surgery has two and nobody (red)."""
    duty = await cc.http.put(
        cc.api + "/doctors/d0/duty", json={"status": "on_duty"}, headers=cc.auth("head")
    )
    assert duty.status_code == 200, duty.text
    for service in ("therapy", "therapy", "therapy", "surgery", "surgery"):
        await post(cc, "/tickets", {"service": service}, "kiosk")


async def screen_page(
    browser: Any, engine: EngineServer, push: PushServer, cc: ClinicClient, query: str = "",
    init: str = "",
) -> Any:  # fmt: skip
    from playwright.async_api import expect

    page = await browser.new_page(viewport={"width": 1920, "height": 1080})
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.errors = errors
    if init:
        await page.add_init_script(init)
    url = f"{engine.url}/screen/{cc.clinic}?push={push.ws}&token={cc.tokens['display']}{query}"
    await page.goto(url)
    await expect(page.locator("#conn")).to_have_attribute("data-state", "online", timeout=WAIT_MS)
    return page


async def test_the_number_cabinet_and_wait_read_from_6_m(
    clinics: MakeClinic, engine_server: EngineServer, push_server: PushServer, browser: Any
) -> None:
    from playwright.async_api import expect

    cc = await clinics("capheight")
    await busy_screen(cc)
    page = await screen_page(browser, engine_server, push_server, cc)
    await post(cc, "/cabinets/c0/call-next")
    hero = page.locator("#hero .call").first
    await expect(hero).to_contain_text("Т-001", timeout=WAIT_MS)
    minutes = page.locator("[data-queue=therapy] .eta .minutes")
    await expect(minutes).to_be_visible(timeout=WAIT_MS)
    for part in ("#hero .call .number", "#hero .call .cab", "[data-queue=therapy] .eta .minutes"):
        for text, cap in await caps_mm(page, part):
            assert cap >= CAP_MM_AT_6_M, (text, round(cap, 1))
    assert await page.evaluate("document.body.dataset.distance") == "6"
    # Three calls at once: those that fit at that size are held large, the rest are listed.
    for cabinet in ("c1", "c2"):
        duty = await cc.http.put(
            cc.api + f"/doctors/d{cabinet[1]}/duty",
            json={"status": "on_duty"},
            headers=cc.auth("head"),
        )
        assert duty.status_code == 200, duty.text
        await post(cc, f"/cabinets/{cabinet}/call-next")
    await expect(page.locator("#hero .call").first).to_contain_text("Т-003", timeout=WAIT_MS)
    for text, cap in await caps_mm(page, "#hero .call .number, #hero .call .cab"):
        assert cap >= CAP_MM_AT_6_M, (text, round(cap, 1))
    # A nearer screen (?distance=3) is laid out smaller.
    near = await screen_page(browser, engine_server, push_server, cc, "&distance=3")
    await expect(near.locator("#hero .call .cab").first).to_be_visible(timeout=WAIT_MS)
    for text, cap in await caps_mm(near, "#hero .call .cab"):
        assert 33 <= cap < CAP_MM_AT_6_M, (text, round(cap, 1))
    assert page.errors == [] and near.errors == []
    await page.close()
    await near.close()


async def test_sound_that_does_not_work_is_shown(
    clinics: MakeClinic, engine_server: EngineServer, push_server: PushServer, browser: Any
) -> None:
    from playwright.async_api import expect

    cc = await clinics("soundoff")
    working = await screen_page(browser, engine_server, push_server, cc)
    await expect(working.locator("#sound")).to_be_hidden()
    await working.close()

    muted = await screen_page(browser, engine_server, push_server, cc, init=MUTED + SPEECH)
    sound = muted.locator("#sound")
    await expect(sound).to_be_visible(timeout=WAIT_MS)
    await expect(sound).to_have_text("Звук выключен: нажмите, чтобы включить")
    await sound.click()
    await expect(sound).to_be_hidden(timeout=WAIT_MS)
    # Speech fails: the screen says there is no voice.
    await muted.evaluate("window.FAIL_SPEECH = true")
    await busy_screen(cc)
    await post(cc, "/cabinets/c0/call-next")
    await expect(sound).to_be_visible(timeout=WAIT_MS)
    await expect(sound).to_have_attribute("data-state", "no-voice")
    assert muted.errors == []
    await muted.close()


async def test_each_call_is_said_twice_names_in_their_own_voice(
    clinics: MakeClinic, engine_server: EngineServer, push_server: PushServer, browser: Any
) -> None:
    from playwright.async_api import expect

    cc = await clinics("voices")
    page = await screen_page(browser, engine_server, push_server, cc, "&lang=en", init=SPEECH)
    await busy_screen(cc)
    await post(cc, "/cabinets/c0/call-next")
    await page.wait_for_function("window.SAID.length === 6", timeout=WAIT_MS)
    said = await page.evaluate("window.SAID")
    await expect(page.locator("#hero .call .cab").first).to_have_attribute("lang", "ru")
    await expect(page.locator("[data-queue=therapy] .name")).to_have_attribute("lang", "ru")
    once = [["Ticket Т 0 0 1. Please go to ", "en-GB"], ["Кабинет 0", "ru"], [".", "en-GB"]]
    assert said == once + once
    assert page.errors == []
    await page.close()
    # ?repeat=1 says it once.
    single = await screen_page(browser, engine_server, push_server, cc, "&repeat=1", init=SPEECH)
    duty = await cc.http.put(
        cc.api + "/doctors/d1/duty", json={"status": "on_duty"}, headers=cc.auth("head")
    )
    assert duty.status_code == 200, duty.text
    await post(cc, "/cabinets/c1/call-next")
    await single.wait_for_function("window.SAID.length >= 1", timeout=WAIT_MS)
    await single.wait_for_timeout(3000)
    assert [text for text, _ in await single.evaluate("window.SAID")] == [
        "Талон Т-002. Пройдите в ", "Кабинет 1", "."
    ]  # fmt: skip
    await single.close()


async def test_levels_in_words_and_a_flash_that_keeps_contrast(
    clinics: MakeClinic, engine_server: EngineServer, push_server: PushServer, browser: Any
) -> None:
    from playwright.async_api import expect

    cc = await clinics("screenlevel")
    await busy_screen(cc)
    page = await screen_page(browser, engine_server, push_server, cc)
    await expect(page.locator("[data-queue=surgery] .level")).to_have_text(
        "■ нет врача", timeout=WAIT_MS
    )
    await post(cc, "/cabinets/c0/call-next")
    number = page.locator("#hero .call.new .number")
    await expect(number).to_be_visible(timeout=WAIT_MS)
    style = "(p) => [...document.querySelectorAll('#hero .call.new')].map((n) => getComputedStyle(n)[p])"
    for _ in range(6):  # through the flash: the number is never dimmed
        assert set(await page.evaluate(style, "opacity")) == {"1"}
        await page.wait_for_timeout(150)
    await page.emulate_media(reduced_motion="reduce")
    assert set(await page.evaluate(style, "animationName")) == {"none"}
    assert page.errors == []
    await page.close()
