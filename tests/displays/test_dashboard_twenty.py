"""The dashboard with twenty doctors: one line a doctor, no sideways scrolling, the charts near
the top, and a result shown beside the row that asked for it."""

from __future__ import annotations

from typing import Any

from tests.displays.browsing import BROWSER, WAIT_MS, open_page
from tests.displays.support import PushServer
from tests.support import ClinicClient, EngineServer, MakeClinic

pytestmark = BROWSER

DOCTORS = 20

# Per row: its height, and the most lines of text any of its cells holds (the distinct tops of
# its text nodes' boxes).
ROWS_JS = """() => [...document.querySelectorAll('#doctors tr[data-doctor]')].map(tr => ({
  id: tr.dataset.doctor,
  height: tr.getBoundingClientRect().height,
  lines: Math.max(...[...tr.cells].map(td => {
    const tops = new Set(), walk = document.createTreeWalker(td, NodeFilter.SHOW_TEXT);
    for (let n = walk.nextNode(); n; n = walk.nextNode()) {
      const r = document.createRange(); r.selectNodeContents(n);
      for (const x of r.getClientRects()) if (x.width > 0) tops.add(Math.round(x.top));
    }
    return tops.size;
  })),
}))"""


async def _busy_morning(cc: ClinicClient) -> None:
    """Every doctor on duty for both queues, some with a patient, a few on a break."""
    for i in range(DOCTORS):
        r = await cc.http.put(
            f"{cc.api}/doctors/d{i}/duty",
            json={"status": "on_duty", "services": ["therapy", "surgery"]},
            headers=cc.auth("head"),
        )
        assert r.status_code == 200, r.text
    for i in range(12):
        service = "therapy" if i % 3 else "surgery"
        r = await cc.http.post(
            f"{cc.api}/tickets", json={"service": service}, headers=cc.auth("kiosk")
        )
        assert r.status_code == 201, r.text
    for i in range(4):
        r = await cc.http.post(f"{cc.api}/cabinets/c{i}/call-next", headers=cc.auth("head"))
        assert r.status_code == 200, r.text
    for i in range(16, 18):
        r = await cc.http.put(
            f"{cc.api}/doctors/d{i}/duty", json={"status": "break"}, headers=cc.auth("head")
        )
        assert r.status_code == 200, r.text


async def test_twenty_doctors_fit_one_line_each_at_1920_and_1366(
    clinics: MakeClinic, engine_server: EngineServer, push_server: PushServer, browser: Any
) -> None:
    """At 1920x1080 and 1366x768: nothing wider than the window, each doctor one line, the
    charts within the first two screens, a what-if on the last row answered beside it."""
    from playwright.async_api import expect

    cc = await clinics("dash20", doctors=DOCTORS)
    await _busy_morning(cc)
    for width, height in ((1920, 1080), (1366, 768)):
        dash = await open_page(
            browser,
            engine_server,
            push_server,
            f"/dashboard/{cc.clinic}",
            cc.tokens["head"],
            width=width,
            height=height,
        )
        await expect(dash.locator("#conn")).to_have_attribute(
            "data-state", "online", timeout=WAIT_MS
        )
        await expect(dash.locator("#doctors tr[data-doctor]")).to_have_count(
            DOCTORS, timeout=WAIT_MS
        )
        await expect(dash.locator("#history .history-queue")).to_have_count(2, timeout=WAIT_MS)
        await expect(dash.locator("tr[data-doctor=d0] td.current")).to_contain_text("-")

        wide = await dash.evaluate("() => document.documentElement.scrollWidth")
        assert wide <= width, (width, wide)
        rows = await dash.evaluate(ROWS_JS)
        assert len(rows) == DOCTORS
        for row in rows:
            assert row["lines"] == 1, (width, row)
            assert row["height"] < 72, (width, row)
        charts = await dash.evaluate(
            "() => document.getElementById('history').getBoundingClientRect().top + scrollY"
        )
        assert charts < 2 * height, (width, charts)

        # The last row's what-if: the forecast appears right under that row, in its editor.
        last = dash.locator(f"tr[data-doctor=d{DOCTORS - 1}]")
        edit = last.locator("button.edit")
        await expect(edit).to_have_attribute("aria-expanded", "false")
        await edit.click()
        await expect(edit).to_have_attribute("aria-expanded", "true")
        editor = dash.locator(f"tr.editor[data-editor-for=d{DOCTORS - 1}]")
        await expect(editor).to_be_visible()
        await editor.locator("button.what-if").click()
        result = editor.locator(".row-message")
        await expect(result).to_contain_text("Прогноз: если Доктор 19", timeout=WAIT_MS)
        await expect(result).to_have_attribute("role", "status")
        row_box, result_box = await last.bounding_box(), await result.bounding_box()
        assert row_box is not None and result_box is not None
        assert 0 <= result_box["y"] - (row_box["y"] + row_box["height"]) < 250, (
            row_box,
            result_box,
        )
        assert await dash.evaluate("() => document.documentElement.scrollWidth") <= width

        # Escape closes the editor and gives the focus back to the row's button.
        await editor.locator("select.move-cabinet").focus()
        await dash.keyboard.press("Escape")
        await expect(editor).to_be_hidden()
        await expect(edit).to_be_focused()
        await expect(edit).to_have_attribute("aria-expanded", "false")
        assert dash.errors == []
        await dash.close()
