"""Fixtures for the screens: a two-process push server over the suite's Redis and PostgreSQL, and
one headless Chromium for every page's browser tests."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest

from tests.displays.browsing import CHROMIUM
from tests.displays.support import PushServer


@pytest.fixture(scope="session")
def push_server(redis_url: str, database_url: str) -> Iterator[PushServer]:
    """``clinicq push --processes 2`` sharing one port (SO_REUSEPORT). The fan-out tests hold
    a thousand screens on one display token: above the default cap, which has its own test."""
    env = {"CLINICQ_PUSH_SOCKETS_PER_TOKEN": "5000"}
    server = PushServer(redis_url, database_url, processes=2, env=env).start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
async def browser() -> AsyncIterator[Any]:
    from playwright.async_api import async_playwright

    async with async_playwright() as p:
        browser = await p.chromium.launch(
            executable_path=CHROMIUM,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--autoplay-policy=no-user-gesture-required",
            ],
        )
        try:
            yield browser
        finally:
            await browser.close()
