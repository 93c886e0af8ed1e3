"""The waiting-room screen in headless Chromium: a recall is one line, a dead screen looks dead
(and says why), a reconnect is online once caught up, long cabinet names fit at a size read
from 5 m, the clock is the clinic's, a foreign voice spells the ticket number."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import asyncpg

from engine.auth import create_token, revoke_tokens
from tests.displays.browsing import BROWSER, WAIT_MS, board, open_page, shot
from tests.displays.support import PushServer
from tests.support import ClinicClient, EngineServer, MakeClinic, clinic_config

pytestmark = BROWSER

# The page backs off up to 15 s between attempts while the push server is away, and on a loaded
# machine a restarted one may miss the first few: allow several rounds for the way back.
BACK_MS = 60_000
DEAD = "#cq-dead"


async def _on_duty(cc: ClinicClient, *doctors: str) -> None:
    for doctor in doctors:
        response = await cc.http.put(
            cc.api + f"/doctors/{doctor}/duty", json={"status": "on_duty"}, headers=cc.auth("head")
        )
        assert response.status_code == 200, response.text


async def _issue(cc: ClinicClient, count: int = 1) -> list[dict[str, Any]]:
    out = []
    for _ in range(count):
        response = await cc.http.post(
            cc.api + "/tickets", json={"service": "therapy"}, headers=cc.auth("kiosk")
        )
        assert response.status_code == 201, response.text
        out.append(response.json())
    return out


async def _call(cc: ClinicClient, cabinet: str) -> dict[str, Any]:
    response = await cc.http.post(
        cc.api + f"/cabinets/{cabinet}/call-next", headers=cc.auth("head")
    )
    assert response.status_code == 200, response.text
    ticket: dict[str, Any] = response.json()["ticket"]
    return ticket


async def _act(cc: ClinicClient, ticket: str, action: str) -> None:
    response = await cc.http.post(cc.api + f"/tickets/{ticket}/{action}", headers=cc.auth("head"))
    assert response.status_code == 200, response.text


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


async def test_a_recall_is_one_line_moved_to_the_top_and_announced(
    clinics: MakeClinic, engine_server: EngineServer, own_push: PushServer, browser: Any
) -> None:
    """Т-001 called, Т-002 called, Т-001 recalled: each number once, Т-001 first and marked."""
    from playwright.async_api import expect

    cc = await clinics("recall")
    screen = await open_page(
        browser, engine_server, own_push, f"/screen/{cc.clinic}", cc.tokens["display"]
    )
    await expect(screen.locator("#conn")).to_have_attribute("data-state", "online", timeout=WAIT_MS)
    # The events alone must keep the screen right: the boards that follow them are held back.
    await screen.evaluate(
        """() => {
            const ws = window.CQ_LIVE.ws, take = ws.onmessage;
            ws.onmessage = (m) => { if (JSON.parse(m.data).type !== "board") take(m); };
        }"""
    )
    await _on_duty(cc, "d0", "d1")
    first, second = await _issue(cc, 2)
    await _call(cc, "c0")
    await _call(cc, "c1")
    await expect(screen.locator("#hero .call")).to_have_count(2, timeout=WAIT_MS)
    await _act(cc, first["id"], "recall")

    await screen.wait_for_function("window.CQ_ANNOUNCED.length === 3")
    assert (await screen.evaluate("window.CQ_ANNOUNCED"))[2] == (
        f"Повторный вызов. Талон {first['number']}. Пройдите в Кабинет 0."
    )
    hero = screen.locator("#hero .call")
    await expect(hero.first).to_have_attribute("data-number", first["number"])
    await expect(hero.first).to_contain_text("повторно")
    for ticket in (first, second):
        await expect(screen.locator(f"[data-number={ticket['number']}]")).to_have_count(1)
    # A screen opened now starts from the board: the same, once each.
    assert [c["number"] for c in (await board(cc))["calls"]] == [first["number"], second["number"]]
    fresh = await open_page(
        browser, engine_server, own_push, f"/screen/{cc.clinic}", cc.tokens["display"]
    )
    await expect(fresh.locator(f"#hero [data-number={first['number']}]")).to_contain_text(
        "повторно", timeout=WAIT_MS
    )
    for ticket in (first, second):
        await expect(fresh.locator(f"[data-number={ticket['number']}]")).to_have_count(1)
    assert fresh.errors == []
    await fresh.close()
    assert screen.errors == []
    await screen.close()


async def test_a_screen_with_a_bad_token_is_dead_and_says_why(
    clinics: MakeClinic, engine_server: EngineServer, own_push: PushServer, browser: Any
) -> None:
    """A refused token fills the screen with the refusal, not "no calls yet"."""
    from playwright.async_api import expect

    cc = await clinics("badtoken")
    screen = await open_page(
        browser, engine_server, own_push, f"/screen/{cc.clinic}", "not-a-token"
    )
    dead = screen.locator(DEAD)
    await expect(dead).to_be_visible(timeout=WAIT_MS)
    await expect(dead).to_have_attribute("data-reason", "refused")
    await expect(dead).to_contain_text("Нет связи")
    await expect(dead).to_contain_text("отклонил ссылку")
    box = await dead.bounding_box()
    assert box is not None and (box["width"], box["height"]) == (1920, 1080)
    assert await _covered(screen, "#hero")
    await expect(screen.locator("#conn")).to_have_attribute("data-state", "denied")
    await shot(screen, "screen-dead")
    assert screen.errors == []
    await screen.close()


async def test_staff_pages_with_a_wrong_token_show_the_refusal_over_their_buttons(
    clinics: MakeClinic, engine_server: EngineServer, own_push: PushServer, browser: Any
) -> None:
    """Panel, dashboard and kiosk opened with a wrong token say so at once; nothing to press."""
    from playwright.async_api import expect

    cc = await clinics("wrongtoken")
    pages = {
        f"/panel/{cc.clinic}/d0": "#on-duty",
        f"/dashboard/{cc.clinic}": "#conn",
        f"/kiosk/{cc.clinic}": "button[data-service=therapy]",
    }
    for path, control in pages.items():
        page = await open_page(
            browser, engine_server, own_push, path, "wrong", width=1280, height=1024
        )
        await expect(page.locator(DEAD)).to_be_visible(timeout=WAIT_MS)
        await expect(page.locator(DEAD)).to_contain_text("отклонил ссылку")
        assert await _covered(page, control), path
        assert page.errors == []
        await page.close()


async def test_a_revoked_display_token_leaves_the_open_screen_dead(
    clinics: MakeClinic,
    engine_server: EngineServer,
    own_push: PushServer,
    browser: Any,
    db: asyncpg.Pool,
) -> None:
    """The push server closes a revoked token's sockets (4401): the open screen shows the refusal."""
    from playwright.async_api import expect

    cc = await clinics("revoked")
    token_id, secret = await create_token(db, "display", clinic=cc.clinic, label="screen-revoke")
    screen = await open_page(browser, engine_server, own_push, f"/screen/{cc.clinic}", secret)
    await expect(screen.locator("#conn")).to_have_attribute("data-state", "online", timeout=WAIT_MS)
    await expect(screen.locator(DEAD)).to_have_count(0)
    assert await revoke_tokens(db, token_id=token_id) == 1
    await expect(screen.locator(DEAD)).to_be_visible(timeout=WAIT_MS)
    await expect(screen.locator(DEAD)).to_have_attribute("data-reason", "refused")
    assert await _covered(screen, "#hero")
    assert screen.errors == []
    await screen.close()


