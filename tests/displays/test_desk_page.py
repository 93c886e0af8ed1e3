"""The information desk in headless Chromium, as a registrar works it: a ticket with a confirmed
category, one ticket for a double press, a ticket found by the number read out, a booking made,
moved, cancelled and checked in, the hall live; each checked against the engine's API."""

from __future__ import annotations

import re
from typing import Any

import asyncpg
import msgspec

from engine.service import Engine
from loadtest.scenario import synthetic_clinic
from tests.displays.browsing import BROWSER, WAIT_MS, board, open_page, shot
from tests.displays.support import PushServer
from tests.support import (
    ClinicClient,
    Clock,
    EngineServer,
    MakeClinic,
    book_later_today,
    midday_zone,
    past_bookings,
    tomorrow,
)

pytestmark = BROWSER

PATIENT = "полис 7700 123456"


async def desk_page(
    browser: Any, engine: EngineServer, push: PushServer, cc: ClinicClient, role: str = "registrar"
) -> Any:
    from playwright.async_api import expect

    page = await open_page(browser, engine, push, f"/desk/{cc.clinic}", cc.tokens[role])
    await expect(page.locator("#conn")).to_have_attribute("data-state", "online", timeout=WAIT_MS)
    return page


async def staffed(cc: ClinicClient) -> None:
    duty = await cc.http.put(
        cc.api + "/doctors/d0/duty", json={"status": "on_duty"}, headers=cc.auth("head")
    )
    assert duty.status_code == 200, duty.text


async def ticket(cc: ClinicClient, ticket_id: str) -> dict[str, Any]:
    found = await cc.http.get(f"{cc.api}/tickets/{ticket_id}", headers=cc.auth("registrar"))
    assert found.status_code == 200, found.text
    data: dict[str, Any] = found.json()
    return data


async def take(cc: ClinicClient, service: str = "therapy") -> dict[str, Any]:
    taken = await cc.http.post(
        cc.api + "/tickets", json={"service": service}, headers=cc.auth("kiosk")
    )
    assert taken.status_code == 201, taken.text
    data: dict[str, Any] = taken.json()
    return data


async def bookings(cc: ClinicClient, patient: str = PATIENT) -> list[dict[str, Any]]:
    found = await cc.http.post(
        cc.api + "/reservations/search", json={"patient": patient}, headers=cc.auth("registrar")
    )
    assert found.status_code == 200, found.text
    listed: list[dict[str, Any]] = found.json()["reservations"]
    return listed


def ticket_posts(page: Any) -> list[Any]:
    sent: list[Any] = []
    page.on(
        "request",
        lambda r: sent.append(r) if r.method == "POST" and r.url.endswith("/tickets") else None,
    )
    return sent


async def test_a_ticket_with_a_category_needs_the_document_checked(
    clinics: MakeClinic, engine_server: EngineServer, push_server: PushServer, browser: Any
) -> None:
    """A veteran's ticket: refused on the page until "Документ проверен" is ticked, then issued
    with the category and the desk's channel, shown with its QR code; the next patient starts
    from no category. Keys only: F2, Alt+2 (the second service), Enter."""
    from playwright.async_api import expect

    cc = await clinics("deskissue")
    await staffed(cc)
    page = await desk_page(browser, engine_server, push_server, cc)
    await page.keyboard.press("F2")
    await page.keyboard.press("Alt+Digit2")
    await expect(page.locator("input[name=service][value=surgery]")).to_be_checked()
    await page.keyboard.press("Alt+Digit1")
    await page.click("label:has(input[name=priority][value=veteran])")
    await expect(page.locator("#confirm-line")).to_be_visible()
    await page.keyboard.press("Enter")
    await expect(page.locator("#issue-error")).to_have_text(
        "Отметьте «Документ проверен»: льготу подтверждает регистратор"
    )
    assert (await board(cc))["queues"][0]["waiting"] == 0
    await page.keyboard.press("Space")  # the checkbox has the focus now
    await page.keyboard.press("Enter")
    await expect(page.locator("#issue-result")).to_have_text(
        "Выдан талон Т-001 · Терапевт", timeout=WAIT_MS
    )
    await expect(page.locator("#issue-error")).to_be_empty()
    card = page.locator("#issued")
    await expect(card.locator(".number")).to_have_text("Т-001")
    await expect(card).to_contain_text("Льгота: ветеран")
    await expect(card).to_contain_text("Получен: справочная")
    await expect(card.locator(".print-state")).to_have_text(
        "Принтер не подключён: покажите пациенту номер и QR-код"
    )
    await expect(card.locator("img.qr")).to_have_js_property("complete", True)
    issued = await ticket(cc, await card.get_attribute("data-ticket"))
    assert (issued["number"], issued["priority"], issued["channel"]) == ("Т-001", "veteran", "desk")
    # A category is confirmed for one patient only.
    await expect(page.locator("input[name=priority][value='']")).to_be_checked()
    await expect(page.locator("#confirm-line")).to_be_hidden()
    assert page.errors == []
    await page.close()


