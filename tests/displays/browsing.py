"""Driving the pages in headless Chromium (Debian's, through Playwright): shared by every page's
browser tests. ``browser`` is a fixture in this package's conftest; tests carry ``BROWSER``."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from tests.displays.support import PushServer
from tests.support import ClinicClient, EngineServer

CHROMIUM = "/usr/bin/chromium"
SHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
WAIT_MS = 10_000

BROWSER = [
    pytest.mark.integration,
    pytest.mark.browser,
    pytest.mark.skipif(not os.path.exists(CHROMIUM), reason=f"no Chromium at {CHROMIUM}"),
]


async def open_page(
    browser: Any,
    engine: EngineServer,
    push: PushServer,
    path: str,
    token: str | None = None,
    *,
    width: int = 1920,
    height: int = 1080,
) -> Any:
    page = await browser.new_page(viewport={"width": width, "height": height})
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.errors = errors
    query = f"push={push.ws}" + (f"&token={token}" if token else "")
    await page.goto(f"{engine.url}{path}{'&' if '?' in path else '?'}{query}")
    return page


async def shot(page: Any, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=str(SHOTS / f"{name}.png"))


async def board(cc: ClinicClient) -> dict[str, Any]:
    response = await cc.http.get(cc.api + "/board", headers=cc.auth("display"))
    assert response.status_code == 200, response.text
    data: dict[str, Any] = response.json()
    return data