async def test_a_screen_without_its_push_server_goes_dead_and_comes_back(
    clinics: MakeClinic, engine_server: EngineServer, own_push: PushServer, browser: Any
) -> None:
    """Opened while the push server is down, and cut later: dead with the reason both times,
    back to the live board when it returns."""
    from playwright.async_api import expect

    cc = await clinics("pushdown")
    await _on_duty(cc, "d0")
    await _issue(cc)
    number = (await _call(cc, "c0"))["number"]
    own_push.kill()
    try:
        screen = await open_page(
            browser, engine_server, own_push, f"/screen/{cc.clinic}", cc.tokens["display"]
        )
        dead = screen.locator(DEAD)
        for cut in (False, True):
            if cut:
                own_push.kill()
            await expect(dead).to_be_visible(timeout=WAIT_MS)
            await expect(dead).to_have_attribute("data-reason", "unreachable")
            await expect(dead).to_contain_text("не отвечает")
            assert await _covered(screen, "#hero")
            await expect(screen.locator("#conn")).to_have_attribute("data-state", "offline")
            own_push.start()
            await expect(screen.locator("#conn")).to_have_attribute(
                "data-state", "online", timeout=BACK_MS
            )
            await expect(dead).to_be_hidden()
            await expect(screen.locator("#hero .call").first).to_contain_text(number)
            assert not await _covered(screen, "#hero")
    finally:
        if own_push.process is None or own_push.process.poll() is not None:
            own_push.start()
    assert screen.errors == []
    await screen.close()


