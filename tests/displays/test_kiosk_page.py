"""The kiosk and the patient's status page, as a patient uses them: one visit is one ticket, a
booked patient learns their time and cabinet, a call is said once, tiles line up, no emoji."""

from __future__ import annotations

import time
from datetime import datetime
from typing import Any

from tests.displays.browsing import BROWSER, WAIT_MS, board, open_page
from tests.displays.support import PushServer
from tests.support import ClinicClient, EngineServer, MakeClinic, midday_zone

pytestmark = BROWSER

PATIENT = "полис 7700 123456"
# Any emoji: it needs a colour-emoji font the kiosk may not have, and shows as a box without one.
EMOJI = r"/\p{Extended_Pictographic}/u"


async def waiting(cc: ClinicClient, service: str = "therapy") -> int:
    queues = {q["service"]: q["waiting"] for q in (await board(cc))["queues"]}
    return int(queues[service])


async def kiosk_page(browser: Any, engine: EngineServer, push: PushServer, cc: ClinicClient) -> Any:
    from playwright.async_api import expect

    page = await open_page(
        browser, engine, push, f"/kiosk/{cc.clinic}", cc.tokens["kiosk"], width=1280, height=1024
    )
    await expect(page.locator("#conn")).to_have_attribute("data-state", "online", timeout=WAIT_MS)
    return page


def ticket_posts(page: Any) -> list[Any]:
    """The page's POSTs to take a ticket, as they are sent."""
    sent: list[Any] = []
    page.on(
        "request",
        lambda r: sent.append(r) if r.method == "POST" and r.url.endswith("/tickets") else None,
    )
    return sent


async def test_a_double_tap_gives_one_ticket(
    clinics: MakeClinic, engine_server: EngineServer, push_server: PushServer, browser: Any
) -> None:
    """A double click on "Терапевт" issues Т-001 and nothing else: taps in flight are ignored."""
    from playwright.async_api import expect

    cc = await clinics("kioskdouble")
    page = await kiosk_page(browser, engine_server, push_server, cc)
    sent = ticket_posts(page)
    await page.dblclick("button[data-service=therapy]")
    await expect(page.locator("#ticket-number")).to_have_text("Т-001", timeout=WAIT_MS)
    for request in sent:
        await request.response()  # every request the page sent has been answered
    assert await waiting(cc) == 1
    assert len(sent) == 1
    assert page.errors == []
    await page.close()


async def test_a_tap_again_after_a_lost_answer_gets_the_same_ticket(
    clinics: MakeClinic, engine_server: EngineServer, push_server: PushServer, browser: Any
) -> None:
    """The first answer is lost on the way back (the ticket was issued): the page says to tap
    again, and the second tap, with the same Idempotency-Key, shows that same ticket."""
    from playwright.async_api import expect

    cc = await clinics("kioskretry")
    page = await kiosk_page(browser, engine_server, push_server, cc)
    keys: list[str] = []

    async def lose_the_first_answer(route: Any) -> None:
        keys.append(await route.request.header_value("idempotency-key"))
        if len(keys) == 1:
            answered = await route.fetch()  # the server issues the ticket...
            assert answered.status == 201
            await route.abort("connectionreset")  # ...and the kiosk never hears of it
        else:
            await route.continue_()

    await page.route("**/api/v1/clinics/*/tickets", lose_the_first_answer)
    await page.click("button[data-service=therapy]")
    await expect(page.locator("#message")).to_contain_text("Нажмите ещё раз", timeout=WAIT_MS)
    await expect(page.locator("#choose")).to_be_visible()
    await page.click("button[data-service=therapy]")
    await expect(page.locator("#ticket-number")).to_have_text("Т-001", timeout=WAIT_MS)
    assert len(keys) == 2 and keys[0] == keys[1]
    assert await waiting(cc) == 1

    # The visit ended with its ticket: the next patient's tap is a new ticket.
    await page.click("#ticket button.back")
    await page.click("button[data-service=therapy]")
    await expect(page.locator("#ticket-number")).to_have_text("Т-002", timeout=WAIT_MS)
    assert len(set(keys)) == 2
    assert page.errors == []
    await page.close()


async def test_kiosk_tiles_line_up_and_draw_their_icons(
    clinics: MakeClinic, engine_server: EngineServer, push_server: PushServer, browser: Any
) -> None:
    """Every tile's name starts at the same height in its tile; the booking tile's calendar is
    drawn (SVG), and the page has no emoji."""
    cc = await clinics("kiosktiles")
    page = await kiosk_page(browser, engine_server, push_server, cc)
    names = await page.evaluate(
        """() => {
          const names = ["Терапевт", "Хирург", "У меня запись"];
          return [...document.querySelectorAll("button.service")].map((tile) => {
            const walk = document.createTreeWalker(tile, NodeFilter.SHOW_TEXT);
            let node;
            while ((node = walk.nextNode())) {
              const name = names.find((n) => node.textContent.includes(n));
              if (!name) continue;
              const range = document.createRange();
              range.selectNodeContents(node);
              const at = range.getClientRects()[0];
              return [name, Math.round(at.top - tile.getBoundingClientRect().top)];
            }
            return [tile.textContent, null];
          });
        }"""
    )
    assert [name for name, _ in names] == ["Терапевт", "Хирург", "У меня запись"]
    offsets = {offset for _, offset in names}
    assert len(offsets) == 1, names
    assert await page.locator("#booking-open svg").count() == 1
    assert not await page.evaluate(f"{EMOJI}.test(document.querySelector('main').innerText)")
    assert page.errors == []
    await page.close()


