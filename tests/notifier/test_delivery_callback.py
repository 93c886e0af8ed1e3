"""Delivery reports pushed by SMSC: a status only moves forward, for the right number only, and
a final one ends the fallback poll."""

from __future__ import annotations

import asyncpg
import httpx
import pytest
from fake_smsc import FakeSmsc, incoming_form, status_form
from sms_app import build_app
from sms_helpers import CALLBACK_SECRET as SECRET
from sms_helpers import PHONES, seed

from notifier.settings import NotifierSettings
from notifier.store_postgres import SmsStore
from notifier.worker import Worker

pytestmark = pytest.mark.integration

STATUS = f"/api/v1/sms/smsc/{SECRET}/status"


async def sent_message(
    store: SmsStore, pool: asyncpg.Pool, settings: NotifierSettings
) -> tuple[int, str]:
    """Today's message, accepted by SMSC and waiting for its delivery report."""
    seeded = await seed(store)
    worker = Worker(pool, settings)
    await worker.run(burst=True)
    await worker.close()
    outbox_id = await pool.fetchval("SELECT id FROM sms_outbox WHERE state = 'sent'")
    assert outbox_id is not None
    return outbox_id, seeded.phones[0]


async def seen(http: httpx.AsyncClient, pool: asyncpg.Pool) -> tuple[str, str | None, bool]:
    """The message as the doctor sees it (state, delivery), and whether a poll is still due."""
    [message] = (await http.get("/api/v1/icu/patients/p1/messages")).json()["messages"]
    polling = await pool.fetchval(
        "SELECT next_poll_at IS NOT NULL FROM sms_outbox WHERE id = $1", message["id"]
    )
    return message["state"], message["delivery"], polling


async def test_a_report_moves_a_sent_message_forward_and_a_stale_one_is_ignored(
    store: SmsStore,
    pool: asyncpg.Pool,
    smsc: FakeSmsc,
    cb_settings: NotifierSettings,
    http: httpx.AsyncClient,
) -> None:
    """At the operator, delivered, then a late "queued" and "at operator": ignored; read: kept."""
    outbox_id, phone = await sent_message(store, pool, cb_settings)
    assert await seen(http, pool) == ("sent", None, True)
    assert smsc.calls.count(("status", str(outbox_id))) == 0  # the poll is minutes away

    async def report(status: int, number: str = phone) -> None:
        answer = await http.post(STATUS, data=status_form(outbox_id, number, status))
        assert answer.status_code == 200 and answer.json() == {"ok": True}

    await report(0)
    assert await seen(http, pool) == ("sent", "at_operator", True)
    await report(-1)  # backwards
    assert await seen(http, pool) == ("sent", "at_operator", True)
    await report(1, PHONES[30])  # someone else's number: not this message
    assert await seen(http, pool) == ("sent", "at_operator", True)
    await report(1)
    assert await seen(http, pool) == ("delivered", "delivered", False)
    await report(0)
    await report(20)  # a failure after delivery is stale too
    assert await seen(http, pool) == ("delivered", "delivered", False)
    await report(2)
    assert await seen(http, pool) == ("delivered", "read", False)
    events = await pool.fetch(
        "SELECT event FROM sms_outbox_history WHERE outbox_id = $1 ORDER BY id", outbox_id
    )
    assert [e["event"] for e in events][-3:] == ["progress", "delivered", "progress"]


async def test_a_failure_report_ends_the_message_and_unknown_ids_are_harmless(
    store: SmsStore,
    pool: asyncpg.Pool,
    cb_settings: NotifierSettings,
    http: httpx.AsyncClient,
) -> None:
    """Undeliverable is final; an unknown id, an unknown code or a garbled id change nothing."""
    outbox_id, phone = await sent_message(store, pool, cb_settings)
    for form in (
        status_form(outbox_id + 100, phone, 1),
        status_form(outbox_id, phone, 99),
        status_form(outbox_id, "SMSC", 1),
    ):
        assert (await http.post(STATUS, data=form)).status_code == 200
    assert await seen(http, pool) == ("sent", None, True)
    answer = await http.post(STATUS, data=status_form("12ab", phone, 1))
    assert answer.status_code == 400 and answer.json()["error"]["code"] == "bad_callback"
    await http.post(STATUS, data=status_form(outbox_id, phone, 20))
    assert await seen(http, pool) == ("undelivered", "undeliverable", False)
    await http.post(STATUS, data=status_form(outbox_id, phone, 1))
    assert await seen(http, pool) == ("undelivered", "undeliverable", False)


async def test_without_callbacks_the_poll_comes_at_once_and_reports_are_refused(
    store: SmsStore,
    pool: asyncpg.Pool,
    settings: NotifierSettings,
) -> None:
    """No secret: polling as before (delivered within the burst), and the callback is 404."""
    seeded = await seed(store)
    worker = Worker(pool, settings)
    await worker.run(burst=True)
    await worker.close()
    transport = httpx.ASGITransport(app=build_app(pool, settings))
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
        assert (await seen(http, pool))[:2] == ("delivered", "delivered")
        answer = await http.post(STATUS, data=status_form(1, seeded.phones[0], 1))
        assert answer.status_code == 404
        assert answer.json()["error"]["code"] == "sms_callbacks_disabled"


async def test_one_url_takes_both_replies_and_reports(
    store: SmsStore,
    pool: asyncpg.Pool,
    smsc: FakeSmsc,
    cb_settings: NotifierSettings,
    http: httpx.AsyncClient,
) -> None:
    """SMSC's single handler URL: a report, then a STOP, each told apart by its fields."""
    outbox_id, phone = await sent_message(store, pool, cb_settings)
    both = f"/api/v1/sms/smsc/{SECRET}"
    assert (await http.post(both, data=status_form(outbox_id, phone, 1))).json() == {"ok": True}
    assert await seen(http, pool) == ("delivered", "delivered", False)
    assert (await http.post(both, data={"id": "1"})).json() == {"ok": True}  # neither: ignored
    assert (await http.post(both, data=incoming_form(31, phone, "STOP"))).json() == {"ok": True}
    relatives = (await http.get("/api/v1/icu/patients/p1/relatives")).json()["relatives"]
    assert [h["action"] for h in relatives[0]["history"]] == ["granted", "stopped_by_reply"]
    kinds = await pool.fetch("SELECT kind FROM sms_outbox ORDER BY id")
    assert [k["kind"] for k in kinds] == ["daily", "stop_confirmation"]