async def test_a_reconnected_screen_is_online_and_current_once_caught_up(
    clinics: MakeClinic, engine_server: EngineServer, own_push: PushServer, browser: Any
) -> None:
    """A socket that drops and resumes from its offset shows online, and the board's counts,
    as soon as it has caught up: not at the next idle board half a minute later."""
    from playwright.async_api import expect

    cc = await clinics("caughtup")
    screen = await open_page(
        browser, engine_server, own_push, f"/screen/{cc.clinic}", cc.tokens["display"]
    )
    waiting = screen.locator("[data-queue=therapy] .waiting")
    await expect(screen.locator("#conn")).to_have_attribute("data-state", "online", timeout=WAIT_MS)
    # A ticket's event is followed by a board: after it, the feed has no board due for a while.
    await _issue(cc)
    await expect(waiting).to_have_text("1", timeout=WAIT_MS)
    # The page stops hearing its socket; a second ticket's event and board go unheard.
    await screen.evaluate(
        """() => {
            window.UNHEARD = [];
            window.CQ_LIVE.ws.onmessage = (m) => window.UNHEARD.push(JSON.parse(m.data).type);
        }"""
    )
    await _issue(cc)
    await screen.wait_for_function("window.UNHEARD.includes('board')", timeout=WAIT_MS)
    await screen.evaluate("window.CQ_LIVE.ws.close()")
    await expect(screen.locator("#conn")).to_have_attribute("data-state", "online", timeout=WAIT_MS)
    await expect(waiting).to_have_text("2", timeout=WAIT_MS)
    assert await screen.evaluate("window.CQ_LIVE.connects") == 2
    assert screen.errors == []
    await screen.close()


LONG_NAMES = {
    "c0": "Процедурный 310",
    "c1": "Кабинет ультразвуковой диагностики 205",
    "c2": "Прививочный кабинет 118",
    "c3": "Смотровой 7",
}