async def test_a_double_press_issues_one_ticket(
    clinics: MakeClinic, engine_server: EngineServer, push_server: PushServer, browser: Any
) -> None:
    """A double click, then Enter pressed twice: one ticket each time. An answer lost on the way
    back is retried with the same Idempotency-Key, so it is still that one ticket."""
    from playwright.async_api import expect

    cc = await clinics("deskdouble")
    await staffed(cc)
    page = await desk_page(browser, engine_server, push_server, cc)
    sent = ticket_posts(page)
    await page.dblclick("#issue-button")
    await expect(page.locator("#issued .number")).to_have_text("Т-001", timeout=WAIT_MS)
    await page.wait_for_timeout(1500)  # the button rests, then takes the next patient's press
    await page.focus("input[name=service][value=therapy]")
    await page.keyboard.press("Enter")
    await page.keyboard.press("Enter")
    await expect(page.locator("#issued .number")).to_have_text("Т-002", timeout=WAIT_MS)
    for request in sent:
        await request.response()
    assert len(sent) == 2
    assert (await board(cc))["queues"][0]["waiting"] == 2

    keys: list[str] = []

    async def lose_the_first_answer(route: Any) -> None:
        keys.append(await route.request.header_value("idempotency-key"))
        if len(keys) == 1:
            answered = await route.fetch()  # the engine issues the ticket...
            assert answered.status == 201
            await route.abort("connectionreset")  # ...and the desk never hears of it
        else:
            await route.continue_()

    await page.wait_for_timeout(1500)
    await page.route("**/api/v1/clinics/*/tickets", lose_the_first_answer)
    await page.click("#issue-button")
    await expect(page.locator("#issue-error")).to_have_text(
        "Сервер временно недоступен, повторите через минуту", timeout=WAIT_MS
    )
    await page.click("#issue-button")
    await expect(page.locator("#issued .number")).to_have_text("Т-003", timeout=WAIT_MS)
    assert len(keys) == 2 and keys[0] == keys[1]
    assert (await board(cc))["queues"][0]["waiting"] == 3
    assert page.errors == []
    await page.close()


