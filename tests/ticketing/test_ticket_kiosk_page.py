"""The kiosk page prints, and shows the ticket large when the printer fails; the dashboard alerts."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from fake_printer import FakePrinter

from tests.displays.browsing import BROWSER
from tests.support import EngineServer, MakeClinic

SHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
WAIT_MS = 10_000

pytestmark = BROWSER


async def test_kiosk_page_prints_or_falls_back_and_dashboard_alerts(
    clinics: MakeClinic,
    engine_server: EngineServer,
    printer_factory: Callable[..., FakePrinter],
    browser: Any,
) -> None:
    """A working printer: "take your ticket". Out of paper: the on-screen notice, the number and
    QR enlarged, a reprint button; the head's dashboard lists the printer as out of paper."""
    from playwright.async_api import expect

    working, empty = printer_factory("online"), printer_factory("paper_out")
    cc = await clinics(
        "kioskpage",
        kiosks=[{"id": "hall-1", "printer": working.url}, {"id": "hall-2", "printer": empty.url}],
    )
    errors: list[str] = []

    async def open_page(path: str, width: int = 1280, height: int = 1024) -> Any:
        page = await browser.new_page(viewport={"width": width, "height": height})
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        await page.goto(engine_server.url + path)
        return page

    pages = {}
    for kiosk in ("hall-1", "hall-2"):
        page = await open_page(f"/kiosk/{cc.clinic}?token={cc.tokens['kiosk']}&kiosk={kiosk}")
        await page.click("button[data-service=therapy]")
        pages[kiosk] = page

    ok, bad = pages["hall-1"], pages["hall-2"]
    await expect(ok.locator("#print-state")).to_have_attribute(
        "data-state", "printed", timeout=WAIT_MS
    )
    await expect(ok.locator("#print-state")).to_have_text("Возьмите талон из принтера")
    await expect(ok.locator("#reprint")).to_be_hidden()

    await expect(bad.locator("#print-state")).to_have_attribute(
        "data-state", "fallback", timeout=WAIT_MS
    )
    await expect(bad.locator("#print-state")).to_contain_text("Принтер не отвечает")
    await expect(bad.locator("#ticket")).to_have_class("ticket fallback")
    await expect(bad.locator("#ticket-number")).to_have_text("Т-002")
    await expect(bad.locator("#ticket-qr")).to_have_js_property("complete", True)
    await expect(bad.locator("#reprint")).to_be_visible()
    SHOTS.mkdir(parents=True, exist_ok=True)
    await bad.screenshot(path=str(SHOTS / "kiosk-fallback.png"))

    dashboard = await open_page(f"/dashboard/{cc.clinic}?token={cc.tokens['head']}", 1920, 1080)
    alert = dashboard.locator("#printers li[data-kiosk=hall-2]")
    await expect(alert).to_have_attribute("data-state", "paper_out", timeout=WAIT_MS)
    await expect(alert).to_contain_text("Киоск hall-2: нет бумаги")
    await expect(dashboard.locator("#printers li")).to_have_count(1)

    board = await cc.http.get(cc.api + "/board", headers=cc.auth("display"))
    assert [q["waiting"] for q in board.json()["queues"]] == [2, 0]
    assert errors == []
    for page in (ok, bad, dashboard):
        await page.close()


# kiosk: (scenario, job's final state, what the kiosk says, Russian), none of them "printed"
UNCONFIRMED = {
    "hall-silent": ("silent", "unconfirmed", "Принтер не подтвердил печать"),
    "hall-deaf": ("deaf", "unconfirmed", "Принтер не подтвердил печать"),
    "hall-once": ("once", "unconfirmed", "Принтер не подтвердил печать"),
    "hall-drop": ("drop", "unconfirmed", "Принтер не подтвердил печать"),
    "hall-cover": ("cover_open", "", "Принтер не отвечает"),
}


async def test_kiosk_page_never_says_printed_without_the_printers_word(
    clinics: MakeClinic,
    engine_server: EngineServer,
    printer_factory: Callable[..., FakePrinter],
    browser: Any,
) -> None:
    """Printers that do not confirm the job (silent, deaf, silent after answering once, dropped
    mid-job) and one with its cover open: the kiosk keeps the number and QR large with the reason
    (ru, and en with ?lang=en), one ticket each, and the dashboard lists every one of them."""
    from playwright.async_api import expect

    fakes = {kiosk: printer_factory(scenario) for kiosk, (scenario, _, _) in UNCONFIRMED.items()}
    cc = await clinics(
        "kioskunconfirmed",
        kiosks=[{"id": kiosk, "printer": fake.url} for kiosk, fake in fakes.items()],
    )
    errors: list[str] = []
    page = await browser.new_page(viewport={"width": 1280, "height": 1024})
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    for n, (kiosk, (_, why, said)) in enumerate(UNCONFIRMED.items(), start=1):
        lang = "&lang=en" if kiosk == "hall-once" else ""
        await page.goto(
            f"{engine_server.url}/kiosk/{cc.clinic}?token={cc.tokens['kiosk']}&kiosk={kiosk}{lang}"
        )
        await page.click("button[data-service=therapy]")
        state = page.locator("#print-state")
        await expect(state).to_have_attribute("data-state", "fallback", timeout=WAIT_MS)
        await expect(state).to_have_attribute("data-why", why)
        if lang:
            await expect(state).to_contain_text("The printer did not confirm the ticket")
        else:
            await expect(state).to_contain_text(said)
        await expect(page.locator("#ticket")).to_have_class("ticket fallback")
        await expect(page.locator("#ticket-number")).to_have_text(f"Т-{n:03d}")
        await expect(page.locator("#reprint")).to_be_visible()
        if kiosk == "hall-once":
            SHOTS.mkdir(parents=True, exist_ok=True)
            await page.screenshot(path=str(SHOTS / "kiosk-unconfirmed.png"))

    dashboard = await browser.new_page(viewport={"width": 1920, "height": 1080})
    await dashboard.goto(f"{engine_server.url}/dashboard/{cc.clinic}?token={cc.tokens['head']}")
    alerts = dashboard.locator("#printers li")
    await expect(alerts).to_have_count(len(UNCONFIRMED), timeout=WAIT_MS)
    await expect(dashboard.locator("#printers li[data-kiosk=hall-cover]")).to_contain_text(
        "открыта крышка"
    )
    await expect(dashboard.locator("#printers li[data-kiosk=hall-deaf]")).to_have_attribute(
        "data-state", "unknown"
    )

    board = await cc.http.get(cc.api + "/board", headers=cc.auth("display"))
    assert [q["waiting"] for q in board.json()["queues"]] == [len(UNCONFIRMED), 0]
    assert errors == []
    await page.close()
    await dashboard.close()
