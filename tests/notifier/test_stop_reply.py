"""A relative's STOP reply through SMSC's callback, against the real PostgreSQL and the loopback
SMSC server: consent withdrawn and shown to the doctor, exactly one confirmation, nothing more."""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

import asyncpg
import httpx
import pytest
from fake_smsc import FakeSmsc, incoming_form, status_form
from sms_app import build_app
from sms_helpers import CALLBACK_SECRET as SECRET
from sms_helpers import PHONES, seed, shifted
from test_logs import needles

from notifier.replies import confirmation
from notifier.settings import NotifierSettings
from notifier.store_postgres import SmsStore
from notifier.worker import Worker

pytestmark = pytest.mark.integration

INCOMING = f"/api/v1/sms/smsc/{SECRET}/incoming"
STATUS = f"/api/v1/sms/smsc/{SECRET}/status"


async def reply(http: httpx.AsyncClient, msg_id: int, phone: str, text: str) -> httpx.Response:
    return await http.post(INCOMING, data=incoming_form(msg_id, phone, text))


async def burst(pool: asyncpg.Pool, settings: NotifierSettings, **kw: Any) -> None:
    worker = Worker(pool, settings, **kw)
    await worker.run(burst=True)
    await worker.close()


async def history(http: httpx.AsyncClient, patient: str = "p1") -> dict[int, list[str]]:
    answer = await http.get(f"/api/v1/icu/patients/{patient}/relatives")
    assert answer.status_code == 200
    return {r["id"]: [h["action"] for h in r["history"]] for r in answer.json()["relatives"]}


async def outbox_kinds(pool: asyncpg.Pool) -> list[tuple[str, str]]:
    rows = await pool.fetch("SELECT kind, state FROM sms_outbox ORDER BY id")
    return [(r["kind"], r["state"]) for r in rows]


async def test_a_stop_withdraws_consent_is_answered_once_and_ends_the_daily_messages(
    store: SmsStore,
    pool: asyncpg.Pool,
    smsc: FakeSmsc,
    cb_settings: NotifierSettings,
    http: httpx.AsyncClient,
) -> None:
    """Today's message, then STOP: the doctor sees it, one confirmation, tomorrow nothing."""
    seeded = await seed(store, relatives=2)
    stopper, other = seeded.phones
    await burst(pool, cb_settings)
    assert len(smsc.sent_to(stopper)) == 1  # today's daily message

    answer = await reply(http, 501, stopper, "Стоп.")
    assert answer.status_code == 200 and answer.json() == {"ok": True}
    actions = await history(http)
    assert actions[seeded.relative_ids[0]] == ["granted", "stopped_by_reply"]
    assert actions[seeded.relative_ids[1]] == ["granted"]
    relatives = (await http.get("/api/v1/icu/patients/p1/relatives")).json()["relatives"]
    assert [r["active"] for r in relatives] == [False, True]
    assert relatives[0]["history"][-1]["by"] == "relative:sms"

    await burst(pool, cb_settings)
    texts = [m.text for m in smsc.sent_to(stopper)]
    assert texts[1:] == [confirmation("ru").text]
    messages = (await http.get("/api/v1/icu/patients/p1/messages")).json()["messages"]
    assert sorted(m["kind"] for m in messages) == ["daily", "daily", "stop_confirmation"]

    # The next day: the other relative gets a message, the one who stopped does not.
    await burst(pool, cb_settings, clock=shifted(datetime.now(UTC) + timedelta(days=1)))
    assert len(smsc.sent_to(other)) == 2
    assert len(smsc.sent_to(stopper)) == 2


async def test_a_retried_callback_and_a_second_stop_change_nothing(
    store: SmsStore,
    pool: asyncpg.Pool,
    smsc: FakeSmsc,
    cb_settings: NotifierSettings,
    http: httpx.AsyncClient,
) -> None:
    """SMSC retrying the same message (even at once) and a new STOP: one stop, one answer."""
    seeded = await seed(store)
    phone = seeded.phones[0]
    answers = await asyncio.gather(*(reply(http, 77, phone, "STOP") for _ in range(3)))
    assert {a.status_code for a in answers} == {200}
    assert (await reply(http, 77, phone, "STOP")).json() == {"ok": True}
    assert (await reply(http, 78, phone, "стоп")).json() == {"ok": True}
    assert (await history(http))[seeded.relative_ids[0]] == ["granted", "stopped_by_reply"]
    assert await outbox_kinds(pool) == [("stop_confirmation", "pending")]
    await burst(pool, cb_settings)
    assert [m.text for m in smsc.sent_to(phone)] == [confirmation("ru").text]
    outcomes = await pool.fetch("SELECT provider_id, outcome FROM sms_inbox ORDER BY id")
    assert [(r["provider_id"], r["outcome"]) for r in outcomes] == [
        ("77", "stopped"),
        ("78", "not_subscribed"),
    ]