async def _fits(screen: Any) -> dict[str, Any]:
    """Each shown call: every part of it wholly inside its box and the viewport, its number on
    one line; how many there are, and the smallest sizes of the large calls' numbers and cabinets
    and of the recent lines."""
    found: dict[str, Any] = await screen.evaluate(
        """() => {
            const bad = [];
            const hero = document.getElementById("hero").getBoundingClientRect();
            const recent = document.getElementById("recent").getBoundingClientRect();
            const size = (n) => parseFloat(getComputedStyle(n).fontSize);
            const check = (node, box) => {
                const r = node.getBoundingClientRect();
                const number = node.querySelector(".number").getBoundingClientRect();
                if (number.height > 1.6 * size(node)) bad.push(["number wraps", node.textContent]);
                for (const part of node.children) {
                    const p = part.getBoundingClientRect();
                    if (p.right > r.right + 1 || p.right > innerWidth || p.left < r.left - 1)
                        bad.push(["wide", part.textContent]);
                }
                if (node.scrollWidth > node.clientWidth + 1) bad.push(["wide", node.textContent]);
                if (r.top < box.top || r.bottom > box.bottom || r.bottom > innerHeight)
                    bad.push(["cut", node.textContent, r.top, r.bottom, box.top, box.bottom]);
            };
            const calls = [...document.querySelectorAll("#hero .call")];
            const lines = [...document.querySelectorAll("#recent li")].filter((li) => !li.hidden);
            calls.forEach((n) => check(n, hero));
            lines.forEach((li) => check(li.firstElementChild, recent));
            const min = (nodes) => nodes.length ? Math.min(...nodes.map(size)) : 0;
            return {bad, hero: calls.length, recent: lines.length,
                    heroNumber: min(calls.map((c) => c.querySelector(".number"))),
                    heroCab: min(calls.map((c) => c.querySelector(".cab"))),
                    recentLine: min(lines.map((li) => li.firstElementChild)),
                    again: min([...document.querySelectorAll(".again")])};
        }"""
    )
    return found


async def test_long_cabinet_names_and_many_calls_fit_the_screen(
    clinics: MakeClinic,
    engine_server: EngineServer,
    own_push: PushServer,
    browser: Any,
    admin_token: str,
) -> None:
    """1920x1080, long cabinet names: the large calls and the recent calls shown are whole, inside
    their boxes and above the bottom of the screen."""
    from playwright.async_api import expect

    cc = await clinics("longnames", doctors=4)
    config = clinic_config(cc.clinic, doctors=4)
    config["cabinets"] = [{"id": k, "name": v} for k, v in LONG_NAMES.items()]
    response = await cc.http.put(
        cc.api, json=config, headers={"Authorization": f"Bearer {admin_token}"}
    )
    assert response.status_code == 200, response.text
    # Laid out for a small room (2 m): four calls at once fit large; at the default 6 m fewer
    # are held large, each at reading size (test_screen_reading.py).
    screen = await open_page(
        browser, engine_server, own_push, f"/screen/{cc.clinic}?distance=2", cc.tokens["display"]
    )
    await expect(screen.locator("#conn")).to_have_attribute("data-state", "online", timeout=WAIT_MS)
    await _on_duty(cc, "d0", "d1", "d2", "d3")
    await _issue(cc, 17)

    first = await _call(cc, "c0")
    await expect(screen.locator("#hero .call").first).to_contain_text(
        "Процедурный 310", timeout=WAIT_MS
    )
    alone = await _fits(screen)
    assert alone["bad"] == [] and alone["hero"] == 1, alone
    await _act(cc, first["id"], "no-show")

    for round_ in range(4):
        for cabinet in LONG_NAMES:
            ticket = await _call(cc, cabinet)
            if round_ < 3:
                await _act(cc, ticket["id"], "no-show")
    last = ticket["number"]
    await expect(screen.locator(f"#hero .call[data-number={last}]")).to_be_visible(timeout=WAIT_MS)
    await screen.wait_for_function("document.querySelectorAll('#recent li').length === 12")
    many = await _fits(screen)
    assert many["bad"] == [], many
    assert many["hero"] == 4 and many["recent"] >= 3, many
    assert screen.errors == []
    await screen.close()


async def test_the_clock_shows_the_clinics_time_not_the_browsers(
    clinics: MakeClinic, engine_server: EngineServer, own_push: PushServer, browser: Any
) -> None:
    """A browser in New York showing a Kamchatka clinic's screen shows Kamchatka's time."""
    from playwright.async_api import expect

    zone = ZoneInfo("Asia/Kamchatka")
    cc = await clinics("clock", timezone="Asia/Kamchatka")
    page = await browser.new_page(
        viewport={"width": 1920, "height": 1080}, timezone_id="America/New_York"
    )
    before = datetime.now(zone).strftime("%H:%M")
    await page.goto(
        f"{engine_server.url}/screen/{cc.clinic}?push={own_push.ws}&token={cc.tokens['display']}"
    )
    await expect(page.locator("#clock")).not_to_be_empty(timeout=WAIT_MS)
    shown = await page.locator("#clock").text_content()
    after = datetime.now(zone).strftime("%H:%M")
    assert shown in (before, after)
    await page.close()


