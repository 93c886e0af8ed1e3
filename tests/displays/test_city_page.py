"""The city overview: the situation centre's colours for how soon a therapist can be seen, a
legend saying them, tiles worst first as the data changes; the one-call first free slot search;
the catalogue's numbers and plurals in the page's language."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from tests.displays.browsing import BROWSER, WAIT_MS, open_page
from tests.displays.support import PushServer
from tests.support import ClinicClient, EngineServer, MakeClinic, clinic_config, midday_zone

# Days from the clinic's today to its therapist's only weekday (None: no schedule at all).
CASES = {"none": None, "red": 5, "yellow": 3, "oneday": 1, "green": 0}


async def clinic_free_in(
    clinics: MakeClinic, name: str, days: int | None, zone: str
) -> ClinicClient:
    """A clinic whose bookable therapist works only on the weekday ``days`` from today (every
    day for 0, never for None), all day long; it is midday there, so today's slots are ahead."""
    cc = await clinics(f"city-{name}")
    await configure(cc, days, zone)
    return cc


async def configure(cc: ClinicClient, days: int | None, zone: str) -> None:
    config: dict[str, Any] = clinic_config(cc.clinic, timezone=zone)
    config["name"] = f"Поликлиника {cc.clinic}"
    doctors: list[dict[str, Any]] = config["doctors"]  # type: ignore[assignment]
    if days is None:
        doctors[0].pop("schedule")
    elif days > 0:
        today = datetime.now(ZoneInfo(zone)).date()
        doctors[0]["schedule"]["weekdays"] = [(today + timedelta(days=days)).isoweekday()]
    put = await cc.http.put(cc.api, json=config, headers=cc.auth("admin"))
    assert put.status_code == 200, put.text


async def first_free(cc: ClinicClient, role: str = "display", **query: str) -> Any:
    response = await cc.http.get(cc.api + "/slots/first-free", params=query, headers=cc.auth(role))
    return response


@pytest.mark.integration
async def test_first_free_slot_is_one_call(clinics: MakeClinic) -> None:
    """/slots/first-free answers how many days until the first free slot of a service, skipping
    a held one; None when nothing is free in the booking window."""
    zone = midday_zone()
    made = {name: await clinic_free_in(clinics, name, days, zone) for name, days in CASES.items()}
    for name, days in CASES.items():
        response = await first_free(made[name], service="therapy")
        assert response.status_code == 200, response.text
        answer = response.json()
        assert answer["days"] == days, (name, answer)
        assert answer["today"] == datetime.now(ZoneInfo(zone)).date().isoformat()
        assert (answer["slot"] is None) == (days is None)
    green = made["green"]
    first = (await first_free(green, role="partner", service="therapy")).json()["slot"]
    held = await green.http.post(
        f"{green.api}/slots/{first['id']}/reservation", json={"patient": "P"},
        headers=green.auth("registrar", "city-hold"),
    )  # fmt: skip
    assert held.status_code == 201, held.text
    after = (await first_free(green)).json()
    assert after["slot"]["start"] > first["start"] and after["days"] == 0
    assert (await first_free(green)).json()["service"] == "therapy"  # the first service by default
    unknown = await first_free(green, service="dentist")
    assert unknown.status_code == 404 and unknown.json()["error"]["code"] == "service_not_found"
    assert (await first_free(green, role="other_clinic_head")).status_code == 403
    assert (await green.http.get(green.api + "/slots/first-free")).status_code == 401


async def tile_order(page: Any, ids: list[str]) -> list[str]:
    """The test clinics' tiles in page order (other tests' clinics are on the page too)."""
    order: list[str] = await page.eval_on_selector_all(
        "#tiles > li", "tiles => tiles.map(t => t.dataset.clinic)"
    )
    return [i for i in order if i in ids]


def in_browser(test: Any) -> Any:
    for mark in BROWSER:
        test = mark(test)
    return test


async def wait_for_order(page: Any, want: list[str]) -> None:
    """Wait until the given clinics' tiles stand in this order (others may stand between)."""
    js = """want => {
        const order = [...document.querySelectorAll('#tiles > li')].map(t => t.dataset.clinic);
        return JSON.stringify(order.filter(i => want.includes(i))) === JSON.stringify(want);
    }"""
    try:
        await page.wait_for_function(js, arg=want, timeout=WAIT_MS)
    except Exception:
        assert await tile_order(page, want) == want
        raise


