"""The ICU doctor's desk in headless Chromium, against the engine and its notifier: admit a
patient, add a relative, record vitals (a mistyped value said as it is typed), see the next SMS
change, withdraw a consent, record a death and see the relatives' queued messages cancelled and
the alert shown. Every step is checked through the ICU API as well as on the page."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import asyncpg

from notifier.settings import NotifierSettings
from notifier.worker import Worker
from tests.displays.browsing import BROWSER, WAIT_MS, open_page, shot
from tests.displays.support import PushServer
from tests.support import TEST_KEY, ClinicClient, EngineServer, MakeClinic, clinic_config

ICU = "/api/v1/icu/patients"


def in_browser(test: Callable[..., Any]) -> Callable[..., Any]:
    for mark in BROWSER:
        test = mark(test)
    return test


async def icu_get(cc: ClinicClient, path: str) -> Any:
    response = await cc.http.get(ICU + path, headers=cc.auth("icu_doctor"))
    assert response.status_code == 200, response.text
    return response.json()


async def queue_tomorrows_messages(db: asyncpg.Pool) -> int:
    """What the sender does at tomorrow's send time, without sending: queue the day's rows."""
    settings = NotifierSettings(encryption_key=bytes.fromhex(TEST_KEY), smsc_login="")
    tomorrow_evening = datetime.now(UTC) + timedelta(days=1, hours=2)
    worker = Worker(db, settings, clock=lambda: tomorrow_evening)
    try:
        return await worker.enqueue_due()
    finally:
        await worker.close()


async def send_within_the_hour(cc: ClinicClient) -> str:
    """The hospital sends its daily SMS an hour from now, with no quiet hours: values recorded
    now are fresh at send time, whatever the hour the test runs."""
    at = (datetime.now(ZoneInfo("Europe/Moscow")) + timedelta(hours=1)).strftime("%H:%M")
    config = {
        **clinic_config(cc.clinic),
        "icu": {"send_at": at, "quiet_start": "00:00", "quiet_end": "00:00"},
    }
    response = await cc.http.put(cc.api, json=config, headers=cc.auth("admin"))
    assert response.status_code == 200, response.text
    return at


@in_browser
async def test_an_icu_doctor_runs_the_seeds_service_from_the_desk(
    clinics: MakeClinic,
    engine_server: EngineServer,
    own_push: PushServer,
    browser: Any,
    db: asyncpg.Pool,
) -> None:
    from playwright.async_api import expect

    cc = await clinics("icudesk")
    sends_at = await send_within_the_hour(cc)
    patient = f"MK-{cc.clinic[-6:]}"
    page = await open_page(
        browser, engine_server, own_push, f"/icu/{cc.clinic}", cc.tokens["icu_doctor"]
    )
    await expect(page.locator("#schedule")).to_contain_text(sends_at, timeout=WAIT_MS)

    # Admit: the patient opens at once.
    await page.fill("#admit [name=patient_id]", patient)
    await page.fill("#admit [name=label]", "Петров П.П.")
    await page.click("#admit button")
    await expect(page.locator("#p-label")).to_contain_text("Петров П.П.", timeout=WAIT_MS)
    assert (await icu_get(cc, f"/{patient}/next-message"))["status"] == "admitted"

    # A relative: the number checked, shown masked, not left in the form.
    await page.fill("#add-relative [name=phone]", "8 (916) 555-12-34")
    await page.fill("#add-relative [name=relation]", "дочь")
    await page.click("#add-relative button")
    row = page.locator("#relative-rows tr")
    await expect(row).to_have_count(1, timeout=WAIT_MS)
    await expect(row.locator(".phone")).to_have_text("+7 *** ***-12-34")
    assert await page.input_value("#add-relative [name=phone]") == ""
    assert "555-12-34" not in await page.content()
    [relative] = (await icu_get(cc, f"/{patient}/relatives"))["relatives"]
    assert relative["active"] and relative["relation"] == "дочь"
    await page.fill("#add-relative [name=phone]", "12345")
    await page.fill("#add-relative [name=relation]", "сын")
    await page.click("#add-relative button")
    await expect(page.locator('.message[data-for="relatives"]')).to_have_attribute(
        "data-kind", "error", timeout=WAIT_MS
    )

    # Vitals: an impossible temperature is said beside its field and nothing is sent.
    sms = page.locator("#next-messages .sms-text")
    await expect(sms).to_contain_text("Т не измер.;", timeout=WAIT_MS)  # nothing measured yet
    await page.fill("#vitals [name=temperature]", "63")
    hint = page.locator('[data-field="temperature"] .hint')
    await expect(hint).to_have_attribute("data-kind", "error")
    await page.click("#save-vitals")
    await expect(page.locator('.message[data-for="vitals"]')).to_have_attribute(
        "data-kind", "error"
    )
    assert await icu_get(cc, f"/{patient}/observations") == {}
    await page.fill("#vitals [name=temperature]", "38,2")
    await page.fill("#vitals [name=pulse]", "96")
    await page.fill("#vitals [name=bp_systolic]", "130")
    await page.fill("#vitals [name=bp_diastolic]", "85")
    await page.fill("#vitals [name=spo2]", "94")
    await page.select_option("#vitals [name=conscious]", "true")
    await page.select_option("#vitals [name=dynamics]", "positive")
    await page.click("#save-vitals")
    await expect(sms).to_contain_text("38,2", timeout=WAIT_MS)
    await expect(sms).to_contain_text("130/85")
    latest = await icu_get(cc, f"/{patient}/observations")
    assert latest["temperature"]["value"] == 38.2 and latest["blood_pressure"]["value"] == [130, 85]
    await expect(page.locator('[data-latest="temperature"]')).to_contain_text("38,2")
    await expect(page.locator(f"#patient-list [data-patient='{patient}']")).to_be_visible()
    await page.evaluate("window.scrollTo(0, 0)")
    await shot(page, "icu")

    # Tomorrow evening's message is queued; a death cancels it and raises the alert.
    assert await queue_tomorrows_messages(db) >= 1
    await page.click("button[data-status=deceased]")
    dialog = page.locator("#confirm")
    await expect(dialog).to_be_visible()
    await expect(dialog).to_contain_text("нельзя отменить")
    await page.click("#confirm-ok")
    await expect(page.locator("#p-status")).to_have_text("умер", timeout=WAIT_MS)
    await expect(page.locator("#alert-list li[data-kind=patient_deceased]")).to_be_visible(
        timeout=WAIT_MS
    )
    await expect(page.locator("#next-messages")).to_contain_text("не отправляются")
    await expect(page.locator(".actions button:visible")).to_have_count(0)
    await expect(page.locator("#vitals-card")).to_be_hidden()  # nothing is recorded after a death
    await expect(page.locator("#p-label")).to_be_focused()
    messages = (await icu_get(cc, f"/{patient}/messages"))["messages"]
    assert messages and {m["state"] for m in messages} == {"cancelled"}
    await expect(page.locator("#sent-rows tr[data-state=cancelled]")).to_have_count(len(messages))
    assert page.errors == []


@in_browser
async def test_a_withdrawn_consent_leaves_the_next_message_and_stays_in_the_history(
    clinics: MakeClinic, engine_server: EngineServer, own_push: PushServer, browser: Any
) -> None:
    from playwright.async_api import expect

    cc = await clinics("icuwithdraw")
    patient = f"W-{cc.clinic[-6:]}"  # ids are city-wide: one a run
    admitted = await cc.http.put(f"{ICU}/{patient}/status", json={"status": "admitted", "label": "I. Ivanov"},
                                 headers=cc.auth("icu_doctor"))  # fmt: skip
    assert admitted.status_code == 200, admitted.text
    for phone, language in (("+79165551111", "en"), ("+79165552222", "ru")):
        added = await cc.http.post(f"{ICU}/{patient}/relatives",
                                   json={"phone": phone, "relation": "son", "language": language},
                                   headers=cc.auth("icu_doctor"))  # fmt: skip
        assert added.status_code == 201, added.text
    page = await open_page(browser, engine_server, own_push,
                           f"/icu/{cc.clinic}?patient={patient}&lang=en", cc.tokens["icu_doctor"])  # fmt: skip
    await expect(page.locator("#next-messages .sms")).to_have_count(2, timeout=WAIT_MS)
    await expect(page.locator("#next-messages .sms").first).to_contain_text("EN")
    await page.locator("#relative-rows tr", has_text="11-11").get_by_role("button").click()
    await expect(page.locator("#confirm")).to_be_visible()
    await expect(page.locator("#confirm-title")).to_contain_text("son, +7 *** ***-11-11")
    await page.click("#confirm-ok")
    await expect(page.locator("#next-messages .sms")).to_have_count(1, timeout=WAIT_MS)
    withdrawn = page.locator("#relative-rows tr[data-active=false]")
    await expect(withdrawn).to_contain_text("consent withdrawn")
    relatives = (await icu_get(cc, f"/{patient}/relatives"))["relatives"]
    assert [r["active"] for r in relatives] == [False, True]
    assert [h["action"] for h in relatives[0]["history"]] == ["granted", "revoked"]
    # The admission form never renames a patient the hospital has: it opens them instead.
    await page.fill("#admit [name=patient_id]", patient)
    await page.fill("#admit [name=label]", "P. Petrova")
    await page.click("#admit button")
    await expect(page.locator('.message[data-for="admit"]')).to_contain_text("already here")
    patients = (await icu_get(cc, ""))["patients"]
    assert [(p["patient_id"], p["label"]) for p in patients] == [(patient, "I. Ivanov")]
    # Cancelling the dialog changes nothing.
    await page.locator("#relative-rows tr", has_text="22-22").get_by_role("button").click()
    await page.click("#confirm button[value=cancel]")
    assert [r["active"] for r in (await icu_get(cc, f"/{patient}/relatives"))["relatives"]] == [
        False,
        True,
    ]
    assert page.errors == []