async def test_find_a_ticket_reprint_transfer_and_cancel_it(
    clinics: MakeClinic,
    engine_server: EngineServer,
    push_server: PushServer,
    browser: Any,
    db: asyncpg.Pool,
) -> None:
    """ "t2" typed on the Latin layout finds Т-002 with one patient ahead; reprinting without a
    printer shows its QR; a transfer and a cancellation each take two presses, and the engine
    holds the result: surgery, then cancelled with the reason chosen."""
    from playwright.async_api import expect

    cc = await clinics("deskfind")
    await staffed(cc)
    await take(cc)
    second = await take(cc)
    page = await desk_page(browser, engine_server, push_server, cc)
    await page.keyboard.press("F3")
    await page.keyboard.type("t2")
    await page.keyboard.press("Enter")
    found = page.locator("#found")
    await expect(found.locator(".number")).to_have_text("Т-002", timeout=WAIT_MS)
    await expect(page.locator("#find-result")).to_have_text("Талон Т-002: ожидает")
    await expect(found).to_contain_text("Впереди: 1")
    await expect(found).to_contain_text("Получен: киоск")
    assert await found.get_attribute("data-ticket") == second["id"]

    # Called meanwhile: the card follows the hall, with the cabinet to send the patient to.
    called = await cc.http.post(cc.api + "/cabinets/c0/call-next", headers=cc.auth("head"))
    assert called.json()["ticket"]["number"] == "Т-001"
    await expect(found).to_contain_text("Впереди: 0", timeout=WAIT_MS)

    await page.keyboard.press("Alt+KeyP")
    await expect(found.locator(".print-state")).to_have_text(
        "Принтер не подключён: покажите пациенту номер и QR-код"
    )
    link = re.compile(re.escape(engine_server.url + second["status_url"]))
    await expect(found.locator("img.qr")).to_have_attribute("data-link", link)

    await page.select_option("#transfer-to", "surgery")
    await page.click("#transfer")
    await expect(page.locator("#find-result")).to_contain_text("Перевести Т-002 в «Хирург»?")
    assert (await ticket(cc, second["id"]))["service"] == "therapy"
    await page.click("#transfer")
    await expect(page.locator("#find-result")).to_have_text(
        "Т-002 переведён в «Хирург»", timeout=WAIT_MS
    )
    assert (await ticket(cc, second["id"]))["service"] == "surgery"

    await page.select_option("#cancel-reason", "duplicate")
    await page.click("#cancel-ticket")
    await expect(page.locator("#cancel-ticket")).to_have_class("danger armed")
    assert (await ticket(cc, second["id"]))["state"] == "waiting"
    await page.click("#cancel-ticket")
    await expect(page.locator("#find-result")).to_have_text(
        "Талон Т-002 отменён: выдан повторно", timeout=WAIT_MS
    )
    assert (await ticket(cc, second["id"]))["state"] == "cancelled"
    body = await db.fetchval(
        "SELECT body FROM journal WHERE clinic = $1 AND kind = 'ticket_cancelled'", cc.clinic
    )
    assert msgspec.json.decode(body)["reason"] == "duplicate"
    await expect(page.locator("#cancel-ticket")).to_be_disabled()

    await page.fill("#find-number", "Т-099")
    await page.keyboard.press("Enter")
    await expect(page.locator("#find-error")).to_have_text("Сегодня талона «Т-099» нет")
    assert page.errors == []
    await page.close()