@in_browser
async def test_city_colours_legend_and_worst_first(
    clinics: MakeClinic,
    engine_server: EngineServer,
    push_server: PushServer,
    browser: Any,
) -> None:
    """Green only for today, yellow for 1-4 days, red for 5+ or none; a legend says so; tiles
    are worst first, and move when a clinic's data changes; unstaffed queues are said."""
    from playwright.async_api import Route, expect

    zone = midday_zone()
    made = {name: await clinic_free_in(clinics, name, days, zone) for name, days in CASES.items()}
    ids = {name: cc.clinic for name, cc in made.items()}
    admin = made["green"].tokens["admin"]

    # The colleague's "unstaffed" rows on the board: a queue waiting with nobody on duty.
    async def unstaffed(route: Route) -> None:
        response = await route.fetch()
        board = await response.json()
        for q in board["queues"]:
            if q["service"] == "therapy":
                q.update(unstaffed=True, waiting=3)
        await route.fulfill(response=response, body=json.dumps(board))

    page = await open_page(browser, engine_server, push_server, "/city?every=2", admin)
    await page.route(f"**/api/v1/clinics/{ids['oneday']}/board", unstaffed)
    tiles = {name: page.locator(f"[data-clinic={ids[name]}]") for name in CASES}
    expected = {
        "none": "red",
        "red": "red",
        "yellow": "yellow",
        "oneday": "yellow",
        "green": "green",
    }
    for name, level in expected.items():
        await expect(tiles[name]).to_have_attribute("data-slots", level, timeout=WAIT_MS)
    await expect(tiles["green"].locator(".slots")).to_contain_text("есть запись сегодня")
    await expect(tiles["oneday"].locator(".slots")).to_contain_text("Терапевт: через 1 день")
    await expect(tiles["yellow"].locator(".slots")).to_contain_text("Терапевт: через 3 дня")
    await expect(tiles["red"].locator(".slots")).to_contain_text("Терапевт: через 5 дней")
    await expect(tiles["none"].locator(".slots")).to_contain_text("нет свободной записи")
    await expect(tiles["green"].locator(".slots .level")).to_have_text("● сегодня")

    legend = page.locator("#legend")
    await expect(legend).to_contain_text("свободно сегодня")
    await expect(legend).to_contain_text("через 1–4 дня")
    await expect(legend).to_contain_text("через 5 дней и позже")
    await expect(legend).to_contain_text("Сначала худшие")

    # Unstaffed: said in words, and the clinic's queues count as red.
    await expect(tiles["oneday"].locator(".unstaffed")).to_have_text(
        "Нет врача на смене: Терапевт (ждут: 3)", timeout=WAIT_MS
    )
    await expect(tiles["oneday"]).to_have_attribute("data-level", "red")
    await expect(tiles["green"].locator(".unstaffed")).to_be_hidden()
    # Each line has its own colour; the tile's outline is the worse of the two.
    await expect(tiles["oneday"].locator(".wait")).to_have_attribute("data-level", "red")
    await expect(tiles["oneday"].locator(".wait .level")).to_have_text("■ нет врача")
    await expect(tiles["oneday"].locator(".slots")).to_have_attribute("data-level", "yellow")
    await expect(tiles["oneday"]).to_have_attribute("data-worst", "red")
    await expect(tiles["yellow"]).to_have_attribute("data-worst", "yellow")

    # The wall's clock keeps the city's time (the zone most of its clinics keep: earlier tests'
    # clinics count too), not the browser's.
    city_zone = await page.evaluate(
        "JSON.parse(document.getElementById('cq-config').textContent).timezone"
    )
    shown = await page.locator("#clock").text_content()
    now = datetime.now(ZoneInfo(city_zone))
    assert shown in {f"{t:%H:%M}" for t in (now - timedelta(minutes=1), now)}, (shown, city_zone)

    # Worst first: red on either count (the later slot first), then yellow, then green.
    want = [ids[n] for n in ("none", "red", "oneday", "yellow", "green")]
    await wait_for_order(page, want)

    # Live: the green clinic's therapist now works only 6 days from today.
    await configure(made["green"], 6, zone)
    await expect(tiles["green"]).to_have_attribute("data-slots", "red", timeout=WAIT_MS)
    want = [ids[n] for n in ("none", "green", "red", "oneday", "yellow")]
    await wait_for_order(page, want)
    assert page.errors == []
    await page.close()


@in_browser
async def test_numbers_and_plurals_follow_the_language(
    clinics: MakeClinic,
    engine_server: EngineServer,
    push_server: PushServer,
    browser: Any,
) -> None:
    """The pages' t(): "0,1 мин" in Russian, "0.1 min" in English; day counts in plural."""
    cc = await clinics("city-words")
    cases = {
        "ru": [
            ("wait_min", {"minutes": 0.1}, "≈ 0,1 мин"),
            ("city_waiting", {"count": 1234}, "Ждут: 1\u00a0234"),
            ("city_slot_days", {"count": 1}, "Терапевт: через 1 день"),
            ("city_slot_days", {"count": 2}, "Терапевт: через 2 дня"),
            ("city_slot_days", {"count": 5}, "Терапевт: через 5 дней"),
            ("city_slot_days", {"count": 21}, "Терапевт: через 21 день"),
            ("city_slot_days", {"count": 1.5}, "Терапевт: через 1,5 дня"),
        ],
        "en": [
            ("wait_min", {"minutes": 0.1}, "≈ 0.1 min"),
            ("city_slot_days", {"count": 1}, "Therapist: in 1 day"),
            ("city_slot_days", {"count": 2}, "Therapist: in 2 days"),
        ],
    }
    for lang, said in cases.items():
        page = await open_page(
            browser, engine_server, push_server, f"/city?lang={lang}", cc.tokens["admin"]
        )
        for key, values, text in said:
            assert await page.evaluate("([k, v]) => CQ.t(k, v)", [key, values]) == text
        await page.close()
