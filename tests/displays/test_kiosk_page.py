"""The kiosk and the patient's status page, as a patient uses them: one visit is one ticket, a
booked patient learns their time and cabinet, a call is said once, tiles line up, no emoji."""

from __future__ import annotations

import re
from typing import Any

from tests.displays.browsing import BROWSER, WAIT_MS, board, open_page
from tests.displays.support import PushServer
from tests.support import ClinicClient, EngineServer, MakeClinic, book_later_today, midday_zone

pytestmark = BROWSER

PATIENT = "полис 7700 123456"
# Any emoji: it needs a colour-emoji font the kiosk may not have, and shows as a box without one.
EMOJI = r"/\p{Extended_Pictographic}/u"


async def waiting(cc: ClinicClient, service: str = "therapy") -> int:
    queues = {q["service"]: q["waiting"] for q in (await board(cc))["queues"]}
    return int(queues[service])


async def kiosk_page(
    browser: Any,
    engine: EngineServer,
    push: PushServer,
    cc: ClinicClient,
    *,
    width: int = 1280,
    height: int = 1024,
) -> Any:
    from playwright.async_api import expect

    page = await open_page(
        browser, engine, push, f"/kiosk/{cc.clinic}", cc.tokens["kiosk"], width=width, height=height
    )
    await expect(page.locator("#conn")).to_have_attribute("data-state", "online", timeout=WAIT_MS)
    return page


async def staffed(cc: ClinicClient) -> None:
    """Doctor d0 (therapy) on duty: a tap on "Терапевт" takes a ticket without asking."""
    duty = await cc.http.put(
        cc.api + "/doctors/d0/duty", json={"status": "on_duty"}, headers=cc.auth("head")
    )
    assert duty.status_code == 200, duty.text


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
    await staffed(cc)
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
    await staffed(cc)
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
    booking, slot = await book_later_today(cc, PATIENT)
    at = "Приём в " + slot["start"][11:16]

    kiosk = await kiosk_page(browser, engine_server, push_server, cc)
    await kiosk.click("#booking-open")
    await kiosk.fill("#booking-code", booking)
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


async def test_the_keypad_alone_checks_a_booking_in(
    clinics: MakeClinic, engine_server: EngineServer, push_server: PushServer, browser: Any
) -> None:
    """On a touch screen with no keyboard: the code and the policy number are tapped on the
    page's own keypad (a slip erased on the way), and the booking checks in."""
    from playwright.async_api import expect

    cc = await clinics("kioskkeypad", timezone=midday_zone())
    rid, _ = await book_later_today(cc, "7700 123456")
    context = await browser.new_context(viewport={"width": 1280, "height": 1024}, has_touch=True)
    page = await context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    await page.goto(
        f"{engine_server.url}/kiosk/{cc.clinic}?push={push_server.ws}&token={cc.tokens['kiosk']}"
    )
    await page.locator("#booking-open").tap()
    for field in ("#booking-code", "#booking-patient"):
        # No system keyboard pops up over the form: the keypad is the keyboard.
        await expect(page.locator(field)).to_have_attribute("inputmode", "none")

    async def keys(text: str) -> None:
        for key in text:
            await page.locator(f'#keypad .key[data-key="{key}"]').tap()

    await keys(rid.upper() + "9")
    await page.locator("#keypad .key[data-erase]").tap()
    await expect(page.locator("#booking-code")).to_have_value(rid.upper())
    await page.locator("#booking-patient").tap()
    await keys("7700123456")
    await expect(page.locator("#booking-patient")).to_have_value("7700123456")
    await page.locator("#booking-form button[type=submit]").tap()
    await expect(page.locator("#ticket-number")).to_have_text("Т-001", timeout=WAIT_MS)
    await expect(page.locator("#message")).to_have_text("Вы отмечены. Ожидайте вызова.")
    assert errors == []
    await context.close()


async def test_a_sloppy_code_and_policy_number_match(
    clinics: MakeClinic, engine_server: EngineServer, push_server: PushServer, browser: Any
) -> None:
    """Booked with "7700 123456": the code typed on a Russian layout ("к1" for "r1") and the
    number with dashes and no spaces check in; a wrong number is "not found"."""
    from playwright.async_api import expect

    cc = await clinics("kiosksloppy", timezone=midday_zone())
    rid, _ = await book_later_today(cc, "7700 123456")
    page = await kiosk_page(browser, engine_server, push_server, cc)
    await page.click("#booking-open")
    await page.keyboard.type("К" + rid[1:])
    await page.click("#booking-patient")
    await page.keyboard.type("7700-123457")
    await page.click("#booking-form button[type=submit]")
    await expect(page.locator("#message")).to_contain_text("Запись не найдена", timeout=WAIT_MS)
    await page.fill("#booking-patient", "77-00-12-34-56")
    await page.click("#booking-form button[type=submit]")
    await expect(page.locator("#ticket-number")).to_have_text("Т-001", timeout=WAIT_MS)
    assert page.errors == []
    await page.close()