async def test_book_move_and_cancel_for_a_patient_by_their_reference(
    clinics: MakeClinic, engine_server: EngineServer, push_server: PushServer, browser: Any
) -> None:
    """The reference is typed, then shown masked only; tomorrow's free times of d0 are listed;
    a press books the patient, "Перенести" and another time move the booking, two presses on
    "Отменить запись" cancel it: each step is in the engine."""
    from playwright.async_api import expect

    cc = await clinics("deskbook")
    page = await desk_page(browser, engine_server, push_server, cc)
    await page.keyboard.press("F4")
    await page.keyboard.type(PATIENT)
    await page.keyboard.press("Enter")
    await expect(page.locator("#patient-shown")).to_have_text("Пациент: •••• 3456")
    await expect(page.locator("#bookings-result")).to_have_text(
        "Записей с сегодняшнего дня нет", timeout=WAIT_MS
    )
    await expect(page.locator("#patient-ref")).to_have_value("")

    await page.select_option("#slot-doctor", "d0")
    await page.fill("#slot-date", tomorrow())
    await page.click("#slots-form button[type=submit]")
    slots = page.locator("#slots button.slot")
    await expect(slots.first).to_be_visible(timeout=WAIT_MS)
    first, second = [await slots.nth(i).get_attribute("data-slot") for i in (0, 1)]
    # Keys alone: the arrows walk the free times, Enter books the one in focus.
    await slots.first.focus()
    await page.keyboard.press("ArrowRight")
    await page.keyboard.press("Enter")
    await expect(page.locator("#bookings-result")).to_contain_text("Записан: R", timeout=WAIT_MS)
    [made] = await bookings(cc)
    assert (made["slot"], made["state"], made["channel"]) == (second, "confirmed", "desk")
    row = page.locator(f"#reservations li[data-reservation={made['id']}]")
    await expect(row).to_contain_text("подтверждена")
    # The booked time is no longer offered.
    await expect(page.locator(f"#slots button[data-slot='{second}']")).to_have_count(0)

    await row.locator("button.move").click()
    await expect(page.locator("#bookings-result")).to_contain_text("Выберите новое время")
    await page.click(f"#slots button[data-slot='{first}']")
    await expect(page.locator("#bookings-result")).to_contain_text(
        f"Запись {made['id'].upper()} перенесена", timeout=WAIT_MS
    )
    [moved] = await bookings(cc)
    assert (moved["id"], moved["slot"], moved["state"]) == (made["id"], first, "confirmed")

    cancel = row.locator("button.cancel")
    await cancel.click()
    await expect(page.locator("#bookings-result")).to_contain_text("Отменить запись")
    assert len(await bookings(cc)) == 1
    await cancel.click()
    await expect(page.locator("#bookings-result")).to_have_text(
        f"Запись {made['id'].upper()} отменена", timeout=WAIT_MS
    )
    assert await bookings(cc) == []
    gone = await cc.http.get(f"{cc.api}/reservations/{made['id']}", headers=cc.auth("registrar"))
    assert gone.json()["state"] == "cancelled"
    # Nowhere on the page is the reference in full, nor its digits run together.
    text = await page.locator("body").inner_text()
    assert "7700 123456" not in text and "7700123456" not in text
    assert page.errors == []
    await page.close()


async def test_a_patient_who_arrived_is_checked_in(
    clinics: MakeClinic, engine_server: EngineServer, push_server: PushServer, browser: Any
) -> None:
    """Today's booking, found by the policy number typed another way: "Отметить приход" gives
    the patient's ticket (shown with its QR code), the booking is checked in, and the same
    booking looked up by its code cannot be checked in twice."""
    from playwright.async_api import expect

    cc = await clinics("deskcheckin", timezone=midday_zone())
    await staffed(cc)
    rid, slot = await book_later_today(cc, PATIENT)
    page = await desk_page(browser, engine_server, push_server, cc)
    await page.fill("#patient-ref", "7700-123-456")
    await page.keyboard.press("Enter")
    row = page.locator(f"#reservations li[data-reservation={rid}]")
    await expect(row).to_contain_text(slot["start"][11:16], timeout=WAIT_MS)
    await row.locator("button.check-in").click()
    await expect(page.locator("#bookings-result")).to_have_text(
        "Приход отмечен: талон Т-001", timeout=WAIT_MS
    )
    card = page.locator("#checked-in")
    await expect(card.locator(".number")).to_have_text("Т-001")
    await expect(card).to_contain_text("По записи на " + slot["start"][11:16])
    await expect(card.locator("img.qr")).to_have_js_property("complete", True)
    got = await cc.http.get(f"{cc.api}/reservations/{rid}", headers=cc.auth("registrar"))
    assert got.json()["state"] == "checked_in"
    issued = await ticket(cc, got.json()["ticket"])
    assert issued["number"] == "Т-001"
    await expect(row.locator("button.check-in")).to_be_disabled()

    await page.click("#patient-clear")
    await expect(page.locator("#patient-shown")).to_have_text("Пациент не выбран")
    await page.fill("#patient-ref", "r" + rid[1:])
    await page.keyboard.press("Enter")
    await expect(page.locator("#patient-shown")).to_have_text(f"Запись {rid.upper()}")
    await expect(row).to_contain_text("пациент пришёл", timeout=WAIT_MS)
    assert page.errors == []
    await page.close()


