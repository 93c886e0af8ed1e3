"""The department head's dashboard in headless Chromium: controls that follow the live state,
refuse a stale change, offer what fits the doctor's state, and read well."""

from __future__ import annotations

from typing import Any

from tests.displays.browsing import BROWSER, WAIT_MS, board, open_page, shot
from tests.displays.support import PushServer
from tests.support import ClinicClient, EngineServer, MakeClinic

pytestmark = BROWSER


async def _dashboard(
    browser: Any, engine: EngineServer, push: PushServer, cc: ClinicClient, lang: str = ""
) -> Any:
    from playwright.async_api import expect

    path = f"/dashboard/{cc.clinic}" + (f"?lang={lang}" if lang else "")
    page = await open_page(browser, engine, push, path, cc.tokens["head"])
    await expect(page.locator("#conn")).to_have_attribute("data-state", "online", timeout=WAIT_MS)
    await expect(page.locator("tr[data-doctor=d1]")).to_have_count(1, timeout=WAIT_MS)
    return page


async def _editor(page: Any, doctor: str) -> Any:
    """Open the doctor's editor under their row ("Изменить"), return it."""
    from playwright.async_api import expect

    toggle = page.locator(f"tr[data-doctor={doctor}] button.edit")
    await toggle.click()
    await expect(toggle).to_have_attribute("aria-expanded", "true")
    return page.locator(f"tr.editor[data-editor-for={doctor}]")


async def _doctor(cc: ClinicClient, doctor: str) -> dict[str, Any]:
    row: dict[str, Any] = next(d for d in (await board(cc))["doctors"] if d["id"] == doctor)
    return row


async def test_controls_follow_a_colleagues_move_and_a_stale_apply_is_refused(
    clinics: MakeClinic, engine_server: EngineServer, push_server: PushServer, browser: Any
) -> None:
    """Two heads: one moves a doctor, the other's controls follow; an edit made against the
    old state is refused on apply, said, and the row shows what is now."""
    from playwright.async_api import expect

    cc = await clinics("dashsync")
    first = await _dashboard(browser, engine_server, push_server, cc)
    second = await _dashboard(browser, engine_server, push_server, cc)
    mine, theirs = first.locator("tr[data-doctor=d1]"), second.locator("tr[data-doctor=d1]")
    # Both editors open before anything changes: an open editor's controls follow live too.
    my_edit, their_edit = await _editor(first, "d1"), await _editor(second, "d1")

    await my_edit.locator("select.move-cabinet").select_option("c2")
    await my_edit.locator("input[value=therapy]").uncheck()
    await my_edit.locator("input[value=surgery]").check()
    await my_edit.locator("button.move").click()
    await expect(mine.locator("td.cabinet")).to_have_text("Кабинет 2", timeout=WAIT_MS)
    await expect(my_edit.locator(".row-message")).to_have_text("Готово")

    # The untouched dashboard follows: pressing "move" there now would change nothing.
    await expect(theirs.locator("td.cabinet")).to_have_text("Кабинет 2", timeout=WAIT_MS)
    await expect(their_edit.locator("select.move-cabinet")).to_have_value("c2")
    await expect(their_edit.locator("input[value=surgery]")).to_be_checked()
    await expect(their_edit.locator("input[value=therapy]")).not_to_be_checked()
    await expect(their_edit.locator("button.move")).to_be_disabled()

    # The second head starts an edit; meanwhile the first moves the doctor back to c1.
    await their_edit.locator("input[value=therapy]").check()
    await my_edit.locator("select.move-cabinet").select_option("c1")
    await my_edit.locator("button.move").click()
    await expect(theirs.locator("td.cabinet")).to_have_text("Кабинет 1", timeout=WAIT_MS)
    await expect(their_edit.locator("select.move-cabinet")).to_have_value("c2")  # held: editing
    await expect(their_edit.locator(".row-note")).to_contain_text("изменили")

    # Refused, and said in that row's editor (an alert), not at the bottom of the page.
    await their_edit.locator("button.move").click()
    error = their_edit.locator(".row-error")
    await expect(error).to_have_attribute("role", "alert")
    await expect(error).to_contain_text("ничего не применено", timeout=WAIT_MS)
    await expect(error).to_contain_text("Доктор 1 сейчас")
    await expect(error).to_contain_text("Кабинет 1")
    await expect(their_edit.locator("select.move-cabinet")).to_have_value("c1")
    await expect(their_edit.locator("input[value=therapy]")).not_to_be_checked()
    now = await _doctor(cc, "d1")
    assert (now["cabinet"], now["services"]) == ("c1", ["surgery"])
    assert first.errors == [] and second.errors == []
    await first.close()
    await second.close()


