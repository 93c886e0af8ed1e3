"""The doctor's panel in headless Chromium: dead without its push server, refused at once with
another doctor's token, whole on a 1366x768 laptop, and its primary button follows the patient."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from tests.displays.browsing import BROWSER, WAIT_MS, open_page
from tests.displays.support import PushServer
from tests.support import ClinicClient, EngineServer, MakeClinic

pytestmark = pytest.mark.integration
DEAD = "#cq-dead"
LAPTOP = {"width": 1366, "height": 768}
PRIMARY = re.compile(r"\bprimary\b")


def in_browser(test: Callable[..., Any]) -> Callable[..., Any]:
    for mark in BROWSER:
        test = mark(test)
    return test


async def _issue(cc: ClinicClient, count: int) -> None:
    for _ in range(count):
        response = await cc.http.post(
            cc.api + "/tickets", json={"service": "therapy"}, headers=cc.auth("kiosk")
        )
        assert response.status_code == 201, response.text


async def _covered(page: Any, selector: str) -> bool:
    """Whether what the page shows at the middle of ``selector`` is the dead-state cover."""
    found: bool = await page.evaluate(
        """(selector) => {
            const r = document.querySelector(selector).getBoundingClientRect();
            const top = document.elementFromPoint(r.x + r.width / 2, r.y + r.height / 2);
            return Boolean(top && top.closest("#cq-dead"));
        }""",
        selector,
    )
    return found


async def _outside(page: Any) -> list[str]:
    """What the doctor cannot see without scrolling: controls, feedback, lists, beyond the
    viewport or the page taller or wider than it."""
    found: list[str] = await page.evaluate(
        """() => {
            const out = [];
            const doc = document.documentElement;
            if (doc.scrollHeight > innerHeight) out.push("page height " + doc.scrollHeight);
            if (doc.scrollWidth > innerWidth) out.push("page width " + doc.scrollWidth);
            const shown = "button, select, #current, #current-state, #message, #suspended li, "
              + "#queue li, .keys, #doc-state, #conn";
            for (const node of document.querySelectorAll(shown)) {
              const r = node.getBoundingClientRect();
              if (r.bottom > innerHeight || r.right > innerWidth) out.push(node.id || node.outerHTML.slice(0, 60));
            }
            return out;
        }"""
    )
    return found


async def _record_requests(page: Any) -> None:
    """From now on, ``window.SENT`` lists every API call the page starts (a click starts its
    call before the handler returns, so a key press's call is listed when the press is done)."""
    await page.evaluate(
        """() => {
            window.SENT = [];
            const fetch = window.fetch;
            window.fetch = (...args) => { window.SENT.push(String(args[0])); return fetch(...args); };
        }"""
    )


async def _primary(page: Any, button: str) -> None:
    """``button`` is the one primary action on the panel."""
    from playwright.async_api import expect

    await expect(page.locator(button)).to_have_class(PRIMARY, timeout=WAIT_MS)
    await expect(page.locator("button.primary")).to_have_count(1)


async def test_whoami_says_whose_token_it_is_and_nothing_secret(
    clinics: MakeClinic, engine_server: EngineServer
) -> None:
    """GET /whoami: the role, clinic and doctor of the caller's token; 401 without, 403 elsewhere."""
    cc = await clinics("whoami")
    other = await clinics("whoami-other")
    doctor = await cc.http.get(cc.api + "/whoami", headers=cc.auth("doctor_d1"))
    assert doctor.status_code == 200, doctor.text
    assert doctor.json() == {"role": "doctor", "clinic": cc.clinic, "doctor": "d1"}
    head = await cc.http.get(cc.api + "/whoami", headers=cc.auth("head"))
    assert head.json() == {"role": "head", "clinic": cc.clinic, "doctor": None}
    async with httpx.AsyncClient(base_url=engine_server.url) as http:
        anonymous = await http.get(cc.api + "/whoami")
    assert anonymous.status_code == 401
    elsewhere = await cc.http.get(other.api + "/whoami", headers=cc.auth("doctor"))
    assert elsewhere.status_code == 403
    assert elsewhere.json()["error"]["code"]


@in_browser
async def test_without_its_push_server_the_panel_is_covered_and_keys_do_nothing(
    clinics: MakeClinic, engine_server: EngineServer, own_push: PushServer, browser: Any
) -> None:
    """Push server down: panel and dashboard go under the full-size cover; N sends nothing and
    says nothing, and no script error is thrown."""
    from playwright.async_api import expect

    cc = await clinics("panelpushdown")
    own_push.kill()
    try:
        panel = await open_page(
            browser, engine_server, own_push, f"/panel/{cc.clinic}/d0", cc.tokens["doctor"],
            **LAPTOP,
        )  # fmt: skip
        dash = await open_page(
            browser, engine_server, own_push, f"/dashboard/{cc.clinic}", cc.tokens["head"],
            **LAPTOP,
        )  # fmt: skip
        # Before the board, nothing is lit: no button may act on a state the page has not got.
        await expect(panel.locator("#call-next")).to_be_disabled()
        for page, control in ((panel, "#call-next"), (dash, "#conn")):
            dead = page.locator(DEAD)
            await expect(dead).to_be_visible(timeout=WAIT_MS)
            await expect(dead).to_have_attribute("data-reason", "unreachable")
            await expect(dead).to_contain_text("не отвечает")
            assert await _covered(page, control)
        await _record_requests(panel)
        for key in ("n", "N", "1"):
            await panel.keyboard.press(key)
        assert await panel.evaluate("window.SENT") == []
        await expect(panel.locator("#message")).to_have_text("")
        assert panel.errors == []
        assert dash.errors == []
    finally:
        if own_push.process is None or own_push.process.poll() is not None:
            own_push.start()
    await expect(panel.locator("#conn")).to_have_attribute("data-state", "online", timeout=60_000)
    await expect(panel.locator(DEAD)).to_be_hidden()
    await expect(panel.locator("#on-duty")).to_be_enabled()
    for page in (panel, dash):
        await page.close()


@in_browser
async def test_a_panel_opened_with_another_doctors_token_says_so_at_once(
    clinics: MakeClinic, engine_server: EngineServer, own_push: PushServer, browser: Any
) -> None:
    """d0's token on d1's panel: the cover names the token's doctor before any click; a display
    token is refused too; d1's own token and the head's open the panel."""
    from playwright.async_api import expect

    cc = await clinics("otherdoctor")
    path = f"/panel/{cc.clinic}/d1"
    refused = {
        "doctor": ["Чужая ссылка", "другого врача", "Доктор 0"],
        "display": ["Чужая ссылка", "нельзя вести приём"],
    }
    for role, texts in refused.items():
        page = await open_page(browser, engine_server, own_push, path, cc.tokens[role], **LAPTOP)
        dead = page.locator(DEAD)
        await expect(dead).to_be_visible(timeout=WAIT_MS)
        await expect(dead).to_have_attribute("data-reason", "refused")
        for text in texts:
            await expect(dead).to_contain_text(text)
        assert await _covered(page, "#on-duty")
        assert page.errors == []
        await page.close()
    for role in ("doctor_d1", "head"):
        page = await open_page(browser, engine_server, own_push, path, cc.tokens[role], **LAPTOP)
        await expect(page.locator("#conn")).to_have_attribute(
            "data-state", "online", timeout=WAIT_MS
        )
        await expect(page.locator("#on-duty")).to_be_enabled()
        await expect(page.locator(DEAD)).to_have_count(0)
        assert page.errors == []
        await page.close()


@in_browser
async def test_the_panel_is_whole_at_1366x768_with_feedback_in_sight(
    clinics: MakeClinic, engine_server: EngineServer, own_push: PushServer, browser: Any
) -> None:
    """On a laptop screen nothing needs scrolling: "no patient" stays one line, the answer to N
    on an empty queue is in sight, and so is everything with patients suspended."""
    from playwright.async_api import expect

    cc = await clinics("laptop")
    panel = await open_page(
        browser, engine_server, own_push, f"/panel/{cc.clinic}/d0", cc.tokens["doctor"], **LAPTOP
    )
    await expect(panel.locator("#conn")).to_have_attribute("data-state", "online", timeout=WAIT_MS)
    await expect(panel.locator("#current")).to_have_text("нет пациента")
    lines = await panel.locator("#current").evaluate(
        "(n) => n.getBoundingClientRect().height / parseFloat(getComputedStyle(n).lineHeight)"
    )
    assert lines < 1.5, lines
    assert await _outside(panel) == []

    await panel.click("#on-duty")
    await expect(panel.locator("#call-next")).to_be_enabled(timeout=WAIT_MS)
    await panel.keyboard.press("n")
    await expect(panel.locator("#message")).to_have_text("Очередь пуста", timeout=WAIT_MS)
    await expect(panel.locator("#message")).to_be_in_viewport(ratio=1)
    assert await _outside(panel) == []

    await _issue(cc, 4)
    for _ in range(3):  # call, start, suspend: three patients waiting to be resumed
        await panel.keyboard.press("n")
        await expect(panel.locator("#start")).to_be_enabled(timeout=WAIT_MS)
        await panel.keyboard.press("s")
        await expect(panel.locator("#suspend")).to_be_enabled(timeout=WAIT_MS)
        await panel.keyboard.press("p")
        await expect(panel.locator("#call-next")).to_be_enabled(timeout=WAIT_MS)
    await panel.keyboard.press("n")
    await expect(panel.locator("#current")).to_have_text("Т-004", timeout=WAIT_MS)
    await expect(panel.locator("#suspended li")).to_have_count(3)
    await expect(panel.locator("#message")).to_be_in_viewport(ratio=1)
    assert await _outside(panel) == []
    assert panel.errors == []
    await panel.close()


@in_browser
async def test_the_primary_button_follows_the_patient_and_resume_waits(
    clinics: MakeClinic, engine_server: EngineServer, own_push: PushServer, browser: Any
) -> None:
    """Off duty: come on duty; free: call next; called: start; serving: complete. Call next and
    resume are off while a patient is in hand, and the 1 key does nothing then."""
    from playwright.async_api import expect

    cc = await clinics("primary")
    await _issue(cc, 2)
    panel = await open_page(
        browser, engine_server, own_push, f"/panel/{cc.clinic}/d0", cc.tokens["doctor"], **LAPTOP
    )
    await expect(panel.locator("#conn")).to_have_attribute("data-state", "online", timeout=WAIT_MS)
    await _primary(panel, "#on-duty")
    await panel.click("#on-duty")
    await _primary(panel, "#call-next")
    await panel.keyboard.press("n")
    await expect(panel.locator("#current")).to_have_text("Т-001", timeout=WAIT_MS)
    await _primary(panel, "#start")
    await expect(panel.locator("#call-next")).to_be_disabled()
    await panel.keyboard.press("s")
    await _primary(panel, "#complete")
    await panel.keyboard.press("p")
    resume = panel.locator("#suspended li button")
    await expect(resume).to_be_enabled(timeout=WAIT_MS)
    await _primary(panel, "#call-next")

    await panel.keyboard.press("n")
    await expect(panel.locator("#current")).to_have_text("Т-002", timeout=WAIT_MS)
    await expect(resume).to_be_disabled()
    await expect(panel.locator("#call-next")).to_be_disabled()
    await _primary(panel, "#start")
    await _record_requests(panel)
    await panel.keyboard.press("1")  # a resume now would only be refused: it is not sent
    assert await panel.evaluate("window.SENT") == []
    await panel.keyboard.press("s")
    await _primary(panel, "#complete")
    await expect(resume).to_be_disabled()
    await panel.keyboard.press("c")  # by the key alone, completing asks for a second press
    await expect(panel.locator("#complete")).to_have_class(re.compile(r"\barmed\b"))
    await panel.keyboard.press("c")
    await _primary(panel, "#call-next")
    await expect(resume).to_be_enabled()
    assert panel.errors == []
    await panel.close()


@in_browser
async def test_a_no_show_takes_a_second_press_and_answers_say_what_happened(
    clinics: MakeClinic, engine_server: EngineServer, own_push: PushServer, browser: Any
) -> None:
    """N then X a second later does not cost the patient their place: X asks again, and only a
    second X marks the no-show. The header says a patient is called, not seen; each answer says
    its result ("Т-001: вызван"), not the button's name."""
    from playwright.async_api import expect

    cc = await clinics("noshow")
    await _issue(cc, 2)
    panel = await open_page(
        browser, engine_server, own_push, f"/panel/{cc.clinic}/d0", cc.tokens["doctor"], **LAPTOP
    )
    await expect(panel.locator("#conn")).to_have_attribute("data-state", "online", timeout=WAIT_MS)
    await panel.click("#on-duty")
    await _primary(panel, "#call-next")
    await panel.keyboard.press("n")
    await expect(panel.locator("#current")).to_have_text("Т-001", timeout=WAIT_MS)
    await expect(panel.locator("#message")).to_have_text("Т-001: вызван")
    await expect(panel.locator("#doc-state")).to_contain_text("пригласил пациента")

    await _record_requests(panel)
    await panel.keyboard.press("x")
    assert await panel.evaluate("window.SENT") == []  # asked, not sent
    await expect(panel.locator("#no-show")).to_contain_text("Точно не явился?")
    await expect(panel.locator("#message")).to_contain_text("Отметить Т-001 неявившимся?")
    await expect(panel.locator("#current")).to_have_text("Т-001")
    await panel.keyboard.press("x")
    await expect(panel.locator("#message")).to_have_text(
        "Т-001: отмечен неявившимся", timeout=WAIT_MS
    )
    await expect(panel.locator("#current")).to_have_attribute("data-ticket", "")

    # Asked and left alone, the question lapses: the next X asks again.
    await panel.keyboard.press("n")
    await expect(panel.locator("#current")).to_have_text("Т-002", timeout=WAIT_MS)
    await panel.keyboard.press("x")
    await expect(panel.locator("#no-show")).to_contain_text("Точно не явился?")
    await expect(panel.locator("#no-show")).to_contain_text("Не явился", timeout=WAIT_MS)
    await expect(panel.locator("#no-show")).not_to_contain_text("Точно")
    await _record_requests(panel)
    await panel.keyboard.press("x")
    assert await panel.evaluate("window.SENT") == []
    assert panel.errors == []
    await panel.close()
