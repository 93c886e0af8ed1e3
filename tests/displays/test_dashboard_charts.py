"""The dashboard's pictures of the day: charts per queue and per doctor, with their numbers."""

from __future__ import annotations

from typing import Any

from tests.displays.browsing import BROWSER, WAIT_MS, open_page, shot
from tests.displays.support import PushServer
from tests.support import ClinicClient, EngineServer, MakeClinic

pytestmark = BROWSER


async def _activity(cc: ClinicClient) -> None:
    """d0 sees two therapy patients and calls a third; a surgery patient waits for nobody."""
    r = await cc.http.put(
        f"{cc.api}/doctors/d0/duty", json={"status": "on_duty"}, headers=cc.auth("head")
    )
    assert r.status_code == 200, r.text
    for service in ("therapy", "therapy", "therapy", "surgery"):
        r = await cc.http.post(
            f"{cc.api}/tickets", json={"service": service}, headers=cc.auth("kiosk")
        )
        assert r.status_code == 201, r.text
    for _ in range(2):
        r = await cc.http.post(f"{cc.api}/cabinets/c0/call-next", headers=cc.auth("doctor"))
        tid = r.json()["ticket"]["id"]
        for action in ("start", "complete"):
            r = await cc.http.post(f"{cc.api}/tickets/{tid}/{action}", headers=cc.auth("doctor"))
            assert r.status_code == 200, r.text


async def test_charts_render_with_their_numbers_and_follow_live_events(
    clinics: MakeClinic, engine_server: EngineServer, push_server: PushServer, browser: Any
) -> None:
    """Each queue and doctor has a chart whose label holds the numbers; new tickets show up."""
    from playwright.async_api import expect

    cc = await clinics("charts")
    await _activity(cc)
    dash = await open_page(
        browser, engine_server, push_server, f"/dashboard/{cc.clinic}", cc.tokens["head"]
    )
    history = dash.locator("#history")
    therapy = history.locator("[data-history-queue=therapy]")
    await expect(therapy.locator(".now")).to_contain_text("выдано 3", timeout=WAIT_MS)
    await expect(therapy.locator(".now")).to_contain_text("принято 2")
    waiting = therapy.locator("svg[data-series=waiting]")
    await expect(waiting).to_have_attribute("role", "img")
    # The text equivalent: every bucket's time and value, the last one the one waiting now.
    label = await waiting.get_attribute("aria-label")
    assert label is not None and label.startswith("Терапевт — В очереди. ")
    assert len(label.split("; ")) == 16  # 4 hours in 15-minute buckets
    assert await therapy.locator("svg[data-series=longest]").count() == 1
    # Nobody saw therapy an hour ago: said as such, not as a wait of "not seeing patients".
    await expect(therapy.locator(".trend")).to_contain_text("Ожидание сейчас ≈ ")
    await expect(therapy.locator(".trend")).to_contain_text("; час назад приёма не было")
    await expect(therapy.locator(".trend")).not_to_contain_text("приём не ведётся")

    # The queue with a patient and no doctor says so in words, and its chart marks it.
    surgery = history.locator("[data-history-queue=surgery]")
    await expect(surgery).to_have_attribute("data-unstaffed", "true")
    await expect(surgery.locator(".unstaffed-note")).to_contain_text("нет врача на приёме")
    assert "нет врача на приёме" in (
        await surgery.locator("svg[data-series=waiting]").get_attribute("aria-label") or ""
    )

    d0 = dash.locator(".history-load [data-history-doctor=d0]")
    await expect(d0.locator(".load-text")).to_contain_text("принято 2")
    await expect(d0.locator(".load-text")).to_contain_text("с пациентами 0 мин (0% из 4 ч)")
    await expect(d0.locator("svg[data-series=served]")).to_have_attribute("role", "img")

    # Live: a new ticket reaches the charts through the push event, with no reload.
    await expect(dash.locator("#conn")).to_have_attribute("data-state", "online", timeout=WAIT_MS)
    r = await cc.http.post(
        f"{cc.api}/tickets", json={"service": "therapy"}, headers=cc.auth("kiosk")
    )
    assert r.status_code == 201, r.text
    await expect(therapy.locator(".now")).to_contain_text("выдано 4", timeout=WAIT_MS)
    await shot(dash, "dashboard_charts")
    assert dash.errors == []
    await dash.close()


async def test_a_wrong_token_says_the_history_is_unavailable(
    clinics: MakeClinic, engine_server: EngineServer, push_server: PushServer, browser: Any
) -> None:
    """A display token on the dashboard: the history section says it is refused, draws nothing."""
    from playwright.async_api import expect

    cc = await clinics("charts-denied")
    dash = await open_page(
        browser, engine_server, push_server, f"/dashboard/{cc.clinic}", cc.tokens["display"]
    )
    status = dash.locator("#history .history-status")
    await expect(status).to_have_attribute("data-kind", "error", timeout=WAIT_MS)
    await expect(status).to_contain_text("История недоступна")
    assert await dash.locator("#history svg").count() == 0
    await dash.close()