async def test_buttons_fit_the_doctors_state_and_a_shared_cabinet_is_warned(
    clinics: MakeClinic, engine_server: EngineServer, push_server: PushServer, browser: Any
) -> None:
    """Off: only start; on duty: break and end; on a break: back and end. Choosing a cabinet
    another doctor holds warns in the row before anything is applied."""
    from playwright.async_api import expect

    cc = await clinics("dashstate")
    dash = await _dashboard(browser, engine_server, push_server, cc)
    row = dash.locator("tr[data-doctor=d1]")
    edit = await _editor(dash, "d1")
    await expect(edit.locator("button.on-duty")).to_be_visible()
    await expect(edit.locator("button.break")).to_be_hidden()
    await expect(edit.locator("button.off")).to_be_hidden()

    await edit.locator("button.on-duty").click()
    await expect(row).to_have_attribute("data-status", "on_duty", timeout=WAIT_MS)
    await expect(edit.locator("button.on-duty")).to_be_hidden()
    await expect(edit.locator("button.off")).to_be_visible()
    await edit.locator("button.break").click()
    await expect(row).to_have_attribute("data-status", "break", timeout=WAIT_MS)
    await expect(edit.locator("button.break")).to_be_hidden()
    await expect(edit.locator("button.on-duty")).to_have_text("Вернуть с перерыва")

    # d0 takes c0; d1 (on a break, holding c1) may not be moved in beside d0.
    r = await cc.http.put(
        cc.api + "/doctors/d0/duty", json={"status": "on_duty"}, headers=cc.auth("head")
    )
    assert r.status_code == 200, r.text
    await edit.locator("select.move-cabinet").select_option("c0")
    await expect(edit.locator(".row-note")).to_contain_text("Кабинет 0 занят: там Доктор 0")
    await expect(edit.locator("button.move")).to_be_disabled()

    # d2 is off: placing them in c0 for later is allowed, with the warning, but no shift starts.
    other, other_edit = dash.locator("tr[data-doctor=d2]"), await _editor(dash, "d2")
    await other_edit.locator("select.move-cabinet").select_option("c0")
    await expect(other_edit.locator(".row-note")).to_contain_text("занят")
    await other_edit.locator("button.move").click()
    await expect(other.locator("td.cabinet")).to_have_text("Кабинет 0", timeout=WAIT_MS)
    await expect(other_edit.locator(".row-note")).to_contain_text("занят")
    await expect(other_edit.locator("button.on-duty")).to_be_disabled()
    assert dash.errors == []
    await dash.close()