async def test_two_stops_at_once_from_one_number_stop_it_once(
    store: SmsStore,
    pool: asyncpg.Pool,
    smsc: FakeSmsc,
    cb_settings: NotifierSettings,
    http: httpx.AsyncClient,
) -> None:
    """Two different messages racing: one withdraws, the other finds nothing left to stop."""
    seeded = await seed(store, phones=[PHONES[7]])
    second = await seed(store, patient_id="p2", phones=[PHONES[7]])
    await asyncio.gather(*(reply(http, 90 + i, PHONES[7], "STOP") for i in range(4)))
    assert (await history(http, "p1"))[seeded.relative_ids[0]] == ["granted", "stopped_by_reply"]
    assert (await history(http, "p2"))[second.relative_ids[0]] == ["granted", "stopped_by_reply"]
    outcomes = [r["outcome"] for r in await pool.fetch("SELECT outcome FROM sms_inbox")]
    assert sorted(outcomes) == ["not_subscribed"] * 3 + ["stopped"]
    await burst(pool, cb_settings)
    assert [m.text for m in smsc.sent_to(PHONES[7])] == [confirmation("ru").text]


async def test_the_confirmation_survives_a_lost_answer_and_goes_once(
    store: SmsStore,
    pool: asyncpg.Pool,
    smsc: FakeSmsc,
    cb_settings: NotifierSettings,
    http: httpx.AsyncClient,
) -> None:
    """SMSC takes the confirmation but its answer is lost: status.php finds it, no resend."""
    seeded = await seed(store, language="en")
    phone = seeded.phones[0]
    await reply(http, 9001, phone, "stop")
    smsc.send_script.append("accept_hang")
    await burst(pool, cb_settings)
    assert [m.text for m in smsc.sent_to(phone)] == [confirmation("en").text]
    # Sent; its delivery comes by callback (the fallback poll is minutes away).
    assert await outbox_kinds(pool) == [("stop_confirmation", "sent")]


async def test_a_stop_from_a_number_nobody_subscribed_changes_nothing_and_says_nothing(
    store: SmsStore,
    pool: asyncpg.Pool,
    smsc: FakeSmsc,
    cb_settings: NotifierSettings,
    http: httpx.AsyncClient,
) -> None:
    """Unknown, revoked and garbage numbers: no consent change, no SMS, the same answer."""
    seeded = await seed(store, relatives=2)
    await store.revoke_relative(
        "p1", seeded.relative_ids[1], clinic="c1", by="icu_doctor:d1", now=datetime.now(UTC)
    )
    known = await reply(http, 1, seeded.phones[0], "Hello, how is she?")
    unknown = await reply(http, 2, PHONES[30], "STOP")
    revoked = await reply(http, 3, seeded.phones[1], "STOP")
    garbage = await http.post(INCOMING, data={**incoming_form(4, "SMSC", "STOP")})
    for answer in (unknown, revoked, garbage):
        assert (answer.status_code, answer.content) == (known.status_code, known.content)
    assert list((await history(http)).values()) == [["granted"], ["granted", "revoked"]]
    assert await outbox_kinds(pool) == []
    await burst(pool, cb_settings)
    assert smsc.sent_to(PHONES[30]) == [] and smsc.sent_to(seeded.phones[1]) == []
    # The subscribed relative who wrote something else still gets the daily message, only it.
    assert len(smsc.sent_to(seeded.phones[0])) == 1


async def test_a_relative_of_two_patients_stops_both_with_one_answer(
    store: SmsStore,
    pool: asyncpg.Pool,
    smsc: FakeSmsc,
    cb_settings: NotifierSettings,
    http: httpx.AsyncClient,
) -> None:
    """One number for two patients: both consents stop, one confirmation goes."""
    first = await seed(store, phones=[PHONES[5]])
    second = await seed(store, patient_id="p2", phones=[PHONES[5]])
    await reply(http, 11, PHONES[5], "«СТОП»")
    assert (await history(http, "p1"))[first.relative_ids[0]][-1] == "stopped_by_reply"
    assert (await history(http, "p2"))[second.relative_ids[0]][-1] == "stopped_by_reply"
    await burst(pool, cb_settings)
    assert [m.text for m in smsc.sent_to(PHONES[5])] == [confirmation("ru").text]


