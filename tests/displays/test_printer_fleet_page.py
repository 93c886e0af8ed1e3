"""The printer fleet view: every kiosk printer on the head's dashboard, following the clinic's
live socket (a printer change is a "printer" frame, no polling), and each clinic's printers on
its city tile; a printer silent for long in opening hours is an alert."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from engine import keys
from tests.displays.browsing import BROWSER, WAIT_MS, open_page
from tests.displays.support import PushServer
from tests.support import ClinicClient, EngineServer, MakeClinic, redis_client
from tests.ticketing.fake_printer import FakePrinter
from ticketing.fleet import SILENT_MINUTES

SHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
pytestmark = BROWSER
SCENARIOS = {"hall-1": "online", "hall-2": "silent", "hall-3": "paper_out"}


@pytest.fixture
def fakes() -> Iterator[dict[str, FakePrinter]]:
    printers = {kiosk: FakePrinter(scenario) for kiosk, scenario in SCENARIOS.items()}
    yield printers
    for printer in printers.values():
        printer.close()


async def print_at(cc: ClinicClient, kiosk: str) -> None:
    taken = await cc.http.post(
        cc.api + "/tickets", json={"service": "therapy"}, headers=cc.auth("kiosk")
    )
    assert taken.status_code == 201, taken.text
    response = await cc.http.post(
        f"{cc.api}/kiosks/{kiosk}/print",
        json={"ticket": taken.json()["id"]},
        headers=cc.auth("kiosk"),
    )
    assert response.status_code == 202, response.text


async def test_fleet_on_the_dashboard_and_the_city_follows_the_printers_live(
    clinics: MakeClinic,
    engine_server: EngineServer,
    push_server: PushServer,
    fakes: dict[str, FakePrinter],
    browser: Any,
) -> None:
    """Before any job every kiosk is listed (unknown, no alert); after one job each, live on the
    open page: hall-1 printed (last answer and last ticket), hall-2 one unconfirmed, hall-3 one
    failed and out of paper; hall-1 then silent for SILENT_MINUTES is flagged; the city tile
    names the printers that need someone."""
    from playwright.async_api import expect

    cc = await clinics(
        "fleet", kiosks=[{"id": k, "printer": fake.url} for k, fake in fakes.items()]
    )
    refused = await cc.http.get(cc.api + "/printers", headers=cc.auth("kiosk"))
    assert (refused.status_code, refused.json()["error"]["code"]) == (403, "forbidden")

    page = await open_page(
        browser, engine_server, push_server, f"/dashboard/{cc.clinic}", cc.tokens["head"]
    )
    rows = page.locator("#fleet tbody tr")
    await expect(rows).to_have_count(3, timeout=WAIT_MS)
    await expect(page.locator("#fleet tr[data-kiosk=hall-1]")).to_have_attribute(
        "data-state", "unknown"
    )
    await expect(page.locator("#fleet tr[data-kiosk=hall-1] td.printed")).to_have_text("—")

    for kiosk in SCENARIOS:
        await print_at(cc, kiosk)
    one, two, three = (page.locator(f"#fleet tr[data-kiosk={k}]") for k in SCENARIOS)
    await expect(one).to_have_attribute("data-state", "ok", timeout=WAIT_MS)
    await expect(one.locator("td.printed")).not_to_have_text("—")
    await expect(one.locator("td.seen")).not_to_have_text("—")
    await expect(two.locator("td.unconfirmed")).to_have_text("1", timeout=WAIT_MS)
    await expect(two).to_have_attribute("data-level", "yellow")
    await expect(three).to_have_attribute("data-state", "paper_out", timeout=WAIT_MS)
    await expect(three.locator("td.failed")).to_have_text("1")
    await expect(three).to_have_attribute("data-level", "red")

    fleet = (await cc.http.get(cc.api + "/printers", headers=cc.auth("registrar"))).json()
    by_kiosk = {p["kiosk"]: p for p in fleet["printers"]}
    assert (by_kiosk["hall-1"]["failed_today"], by_kiosk["hall-1"]["unconfirmed_today"]) == (0, 0)
    assert by_kiosk["hall-1"]["last_printed"] is not None
    assert (by_kiosk["hall-2"]["unconfirmed_today"], by_kiosk["hall-2"]["last_seen"]) == (1, None)
    assert by_kiosk["hall-3"]["failed_today"] == 1

    # hall-1 last answered SILENT_MINUTES ago (the clinic's doctors work all day): an alert,
    # announced on the same stream every printer change takes.
    client = redis_client(engine_server.redis_url)
    try:
        long_ago = int(time.time() * 1000) - (SILENT_MINUTES + 2) * 60000
        await client.hset(keys.clinic_key(cc.clinic, "printers:stats"), "hall-1:seen", long_ago)
        await client.xadd(keys.printer_log(cc.clinic), {"k": "hall-1"})
    finally:
        await client.aclose()
    await expect(one).to_have_attribute("data-silent", str(SILENT_MINUTES + 2), timeout=WAIT_MS)
    await expect(one).to_have_attribute("data-level", "yellow")
    await expect(one.locator("td.state")).to_contain_text(f"молчит {SILENT_MINUTES + 2} мин")
    SHOTS.mkdir(parents=True, exist_ok=True)
    await page.locator("#fleet").scroll_into_view_if_needed()
    await page.screenshot(path=str(SHOTS / "dashboard-printers.png"))
    assert page.errors == []

    city = await open_page(browser, engine_server, push_server, "/city?every=2", cc.tokens["admin"])
    line = city.locator(f'[data-clinic="{cc.clinic}"] .printers')
    await expect(line).to_have_attribute("data-level", "red", timeout=WAIT_MS)
    await expect(line).to_have_attribute("data-bad", "3")
    await expect(line).to_contain_text("hall-3 нет бумаги")
    await city.locator(f'[data-clinic="{cc.clinic}"]').screenshot(
        path=str(SHOTS / "city-printers.png")
    )
    assert city.errors == []
    await page.close()
    await city.close()