async def test_what_if_reads_as_a_sentence_and_controls_are_touch_sized(
    clinics: MakeClinic, engine_server: EngineServer, push_server: PushServer, browser: Any
) -> None:
    """The forecast is one sentence in the page's language; names stay on one line; every
    control is at least 44 px high and works by keyboard."""
    from playwright.async_api import expect

    cc = await clinics("dashlook")
    for service in ("therapy", "therapy", "surgery"):
        r = await cc.http.post(
            cc.api + "/tickets", json={"service": service}, headers=cc.auth("kiosk")
        )
        assert r.status_code == 201, r.text
    dash = await _dashboard(browser, engine_server, push_server, cc)
    row = dash.locator("tr[data-doctor=d1]")
    # By keyboard: the row's button opens the editor, Tab enters it, Space ticks a queue.
    await row.locator("button.edit").focus()
    await dash.keyboard.press("Enter")
    edit = dash.locator("tr.editor[data-editor-for=d1]")
    await expect(edit).to_be_visible()
    await dash.keyboard.press("Tab")
    await expect(edit.locator("select.move-cabinet")).to_be_focused()
    surgery = edit.locator("input[value=surgery]")
    await surgery.focus()
    await dash.keyboard.press("Space")
    await expect(surgery).to_be_checked()
    await edit.locator("button.what-if").click()
    message = edit.locator(".row-message")
    await expect(message).to_contain_text(
        "Прогноз: если Доктор 1 будет вести очереди", timeout=WAIT_MS
    )
    await expect(message).to_contain_text("«Терапевт», «Хирург»")
    await expect(message).to_contain_text("(сейчас ")
    await expect(message).not_to_contain_text("→")
    await shot(dash, "dashboard")

    for control in ("select.move-cabinet", "label.chip >> nth=0", "button.move", "button.on-duty"):
        box = await edit.locator(control).bounding_box()
        assert box is not None and box["height"] >= 44, (control, box)
    await dash.set_viewport_size({"width": 1280, "height": 900})
    lines = await row.locator("td.name").evaluate(
        "td => { const r = document.createRange(); r.selectNodeContents(td);"
        " return new Set([...r.getClientRects()].map(x => Math.round(x.top))).size; }"
    )
    assert lines == 1
    await dash.close()

    english = await _dashboard(browser, engine_server, push_server, cc, lang="en")
    edit = await _editor(english, "d1")
    await edit.locator("button.what-if").click()
    message = edit.locator(".row-message")
    await expect(message).to_contain_text("Forecast: if Доктор 1 sees the", timeout=WAIT_MS)
    await expect(message).to_contain_text("(now ")
    assert english.errors == []
    await english.close()


async def test_a_queue_with_patients_and_no_doctor_is_red_and_says_why(
    clinics: MakeClinic, engine_server: EngineServer, push_server: PushServer, browser: Any
) -> None:
    """Nobody on duty for therapy while a patient waits: the worst level, in words too."""
    from playwright.async_api import expect

    cc = await clinics("dashunstaffed")
    taken = await cc.http.post(
        cc.api + "/tickets", json={"service": "therapy"}, headers=cc.auth("kiosk")
    )
    assert taken.status_code == 201, taken.text
    page = await _dashboard(browser, engine_server, push_server, cc)
    row = page.locator("#queues tr[data-queue=therapy]")
    await expect(row.locator(".level")).to_have_attribute("data-level", "red", timeout=WAIT_MS)
    await expect(row.locator(".level")).to_have_text("■ нет врача")
    await expect(page.locator("#queues tr[data-queue=surgery] .level")).to_have_text("● норма")
    assert page.errors == []
    await page.close()


async def test_an_edit_begun_before_a_status_answer_lands_is_kept(
    clinics: MakeClinic, engine_server: EngineServer, push_server: PushServer, browser: Any
) -> None:
    """The head starts a shift and, before its answer comes back (the live event came first),
    unticks a queue: the late answer changes only the status, so the edit stays, and the move
    goes out against the new version."""
    import asyncio

    from playwright.async_api import Route, expect

    cc = await clinics("dashlate")
    page = await _dashboard(browser, engine_server, push_server, cc)
    editor = await _editor(page, "d1")
    held: asyncio.Queue[Route] = asyncio.Queue()
    await page.route("**/doctors/d1/duty", held.put)
    await editor.locator("button.on-duty").click()
    answer = await held.get()  # the PUT is held here, unanswered
    response = await answer.fetch()
    row = page.locator("tr[data-doctor=d1]")
    await expect(row).to_have_attribute("data-status", "on_duty", timeout=WAIT_MS)  # the event
    await editor.locator("input[value=surgery]").check()
    await answer.fulfill(response=response)
    await page.unroute("**/doctors/d1/duty")
    await expect(editor.locator(".row-message")).to_have_text("Готово", timeout=WAIT_MS)
    await expect(editor.locator("input[value=surgery]")).to_be_checked()  # after the answer
    await editor.locator("button.move").click()
    await expect(row.locator("td.services")).to_have_text("Терапевт, Хирург", timeout=WAIT_MS)
    assert (await _doctor(cc, "d1"))["services"] == ["therapy", "surgery"]
    assert page.errors == []
    await page.close()
