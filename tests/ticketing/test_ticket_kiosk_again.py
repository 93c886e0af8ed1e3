"""A patient who checks in again at a kiosk with a printer sees the same ticket, and gets it on
paper again only by asking: the first job is reprinted, never a second ticket."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fake_printer import FakePrinter

from tests.displays.browsing import BROWSER
from tests.support import EngineServer, MakeClinic, book_later_today, midday_zone

WAIT_MS = 10_000
POLICY = "7700 123456"

pytestmark = BROWSER


async def test_a_repeated_check_in_prints_again_only_when_asked(
    clinics: MakeClinic,
    engine_server: EngineServer,
    printer_factory: Callable[..., FakePrinter],
    browser: Any,
) -> None:
    """First check-in: printed. Second: the same number, "already checked in", nothing printed
    until "Напечатать ещё раз", which prints the same paper again."""
    from playwright.async_api import expect

    printer = printer_factory("online")
    cc = await clinics(
        "kioskagainprint",
        timezone=midday_zone(),
        kiosks=[{"id": "hall-1", "printer": printer.url}],
    )
    booking, _ = await book_later_today(cc, POLICY)

    page = await browser.new_page(viewport={"width": 1280, "height": 1024})
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    await page.goto(
        f"{engine_server.url}/kiosk/{cc.clinic}?token={cc.tokens['kiosk']}&kiosk=hall-1"
    )

    def papers() -> list[bytes]:
        return [job for job in printer.jobs if job]  # status queries alone send nothing

    async def check_in(said: str) -> None:
        await page.click("#booking-open")
        await page.fill("#booking-code", booking)
        await page.fill("#booking-patient", POLICY)
        await page.click("#booking-form button[type=submit]")
        await expect(page.locator("#message")).to_have_text(said, timeout=WAIT_MS)
        await expect(page.locator("#ticket-number")).to_have_text("Т-001")

    state = page.locator("#print-state")
    await check_in("Вы отмечены. Ожидайте вызова.")
    await expect(state).to_have_attribute("data-state", "printed", timeout=WAIT_MS)
    assert len(papers()) == 1
    await page.click("#ticket button.back")

    await check_in("Вы уже отметились. Вот ваш талон.")
    await expect(page.locator("#reprint")).to_be_visible()
    await expect(state).to_be_hidden()
    assert len(papers()) == 1
    await page.click("#reprint")
    await expect(state).to_have_attribute("data-state", "printed", timeout=WAIT_MS)
    assert len(papers()) == 2 and papers()[0] == papers()[1]
    await expect(page.locator("#reprint")).to_be_hidden()
    assert errors == []
    await page.close()