async def _named(
    clinics: MakeClinic, admin_token: str, name: str, names: dict[str, str], **config: Any
) -> ClinicClient:
    """A test clinic with four therapists whose cabinets have ``names``."""
    cc = await clinics(name, doctors=4, **config)
    body = clinic_config(cc.clinic, doctors=4)
    body.update(config)
    body["cabinets"] = [{"id": k, "name": v} for k, v in names.items()]
    response = await cc.http.put(
        cc.api, json=body, headers={"Authorization": f"Bearer {admin_token}"}
    )
    assert response.status_code == 200, response.text
    return cc


# Seen from 5 m: the sizes the reviewer found too small were 38 px (every line) and 17 px
# ("(повторно)"); these floors hold with the names below, with some room to spare.
ONE_CALL_NUMBER_MIN_PX = 100
ONE_CALL_MIN_PX = 80
FOUR_CALLS_NUMBER_MIN_PX = 60
FOUR_CALLS_CABINET_MIN_PX = 52
RECENT_MIN_PX = 40
AGAIN_MIN_PX = 28


async def test_a_long_cabinet_name_wraps_under_a_large_number(
    clinics: MakeClinic,
    engine_server: EngineServer,
    own_push: PushServer,
    browser: Any,
    admin_token: str,
) -> None:
    """One call to "Отделение профилактики, кабинет 205", then four fresh calls to long names:
    the numbers and cabinets stay large (the name wraps), recent lines and "(повторно)" readable."""
    from playwright.async_api import expect

    names = {
        "c0": "Отделение профилактики, кабинет 205",
        "c1": "Кабинет функциональной диагностики 102",
        "c2": "Кабинет функциональной диагностики 104",
        "c3": "Процедурный 310",
    }
    cc = await _named(clinics, admin_token, "heromin", names)
    # Laid out for a small room (2 m): four calls at once fit large; at the default 6 m fewer
    # are held large, each at reading size (test_screen_reading.py).
    screen = await open_page(
        browser, engine_server, own_push, f"/screen/{cc.clinic}?distance=2", cc.tokens["display"]
    )
    await expect(screen.locator("#conn")).to_have_attribute("data-state", "online", timeout=WAIT_MS)
    await _on_duty(cc, "d0", "d1", "d2", "d3")
    await _issue(cc, 9)

    first = await _call(cc, "c0")
    await expect(screen.locator("#hero .call").first).to_contain_text(names["c0"], timeout=WAIT_MS)
    one = await _fits(screen)
    assert one["bad"] == [] and one["hero"] == 1, one
    assert one["heroNumber"] >= ONE_CALL_NUMBER_MIN_PX and one["heroCab"] >= ONE_CALL_MIN_PX, one
    await _act(cc, first["id"], "no-show")

    # Three more before the four fresh ones, one of them recalled: a recent line after those.
    recalled = await _call(cc, "c3")
    await _act(cc, recalled["id"], "recall")
    await expect(screen.locator("#hero .again")).to_be_visible(timeout=WAIT_MS)
    await _act(cc, recalled["id"], "no-show")
    for round_, cabinets in enumerate((["c1", "c2"], list(names))):
        for cabinet in cabinets:
            ticket = await _call(cc, cabinet)
            if round_ == 0:
                await _act(cc, ticket["id"], "no-show")
    await expect(screen.locator(f"#hero .call[data-number={ticket['number']}]")).to_be_visible(
        timeout=WAIT_MS
    )
    await expect(screen.locator("#hero .call")).to_have_count(4, timeout=WAIT_MS)
    four = await _fits(screen)
    assert four["bad"] == [] and four["recent"] >= 3, four
    assert four["heroNumber"] >= FOUR_CALLS_NUMBER_MIN_PX, four
    assert four["heroCab"] >= FOUR_CALLS_CABINET_MIN_PX, four
    assert four["recentLine"] >= RECENT_MIN_PX, four
    # The recalled ticket is a recent line now; its marker is read from across the hall.
    await expect(
        screen.locator(f"#recent [data-number={recalled['number']}] .again")
    ).to_be_visible()
    assert four["again"] >= AGAIN_MIN_PX, four
    assert screen.errors == []
    await screen.close()