async def test_a_past_booking_found_by_its_code_is_shown_for_reference_only(
    clinics: MakeClinic,
    engine_server: EngineServer,
    push_server: PushServer,
    browser: Any,
    engine: tuple[Engine, Clock],
) -> None:
    """Last week's booking, gone from the live state, is found by its code: how it ended, from
    the journal, with no button to check in, move or cancel it; an unknown code is not found."""
    from playwright.async_api import expect

    e, clock = engine
    cc = await clinics("deskpast")
    was = await past_bookings(e, clock, cc.clinic, ("", ""))
    page = await desk_page(browser, engine_server, push_server, cc)
    for name, label in (("moved", "подтверждена"), ("arrived", "пациент пришёл")):
        rid = was[name].id
        await page.fill("#patient-ref", rid.upper())
        await page.keyboard.press("Enter")
        row = page.locator(f"#reservations li[data-reservation={rid}]")
        await expect(row).to_have_attribute("data-source", "journal", timeout=WAIT_MS)
        await expect(row.locator(".res-state")).to_have_text(label)
        await expect(row).to_contain_text("прошедшая, из журнала")
        await expect(row.locator("button")).to_have_count(0)
        await expect(page.locator("#bookings-result")).to_contain_text(f"Запись {rid.upper()} на ")
        await expect(page.locator("#bookings-result")).to_contain_text("изменить её нельзя")
        await page.click("#patient-clear")
    await page.fill("#patient-ref", "R999999999")
    await page.keyboard.press("Enter")
    await expect(page.locator("#bookings-error")).to_have_text(
        "Запись не найдена: проверьте код и номер полиса", timeout=WAIT_MS
    )
    assert page.errors == []
    await page.close()


async def test_the_hall_is_live_and_the_keys_work_in_the_russian_layout(
    clinics: MakeClinic, engine_server: EngineServer, push_server: PushServer, browser: Any
) -> None:
    """A ticket taken at a kiosk shows in the hall's queue without a reload; the doctor on duty
    is listed with their cabinet; Alt+P and Alt+2 are read by their physical keys (the Russian
    layout's "з" and "2"). The screenshot of the desk at work is written here."""
    from playwright.async_api import expect

    cc = await clinics("deskhall")
    await staffed(cc)
    page = await desk_page(browser, engine_server, push_server, cc)
    therapy = page.locator("#queues tr[data-queue=therapy] td.waiting")
    await expect(therapy).to_have_text("0")
    await take(cc)
    await take(cc)
    await expect(therapy).to_have_text("2", timeout=WAIT_MS)
    await expect(page.locator("#doctors li[data-doctor=d0]")).to_contain_text(
        "Доктор 0 · Кабинет 0"
    )
    await expect(page.locator("#doctors li[data-doctor=d0]")).to_contain_text("принимает")

    async def press(code: str, key: str) -> None:
        await page.evaluate(
            """([code, key]) => document.activeElement.dispatchEvent(new KeyboardEvent("keydown",
                {code, key, altKey: true, bubbles: true, cancelable: true}))""",
            [code, key],
        )

    await page.focus("#issue-button")
    await press("Digit2", "2")
    await expect(page.locator("input[name=service][value=surgery]")).to_be_checked()
    await page.keyboard.press("Alt+Digit1")
    await page.click("label:has(input[name=priority][value=pregnant])")
    await page.check("#priority-confirmed")
    await page.click("#issue-button")
    await expect(page.locator("#issued .number")).to_have_text("Т-003", timeout=WAIT_MS)
    await expect(therapy).to_have_text("3", timeout=WAIT_MS)
    await page.fill("#find-number", "т1")
    await page.keyboard.press("Enter")
    await expect(page.locator("#found .number")).to_have_text("Т-001", timeout=WAIT_MS)
    await press("KeyP", "з")
    await expect(page.locator("#found .print-state")).to_have_attribute("data-state", "none")
    # The patient's booking for tomorrow, made elsewhere, is listed at the desk.
    listed = await cc.http.get(
        f"{cc.api}/slots?free=true&doctor=d0&date={tomorrow()}", headers=cc.auth("registrar")
    )
    slot = listed.json()["slots"][40]["id"]
    made = await cc.http.post(
        f"{cc.api}/slots/{slot}/reservation",
        json={"patient": PATIENT, "confirm": True},
        headers=cc.auth("partner"),
    )
    assert made.status_code == 201, made.text
    await page.fill("#patient-ref", PATIENT)
    await page.keyboard.press("Enter")
    await expect(page.locator("#reservations li")).to_have_count(1, timeout=WAIT_MS)
    await page.fill("#slot-date", tomorrow())
    await page.click("#slots-form button[type=submit]")
    await expect(page.locator("#slots button.slot").first).to_be_visible(timeout=WAIT_MS)
    await shot(page, "desk")
    assert page.errors == []
    await page.close()