async def test_the_status_page_says_the_call_once(
    clinics: MakeClinic, engine_server: EngineServer, push_server: PushServer, browser: Any
) -> None:
    """Called to a cabinet: the phone says "Вас вызывают в Кабинет 0" once, in the large box."""
    from playwright.async_api import expect

    cc = await clinics("statuscall")
    taken = await cc.http.post(
        cc.api + "/tickets", json={"service": "therapy"}, headers=cc.auth("kiosk")
    )
    assert taken.status_code == 201, taken.text
    page = await open_page(
        browser, engine_server, push_server, taken.json()["status_url"], width=390, height=844
    )
    await expect(page.locator("#conn")).to_have_attribute("data-state", "online", timeout=WAIT_MS)
    await expect(page.locator("#ahead")).to_have_text("Перед вами никого нет")
    duty = await cc.http.put(
        cc.api + "/doctors/d0/duty", json={"status": "on_duty"}, headers=cc.auth("head")
    )
    assert duty.status_code == 200, duty.text
    called = await cc.http.post(cc.api + "/cabinets/c0/call-next", headers=cc.auth("head"))
    assert called.status_code == 200, called.text
    await expect(page.locator("#called")).to_have_text("Вас вызывают в Кабинет 0", timeout=WAIT_MS)
    text = await page.locator("main").inner_text()
    assert text.count("Вас вызывают") == 1, text
    assert not await page.evaluate(f"{EMOJI}.test(document.body.innerText)")
    assert page.errors == []
    await page.close()


async def test_a_booked_patient_sees_time_doctor_and_cabinet_at_the_kiosk_and_on_the_phone(
    clinics: MakeClinic, engine_server: EngineServer, push_server: PushServer, browser: Any
) -> None:
    """Checked in at the kiosk for a slot later today: the ticket screen and the status page
    say "Приём в HH:MM", the doctor and the cabinet, and count the minutes to the slot; neither
    says "nobody ahead"; the phone page fits 390 px without scrolling sideways."""
    from playwright.async_api import expect

    cc = await clinics("kioskbooked", timezone=midday_zone())
    listed = await cc.http.get(f"{cc.api}/slots?free=true", headers=cc.auth("head"))
    soon = time.time() + 30 * 60
    slot = next(
        s for s in listed.json()["slots"] if datetime.fromisoformat(s["start"]).timestamp() > soon
    )
    made = await cc.http.post(
        f"{cc.api}/slots/{slot['id']}/reservation",
        json={"patient": PATIENT, "confirm": True},
        headers=cc.auth("registrar"),
    )
    assert made.status_code == 201, made.text
    at = "Приём в " + slot["start"][11:16]

    kiosk = await kiosk_page(browser, engine_server, push_server, cc)
    await kiosk.click("#booking-open")
    await kiosk.fill("#booking-code", made.json()["id"])
    await kiosk.fill("#booking-patient", PATIENT)
    await kiosk.click("#booking-form button[type=submit]")
    appointment = kiosk.locator("#ticket-appointment")
    await expect(appointment).to_be_visible(timeout=WAIT_MS)
    await expect(kiosk.locator("#ticket-time")).to_have_text(at)
    await expect(kiosk.locator("#ticket-doctor")).to_have_text("Врач: Доктор 0")
    await expect(kiosk.locator("#ticket-cabinet")).to_have_text("Кабинет 0")
    await expect(kiosk.locator("#ticket-wait")).to_contain_text("До приёма ≈")
    await expect(kiosk.locator("#ticket")).not_to_contain_text("никого")
    await expect(kiosk.locator("#message")).to_have_text("Вы отмечены. Ожидайте вызова.")
    await expect(kiosk.locator("#message")).to_be_in_viewport()
    link = await kiosk.locator("#ticket-qr").get_attribute("data-link")
    assert link
    await kiosk.click("#ticket button.back")  # the next patient reads nothing of this one
    await expect(kiosk.locator("#message")).to_be_empty()

    phone = await browser.new_page(viewport={"width": 390, "height": 844})
    await phone.goto(link)
    await expect(phone.locator("#appointment-time")).to_have_text(at, timeout=WAIT_MS)
    await expect(phone.locator("#appointment-doctor")).to_have_text("Врач: Доктор 0")
    await expect(phone.locator("#appointment-cabinet")).to_have_text("Кабинет 0")
    await expect(phone.locator("#wait")).to_contain_text("До приёма ≈")
    await expect(phone.locator("main")).not_to_contain_text("никого")
    assert await phone.evaluate("document.documentElement.scrollWidth") <= 390
    assert kiosk.errors == []
    for page in (kiosk, phone):
        await page.close()