async def test_a_screen_opened_without_a_token_says_so_at_once(
    clinics: MakeClinic, engine_server: EngineServer, own_push: PushServer, browser: Any
) -> None:
    """No ?token= in the link: the screen says the link has no token, and never tries a socket."""
    from playwright.async_api import expect

    cc = await clinics("notoken")
    page = await browser.new_page(viewport={"width": 1920, "height": 1080})
    sockets: list[str] = []
    page.on("websocket", lambda ws: sockets.append(ws.url))
    await page.goto(f"{engine_server.url}/screen/{cc.clinic}?push={own_push.ws}")
    dead = page.locator(DEAD)
    await expect(dead).to_be_visible(timeout=WAIT_MS)
    await expect(dead).to_contain_text("нет токена")
    await expect(dead).not_to_contain_text("не отвечает")
    await expect(dead).to_have_attribute("data-reason", "refused")
    assert sockets == []
    await page.close()


async def test_an_english_voice_spells_a_russian_ticket_number(
    clinics: MakeClinic, engine_server: EngineServer, own_push: PushServer, browser: Any
) -> None:
    """?lang=en on a Russian clinic: "Т-001" is said letter and digits apart, the cabinet as is."""
    from playwright.async_api import expect

    cc = await clinics("voice")
    screen = await open_page(
        browser, engine_server, own_push, f"/screen/{cc.clinic}?lang=en", cc.tokens["display"]
    )
    await expect(screen.locator("#conn")).to_have_attribute("data-state", "online", timeout=WAIT_MS)
    await _on_duty(cc, "d0")
    await _issue(cc)
    await _call(cc, "c0")
    await screen.wait_for_function("window.CQ_ANNOUNCED.length === 1", timeout=WAIT_MS)
    assert await screen.evaluate("window.CQ_ANNOUNCED") == [
        "Ticket Т 0 0 1. Please go to Кабинет 0."
    ]
    assert screen.errors == []
    await screen.close()


async def test_a_no_show_leaves_the_large_area_for_the_recent_list(
    clinics: MakeClinic, engine_server: EngineServer, own_push: PushServer, browser: Any
) -> None:
    """A patient marked a no-show is not coming: their call leaves the large area at once (it
    would otherwise stay there as the latest call) and stays listed among the recent calls."""
    from playwright.async_api import expect

    cc = await clinics("noshowscreen")
    await _on_duty(cc, "d0")
    await _issue(cc, 2)
    screen = await open_page(
        browser, engine_server, own_push, f"/screen/{cc.clinic}", cc.tokens["display"]
    )
    await expect(screen.locator("#conn")).to_have_attribute("data-state", "online", timeout=WAIT_MS)
    first = await _call(cc, "c0")
    hero = screen.locator(f"#hero [data-number={first['number']}]")
    await expect(hero).to_be_visible(timeout=WAIT_MS)
    await _act(cc, first["id"], "no-show")
    await expect(hero).to_have_count(0, timeout=WAIT_MS)
    await expect(screen.locator(f"#recent [data-number={first['number']}]")).to_be_visible()
    await expect(screen.locator("#hero")).not_to_contain_text("Вызовов пока нет")
    second = await _call(cc, "c0")
    await expect(screen.locator(f"#hero [data-number={second['number']}]")).to_be_visible(
        timeout=WAIT_MS
    )
    assert screen.errors == []
    await screen.close()