async def test_the_desk_is_the_registrars_page(
    clinics: MakeClinic, engine_server: EngineServer, push_server: PushServer, browser: Any
) -> None:
    """Opened with a doctor's or a kiosk's link, the desk says at once that it is the wrong link,
    over everything; another clinic's registrar is refused likewise; a head may work it."""
    from playwright.async_api import expect

    cc = await clinics("deskroles")
    for role in ("doctor", "kiosk", "other_clinic_registrar"):
        page = await open_page(
            browser, engine_server, push_server, f"/desk/{cc.clinic}", cc.tokens[role]
        )
        await expect(page.locator("#cq-dead")).to_be_visible(timeout=WAIT_MS)
        if role != "other_clinic_registrar":
            await expect(page.locator("#cq-dead")).to_contain_text(
                "Эта страница — для регистратора"
            )
        await page.close()
    page = await desk_page(browser, engine_server, push_server, cc, role="head")
    await expect(page.locator("#cq-dead")).to_have_count(0)
    assert page.errors == []
    await page.close()


async def test_the_desk_prints_at_its_own_printer_and_reprints_a_kiosk_ticket(
    clinics: MakeClinic, engine_server: EngineServer, push_server: PushServer, browser: Any
) -> None:
    """With ?printer=desk-1: a ticket issued at the desk prints there; a ticket printed at a
    kiosk, found by its number, is printed again at the desk (never a new ticket); a desk
    printer out of paper says to show the number and QR code instead."""
    from playwright.async_api import expect

    from tests.ticketing.fake_printer import FakePrinter

    hall, desk, empty = FakePrinter("online"), FakePrinter("online"), FakePrinter("paper_out")
    try:
        cc = await clinics(
            "deskprint",
            kiosks=[
                {"id": "hall-1", "printer": hall.url},
                {"id": "desk-1", "printer": desk.url},
                {"id": "desk-2", "printer": empty.url},
            ],
        )
        await staffed(cc)
        walk_in = await take(cc)
        job = await cc.http.post(
            cc.api + "/kiosks/hall-1/print",
            json={"ticket": walk_in["id"]},
            headers=cc.auth("kiosk"),
        )
        assert job.status_code == 202, job.text
        page = await open_page(
            browser,
            engine_server,
            push_server,
            f"/desk/{cc.clinic}?printer=desk-1",
            cc.tokens["registrar"],
        )
        await expect(page.locator("#printer")).to_have_text("Принтер: desk-1")
        await page.click("#issue-button")
        state = page.locator("#issued .print-state")
        await expect(state).to_have_attribute("data-state", "printed", timeout=WAIT_MS)
        await expect(state).to_have_text("Напечатан: отдайте талон пациенту")
        assert len(desk.jobs) == 1

        await page.fill("#find-number", "Т-001")
        await page.keyboard.press("Enter")
        await expect(page.locator("#found .number")).to_have_text("Т-001", timeout=WAIT_MS)
        await page.click("#reprint")
        state = page.locator("#found .print-state")
        await expect(state).to_have_attribute("data-state", "printed", timeout=WAIT_MS)
        assert (len(hall.jobs), len(desk.jobs)) == (1, 2)
        assert (await board(cc))["queues"][0]["waiting"] == 2  # no ticket was added
        await page.close()

        page = await open_page(
            browser,
            engine_server,
            push_server,
            f"/desk/{cc.clinic}?printer=desk-2",
            cc.tokens["registrar"],
        )
        await page.click("#issue-button")
        state = page.locator("#issued .print-state")
        await expect(state).to_have_attribute("data-state", "fallback", timeout=WAIT_MS)
        await expect(state).to_have_text("Принтер не ответил: покажите пациенту номер и QR-код")
        await expect(page.locator("#issued img.qr")).to_be_visible()
        assert page.errors == []
        await page.close()
    finally:
        for printer in (hall, desk, empty):
            printer.close()


