"""Phone numbers and vital values never reach the logs, across a whole run with failures."""

from __future__ import annotations

import logging
import re

import asyncpg
import httpx
import pytest
from fake_smsc import FakeSmsc
from sms_app import build_app
from sms_helpers import PHONES, VITALS, seed

from notifier.settings import NotifierSettings
from notifier.store_postgres import SmsStore
from notifier.worker import Worker

pytestmark = pytest.mark.integration


def needles(phones: list[str]) -> list[re.Pattern[str]]:
    found = []
    for phone in phones:
        digits = phone.lstrip("+")
        for form in (digits, digits[1:], f"{digits[1:4]} {digits[4:7]}", digits[-7:]):
            found.append(re.compile(re.escape(form)))
    bp = VITALS["bp"]
    assert isinstance(bp, tuple)
    for value in (
        "38.7", "38,7", f"{bp[0]}/{bp[1]}", str(VITALS["pulse"]), str(VITALS["hr"]),
        str(bp[0]),
    ):  # fmt: skip
        found.append(re.compile(rf"(?<![\d.]){re.escape(value)}(?![\d])"))
    return found


async def test_a_whole_run_logs_no_phone_or_vital(
    caplog: pytest.LogCaptureFixture,
    store: SmsStore,
    pool: asyncpg.Pool,
    smsc: FakeSmsc,
    settings: NotifierSettings,
) -> None:
    """Seed, API calls (good and bad), failures, retries, delivery: grep every log record."""
    for name in (None, "httpx", "httpcore", "asyncio", "notifier", "uvicorn", "asyncpg"):
        caplog.set_level(logging.DEBUG, logger=name)
    seeded = await seed(store, relatives=4)
    smsc.send_script.extend(["500", "accept_hang", "error:7", "error:4", "garbage"])
    transport = httpx.ASGITransport(app=build_app(pool, settings))
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as c:
        await c.post(
            "/api/v1/icu/patients/p1/relatives", json={"phone": PHONES[10], "relation": "x"}
        )
        await c.post(
            "/api/v1/icu/patients/p1/relatives", json={"phone": "+7916555", "relation": "x"}
        )
        await c.post(
            "/api/v1/icu/patients/p1/observations", json={"temperature": 38.7, "pulse": 137}
        )
        await c.post("/api/v1/icu/patients/p1/observations", json={"temperature": 80.5})
    worker = Worker(pool, settings)
    await worker.run(burst=True)
    await worker.close()
    assert len(smsc.messages) >= 3  # the run really sent, so the grep means something
    text = "\n".join(
        r.getMessage() + (r.exc_text or "") + str(r.exc_info[1] if r.exc_info else "")
        for r in caplog.records
    )
    assert "outbox" in text  # and really logged
    leaks = [p.pattern for p in needles([*seeded.phones, PHONES[10]]) if p.search(text)]
    assert leaks == [], leaks