async def test_a_forged_callback_is_refused_and_changes_nothing(
    store: SmsStore,
    pool: asyncpg.Pool,
    settings: NotifierSettings,
    http: httpx.AsyncClient,
) -> None:
    """A wrong secret is 403; no secret configured is 404; neither touches consent."""
    seeded = await seed(store)
    form = incoming_form(5, seeded.phones[0], "STOP")
    for forged in (SECRET[:-1] + "y", SECRET[:-1], "x", SECRET + "x", "%D0%A1" * 8):
        answer = await http.post(f"/api/v1/sms/smsc/{forged}/incoming", data=form)
        assert answer.status_code == 403, forged
        assert answer.json()["error"]["code"] == "bad_callback_secret"
    transport = httpx.ASGITransport(app=build_app(pool, settings))  # no secret configured
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as off:
        answer = await off.post(INCOMING, data=form)
        assert answer.status_code == 404
        assert answer.json()["error"]["code"] == "sms_callbacks_disabled"
    assert list((await history(http)).values()) == [["granted"]]
    assert await outbox_kinds(pool) == []


async def test_a_windows_1251_form_is_read_and_a_broken_one_refused(
    store: SmsStore, pool: asyncpg.Pool, http: httpx.AsyncClient
) -> None:
    """SMSC's default charset works too; a body that is no form, or has no id, is 400."""
    seeded = await seed(store)
    body = urlencode(incoming_form(6, seeded.phones[0], "СТОП"), encoding="cp1251")
    headers = {"content-type": "application/x-www-form-urlencoded"}
    answer = await http.post(INCOMING, content=body, headers=headers)
    assert answer.json() == {"ok": True}
    assert list((await history(http)).values()) == [["granted", "stopped_by_reply"]]
    for bad in ("id=&phone=1&mes=STOP", "\xff\xfe", "phone=79165550001&mes=STOP"):
        answer = await http.post(INCOMING, content=bad.encode("latin-1"), headers=headers)
        assert answer.status_code == 400, bad
        assert answer.json()["error"]["code"] == "bad_callback"


async def test_replies_and_reports_log_no_phone_number(
    caplog: pytest.LogCaptureFixture,
    store: SmsStore,
    pool: asyncpg.Pool,
    smsc: FakeSmsc,
    cb_settings: NotifierSettings,
    http: httpx.AsyncClient,
) -> None:
    """STOPs (known, unknown, retried), other texts, bad forms and reports: grep every record."""
    for name in (None, "httpx", "httpcore", "notifier", "asyncpg"):
        caplog.set_level(logging.DEBUG, logger=name)
    seeded = await seed(store, relatives=2)
    await burst(pool, cb_settings)
    daily = await pool.fetchval("SELECT id FROM sms_outbox WHERE relative_id = $1", 2)
    await reply(http, 1, seeded.phones[0], "STOP")
    await reply(http, 1, seeded.phones[0], "STOP")
    await reply(http, 2, PHONES[30], "стоп")
    await reply(http, 3, seeded.phones[1], "как она?")
    await http.post(INCOMING, data={"phone": seeded.phones[1].lstrip("+"), "mes": "STOP"})
    await http.post(f"/api/v1/sms/smsc/{SECRET}x/incoming", data=incoming_form(4, PHONES[31], "x"))
    await http.post(STATUS, data=status_form(daily, seeded.phones[1], 1))
    await http.post(STATUS, data=status_form(daily, PHONES[32], 1))
    await burst(pool, cb_settings)
    assert len(smsc.messages) == 3  # two daily, one confirmation: the run really ran
    text = "\n".join(
        r.getMessage() + (r.exc_text or "") + str(r.exc_info[1] if r.exc_info else "")
        for r in caplog.records
    )
    assert "sms reply" in text and "delivery report" in text  # and really logged
    leaks = [p.pattern for p in needles([*seeded.phones, *PHONES[30:33]]) if p.search(text)]
    assert leaks == [], leaks


async def test_nothing_answers_the_relative_of_a_patient_who_died(
    store: SmsStore,
    pool: asyncpg.Pool,
    smsc: FakeSmsc,
    cb_settings: NotifierSettings,
    http: httpx.AsyncClient,
) -> None:
    """Nothing follows death: a STOP from the relative changes nothing and sends nothing."""
    seeded = await seed(store)
    death = await http.put("/api/v1/icu/patients/p1/status", json={"status": "deceased"})
    assert death.status_code == 200
    assert (await reply(http, 41, seeded.phones[0], "STOP")).json() == {"ok": True}
    assert list((await history(http)).values()) == [["granted"]]
    await burst(pool, cb_settings)
    assert smsc.sent_to(seeded.phones[0]) == []