async def test_the_desk_shell_names_the_policys_categories_and_refuses_an_unknown_printer(
    clinics: MakeClinic, engine_server: EngineServer
) -> None:
    """The page lists the clinic's own priority categories (a category the catalogue lacks as the
    policy names it) and cancel reasons; ``?printer=`` must name one of the clinic's kiosks."""
    cc = await clinics("deskshell")
    config = (await cc.http.get(cc.api, headers=cc.auth("admin"))).json()
    config["policy"]["priority_categories"] = ["veteran", "donor"]
    put = await cc.http.put(cc.api, json=config, headers=cc.auth("admin"))
    assert put.status_code == 200, put.text
    shell = await cc.http.get(f"/desk/{cc.clinic}")
    assert shell.status_code == 200
    assert 'value="veteran"> <span>ветеран</span>' in shell.text
    assert 'value="donor"> <span>donor</span>' in shell.text
    assert 'value="pregnant"' not in shell.text
    assert '<option value="duplicate">выдан повторно</option>' in shell.text
    english = await cc.http.get(f"/desk/{cc.clinic}?lang=en")
    assert "Information desk" in english.text and "<span>veteran</span>" in english.text
    unknown = await cc.http.get(f"/desk/{cc.clinic}?printer=nope")
    assert unknown.status_code == 404
    assert "text/html" in unknown.headers["content-type"]


async def test_a_slow_answer_never_lists_another_doctors_times_and_short_references_are_refused(
    clinics: MakeClinic, engine_server: EngineServer, push_server: PushServer, browser: Any
) -> None:
    """d0's free times answer slowly; the registrar has moved on to d1: only d1's times are
    listed, then and after d0's answer lands. A reference the kiosk's keypad could not take
    (fewer than six digits) is refused at once."""
    import asyncio

    from playwright.async_api import expect

    cc = await clinics("deskrace")
    bookable = synthetic_clinic(cc.clinic, 3, slot_minutes=15, surgeons=False)  # all three
    put = await cc.http.put(cc.api, json=bookable, headers=cc.auth("admin"))
    assert put.status_code == 200, put.text
    page = await desk_page(browser, engine_server, push_server, cc)

    await page.fill("#patient-ref", "Иванов 12")
    await page.press("#patient-ref", "Enter")
    await expect(page.locator("#bookings-error")).to_contain_text("не меньше 6 цифр")
    await expect(page.locator("#patient-shown")).not_to_contain_text("•••• ")

    async def slow_for_d0(route: Any) -> None:
        if "doctor=d0" in route.request.url:
            await asyncio.sleep(1.5)
        await route.continue_()

    await page.route(lambda url: "/slots?" in url, slow_for_d0)
    await page.fill("#slot-date", tomorrow())
    await page.select_option("#slot-doctor", "d0")
    await page.select_option("#slot-doctor", "d1")
    slots = page.locator("#slots button.slot")
    await expect(slots.first).to_be_visible(timeout=WAIT_MS)
    await page.wait_for_timeout(2500)  # d0's answer has landed by now
    shown = await slots.evaluate_all("(nodes) => nodes.map((n) => n.dataset.slot)")
    assert shown and all(s.startswith("d1.") for s in shown), shown[:5]
    assert await slots.first.evaluate("(n) => n.parentElement.getAttribute('role')") == "listitem"
    assert page.errors == []
    await page.close()