async def test_an_unstaffed_service_asks_first(
    clinics: MakeClinic, engine_server: EngineServer, push_server: PushServer, browser: Any
) -> None:
    """Nobody on duty for therapy: its tile says so with today's scheduled hours, a tap asks
    "take a ticket anyway?" and sends nothing; "Назад" issues nothing, "Взять талон" does."""
    from playwright.async_api import expect

    cc = await clinics("kioskunstaffed", timezone=midday_zone())
    page = await kiosk_page(browser, engine_server, push_server, cc)
    sent = ticket_posts(page)
    tile = page.locator("button[data-service=therapy]")
    await expect(tile.locator(".eta")).to_have_text("Сейчас никто не принимает", timeout=WAIT_MS)
    await expect(tile.locator(".hours")).to_contain_text("по расписанию сегодня", timeout=WAIT_MS)
    await tile.click()
    confirm = page.locator("#confirm")
    await expect(confirm).to_be_visible()
    await expect(confirm).to_contain_text("Сейчас никто не принимает — всё равно взять талон?")
    await expect(confirm).to_contain_text("Терапевт")
    await page.click("#confirm button.back")
    await expect(page.locator("#choose")).to_be_visible()
    await tile.click()
    await page.click("#confirm-take")
    await expect(page.locator("#ticket-number")).to_have_text("Т-001", timeout=WAIT_MS)
    await expect(page.locator("#ticket-wait")).to_contain_text("Сейчас никто не принимает")
    assert len(sent) == 1 and await waiting(cc) == 1

    # A doctor comes on duty: the tile reads as usual and a tap takes a ticket at once.
    await page.click("#ticket button.back")
    await staffed(cc)
    await expect(tile.locator(".eta")).not_to_have_text(
        "Сейчас никто не принимает", timeout=WAIT_MS
    )
    await expect(tile.locator(".hours")).to_be_empty()
    await tile.click()
    await expect(page.locator("#ticket-number")).to_have_text("Т-002", timeout=WAIT_MS)
    assert page.errors == []
    await page.close()


async def test_a_repeated_check_in_shows_the_same_ticket(
    clinics: MakeClinic, engine_server: EngineServer, push_server: PushServer, browser: Any
) -> None:
    """Checked in, paper lost, checked in again: the same number, QR and appointment, with
    "already checked in"; a long wait to the slot reads in hours, not as hundreds of minutes."""
    from playwright.async_api import expect

    cc = await clinics("kioskagain", timezone=midday_zone())
    rid, slot = await book_later_today(
        cc, "7700 123456", ahead=125
    )  # the test clinic books all day
    page = await kiosk_page(browser, engine_server, push_server, cc)
    shown: list[tuple[str, str | None, str]] = []
    for said in ("Вы отмечены. Ожидайте вызова.", "Вы уже отметились. Вот ваш талон."):
        await page.click("#booking-open")
        await page.fill("#booking-code", rid)
        await page.fill("#booking-patient", "7700 123456")
        await page.click("#booking-form button[type=submit]")
        await expect(page.locator("#message")).to_have_text(said, timeout=WAIT_MS)
        await expect(page.locator("#ticket")).to_be_visible()
        await expect(page.locator("#ticket-number")).to_have_text("Т-001")
        await expect(page.locator("#ticket-time")).to_have_text("Приём в " + slot["start"][11:16])
        shown.append(
            (
                await page.locator("#ticket-number").inner_text(),
                await page.locator("#ticket-qr").get_attribute("data-link"),
                await page.locator("#message").inner_text(),
            )
        )
        if len(shown) == 1:
            await page.click("#ticket button.back")
    assert shown[0][:2] == shown[1][:2] and shown[0][1]
    await expect(page.locator("#ticket-wait")).to_have_text(
        re.compile(r"^До приёма: \d+ ч \d+ мин$")
    )
    assert page.errors == []
    await page.close()


async def test_the_portrait_kiosk_fills_the_screen(
    clinics: MakeClinic, engine_server: EngineServer, push_server: PushServer, browser: Any
) -> None:
    """At 1080x1920 the tiles reach down to the bottom of the screen, without scrolling."""
    cc = await clinics("kioskportrait")
    page = await kiosk_page(browser, engine_server, push_server, cc, width=1080, height=1920)
    box = await page.evaluate(
        """() => {
          const tiles = [...document.querySelectorAll("button.service")];
          const rects = tiles.map((t) => t.getBoundingClientRect());
          return {
            bottom: Math.max(...rects.map((r) => r.bottom)),
            height: Math.min(...rects.map((r) => r.height)),
            scroll: document.documentElement.scrollHeight,
          };
        }"""
    )
    assert box["bottom"] > 0.9 * 1920, box
    assert box["height"] > 250, box
    assert box["scroll"] <= 1920, box
    assert page.errors == []
    await page.close()
