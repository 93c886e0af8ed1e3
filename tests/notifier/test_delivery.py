"""Delivery through the real outbox, real PostgreSQL and a real SMSC-compatible server:
at most one message per relative per day, whatever fails and however many workers run."""

from __future__ import annotations

import asyncio
from collections import Counter
from dataclasses import replace
from datetime import UTC, datetime, time, timedelta

import asyncpg
import pytest
from fake_smsc import FakeSmsc
from prometheus_client import CollectorRegistry, generate_latest
from sms_helpers import PHONES, UNIT, seed, shifted, states, with_schedule

from notifier.gateway import Sent
from notifier.lifecycle import State
from notifier.metrics import OUTCOMES, SmsMetrics
from notifier.outbox_postgres import Outbox
from notifier.schedule import PatientStatus
from notifier.settings import NotifierSettings
from notifier.store_postgres import SmsStore
from notifier.worker import Worker, decide
from tests.support import parse_metrics, sample

pytestmark = pytest.mark.integration


async def burst(pool: asyncpg.Pool, settings: NotifierSettings, **kw: object) -> Worker:
    worker = Worker(pool, settings, **kw)  # type: ignore[arg-type]
    try:
        await worker.run(burst=True)
    finally:
        await worker.close()
    return worker


async def test_one_message_sent_and_polled_to_delivered(
    store: SmsStore, pool: asyncpg.Pool, smsc: FakeSmsc, settings: NotifierSettings
) -> None:
    """A due message goes once, with our id, and its status is polled until delivered; the
    metrics count one accepted send, its delivery report and the balance."""
    seeded = await seed(store)
    registry = CollectorRegistry()
    await burst(pool, settings, metrics=SmsMetrics(registry))
    metrics = parse_metrics(generate_latest(registry).decode())
    assert sample(metrics, "clinicq_sms_sent_total", outcome="accepted") == 1
    assert sample(metrics, "clinicq_sms_deliveries_total", status="delivered") == 1
    assert sample(metrics, "clinicq_sms_balance") == 1500.5
    [msg] = smsc.messages
    assert msg.phone == seeded.phones[0]
    assert "38,7" in msg.text and "143/91" in msg.text
    [record] = await store.messages("p1")
    assert msg.id == str(record.id)
    assert (record.state, record.delivery) == ("delivered", "delivered")
    assert record.phone_masked == "+7 *** ***-00-01"
    events = [e for _, e, _ in record.history]
    assert events[:3] == ["created", "claim", "accepted"] and events[-1] == "delivered"


async def test_scheduler_running_twice_queues_one_row(
    store: SmsStore, pool: asyncpg.Pool, smsc: FakeSmsc, settings: NotifierSettings
) -> None:
    """Re-running the scheduler and the sender the same day adds nothing."""
    await seed(store)
    worker = Worker(pool, settings)
    assert await worker.enqueue_due() == 1
    assert await worker.enqueue_due() == 0
    await worker.close()
    await burst(pool, settings)
    await burst(pool, settings)
    assert len(smsc.messages) == 1


async def test_crash_between_send_and_record_is_resolved_by_status(
    store: SmsStore, pool: asyncpg.Pool, outbox: Outbox, smsc: FakeSmsc, settings: NotifierSettings
) -> None:
    """A worker that dies after SMSC accepted is followed by a status.php check, not a resend."""
    await seed(store)
    doomed = Worker(pool, settings, name="doomed")
    await doomed.enqueue_due()
    now = datetime.now(UTC)
    [claim] = await outbox.claim(
        now,
        limit=5,
        lease=settings.lease,
        prepare=lambda r: decide(r, now, settings, settings.default_schedule),
    )
    assert isinstance(await doomed.gateway.send(claim.phone, claim.body, claim.message_id), Sent)
    await doomed.gateway.aclose()  # ... and the process dies before recording anything
    assert await states(pool) == ["sending"]
    await asyncio.sleep(settings.lease.total_seconds() + 0.1)
    await burst(pool, settings, name="successor")
    assert len(smsc.messages) == 1
    [record] = await store.messages("p1")
    assert record.state == "delivered"
    events = [e for _, e, _ in record.history]
    assert "lease_expired" in events and "found" in events
    assert [c for c in smsc.calls if c[0] == "send"] == [("send", str(claim.message_id))]


async def test_crash_before_send_is_sent_once_after_status_check(
    store: SmsStore, pool: asyncpg.Pool, outbox: Outbox, smsc: FakeSmsc, settings: NotifierSettings
) -> None:
    """A worker that dies after claiming but before send.php: status.php says unknown, so send."""
    await seed(store)
    await Worker(pool, settings).enqueue_due()
    now = datetime.now(UTC)
    await outbox.claim(
        now,
        limit=5,
        lease=settings.lease,
        prepare=lambda r: decide(r, now, settings, settings.default_schedule),
    )
    await asyncio.sleep(settings.lease.total_seconds() + 0.1)
    await burst(pool, settings)
    assert len(smsc.messages) == 1
    assert [c[0] for c in smsc.calls if c[0] != "balance"][:2] == ["status", "send"]


async def test_retries_5xx_error_4_error_9_and_timeout_send_once(
    store: SmsStore, pool: asyncpg.Pool, smsc: FakeSmsc, settings: NotifierSettings
) -> None:
    """500, error 4, error 9 and an accepted-then-timed-out call still end in one SMS."""
    await seed(store)
    smsc.send_script.extend(["500", "error:4", "error:9", "accept_hang"])
    registry = CollectorRegistry()
    await burst(pool, settings, metrics=SmsMetrics(registry))
    assert len(smsc.messages) == 1
    metrics = parse_metrics(generate_latest(registry).decode())
    outcomes = {o: sample(metrics, "clinicq_sms_sent_total", outcome=o) for o in OUTCOMES}
    assert outcomes == {"accepted": 0, "refused": 0, "retry": 1, "unknown": 3, "gave_up": 0}
    [record] = await store.messages("p1")
    assert record.state == "delivered"
    events = [e for _, e, _ in record.history]
    assert events.count("ambiguous") == 3 and events.count("not_sent") == 1
    assert events.count("not_found") == 2 and events.count("found") == 1
    sends = [c for c in smsc.calls if c[0] == "send"]
    assert len(sends) == 4 and len({c[1] for c in sends}) == 1  # one id throughout


async def test_connection_refused_is_retried_later(
    store: SmsStore, pool: asyncpg.Pool, smsc: FakeSmsc, settings: NotifierSettings
) -> None:
    """A refused connection never reached SMSC: the row goes back to pending and is sent later."""
    await seed(store)
    down = Worker(pool, replace(settings, smsc_url="http://127.0.0.1:9/sys/"))
    await down.tick()
    await down.close()
    row = await pool.fetchrow("SELECT state, attempts, last_error FROM sms_outbox")
    assert (row["state"], row["attempts"], row["last_error"]) == ("pending", 1, "ConnectError")
    await burst(pool, settings)
    assert len(smsc.messages) == 1


@pytest.mark.parametrize(
    ("code", "state", "sent", "alert"),
    [
        (1, "failed", 0, "smsc_error_1"),
        (2, "failed", 0, "smsc_error_2"),
        (3, "failed", 0, "smsc_error_3"),
        (4, "delivered", 1, None),
        (5, "failed", 0, "smsc_error_5"),
        (6, "failed", 0, "bad_number"),
        (7, "failed", 0, "bad_number"),
        (8, "failed", 0, "bad_number"),
        (9, "delivered", 1, None),
    ],
)
async def test_each_smsc_error_code(
    store: SmsStore,
    pool: asyncpg.Pool,
    smsc: FakeSmsc,
    settings: NotifierSettings,
    code: int,
    state: str,
    sent: int,
    alert: str | None,
) -> None:
    """Errors 4 and 9 are retried; 1, 2, 3, 5 alert; 6, 7, 8 mark the number bad."""
    await seed(store)
    smsc.send_script.append(f"error:{code}")
    await burst(pool, settings)
    assert await states(pool) == [state]
    assert len(smsc.messages) == sent
    kinds = [a.kind for a in await store.alerts()]
    assert kinds == ([alert] if alert else [])
    [rel] = await store.relatives("p1")
    assert rel.bad_number is (alert == "bad_number")
    if rel.bad_number:
        assert rel.history[-1].action == "number_bad"


async def test_two_workers_at_once_send_each_message_once(
    store: SmsStore, database_url: str, smsc: FakeSmsc, settings: NotifierSettings
) -> None:
    """Two workers with their own pools, racing on slow answers, never double-send."""
    seeded = await seed(store, relatives=12)
    smsc.default = "slow"
    pools = [await asyncpg.create_pool(database_url, min_size=1, max_size=4) for _ in range(2)]
    try:
        tuned = replace(settings, batch=3, concurrency=3)
        await asyncio.gather(*(burst(p, tuned, name=f"w{i}") for i, p in enumerate(pools)))
    finally:
        for p in pools:
            await p.close()
    assert Counter(m.phone for m in smsc.messages) == Counter(seeded.phones)


async def test_restart_of_the_whole_engine_sends_nothing_new(
    store: SmsStore, database_url: str, smsc: FakeSmsc, settings: NotifierSettings
) -> None:
    """New pools and worker objects after a restart find today's messages already sent."""
    await seed(store, relatives=3)
    for _ in range(2):
        pool = await asyncpg.create_pool(database_url, min_size=1, max_size=4)
        try:
            await burst(pool, settings)
        finally:
            await pool.close()
    assert len(smsc.messages) == 3


async def test_delivery_status_only_moves_forward(
    store: SmsStore, pool: asyncpg.Pool, smsc: FakeSmsc, settings: NotifierSettings
) -> None:
    """A status going back (0 after 1's predecessor, -1 after 0) is ignored."""
    await seed(store)
    smsc.status_script.extend([0, -1, 0, 20])
    await burst(pool, settings)
    rows = await pool.fetch(
        "SELECT event, detail FROM sms_outbox_history WHERE event IN"
        " ('progress', 'delivered', 'undelivered') ORDER BY id"
    )
    assert [(r["event"], r["detail"]) for r in rows] == [
        ("progress", "smsc status 0"),
        ("undelivered", "smsc status 20"),
    ]
    assert await states(pool) == ["undelivered"]


async def test_low_balance_raises_one_alert(
    store: SmsStore, pool: asyncpg.Pool, smsc: FakeSmsc, settings: NotifierSettings
) -> None:
    """A balance under the threshold alerts once a day, not once a check."""
    smsc.balance = "12.00"
    for _ in range(2):
        await burst(pool, replace(settings, balance_every=timedelta(0)))
    assert [a.kind for a in await store.alerts()] == ["low_balance"]


async def test_quiet_hours_hold_until_morning(
    store: SmsStore, pool: asyncpg.Pool, smsc: FakeSmsc, settings: NotifierSettings
) -> None:
    """Due at 20:00 but found at 22:30 inside quiet hours: held to 08:00, then sent."""
    tuned = with_schedule(
        settings, send_at=time(20, 0), quiet_start=time(22, 0), quiet_end=time(8, 0)
    )
    evening = datetime(2030, 3, 4, 19, 30, tzinfo=UTC)  # 22:30 in Moscow
    await seed(store, when=evening - timedelta(days=2))
    await burst(pool, tuned, clock=shifted(evening))
    assert smsc.messages == []
    row = await pool.fetchrow("SELECT state, local_date, next_attempt_at FROM sms_outbox")
    assert row["state"] == "pending" and str(row["local_date"]) == "2030-03-04"
    assert row["next_attempt_at"] == datetime(2030, 3, 5, 5, 0, tzinfo=UTC)  # 08:00 Moscow
    await burst(pool, tuned, clock=shifted(datetime(2030, 3, 5, 5, 1, tzinfo=UTC)))
    assert len(smsc.messages) == 1
    assert await states(pool) == ["delivered"]


async def test_retry_falling_into_quiet_hours_is_held(
    store: SmsStore, pool: asyncpg.Pool, smsc: FakeSmsc, settings: NotifierSettings
) -> None:
    """A retry that comes due after quiet hours begin waits for the morning."""
    tuned = with_schedule(
        replace(settings, retry_base=timedelta(seconds=1), retry_max=timedelta(seconds=1)),
        send_at=time(20, 0),
        quiet_start=time(22, 0),
        quiet_end=time(8, 0),
    )
    await seed(store, when=datetime(2030, 3, 1, tzinfo=UTC))
    smsc.send_script.append("error:4")  # at 21:59:59.5 Moscow; the retry is due after 22:00
    await burst(pool, tuned, clock=shifted(datetime(2030, 3, 4, 18, 59, 59, 500000, tzinfo=UTC)))
    assert [c[0] for c in smsc.calls if c[0] == "send"] == ["send"]
    assert smsc.messages == []
    row = await pool.fetchrow("SELECT state, next_attempt_at FROM sms_outbox")
    assert row["state"] == "pending"
    assert row["next_attempt_at"] == datetime(2030, 3, 5, 5, 0, tzinfo=UTC)


async def test_consent_given_after_send_time_starts_next_day(
    store: SmsStore, pool: asyncpg.Pool, smsc: FakeSmsc, settings: NotifierSettings
) -> None:
    """A relative registered after today's send time gets the first message tomorrow."""
    await seed(store, when=datetime.now(UTC))
    await burst(pool, settings)
    assert smsc.messages == [] and await states(pool) == []


async def test_discharge_and_transfer_stop_sending(
    store: SmsStore, pool: asyncpg.Pool, smsc: FakeSmsc, settings: NotifierSettings
) -> None:
    """Discharge and transfer cancel the queued message and queue no more."""
    for i, (patient, status) in enumerate(
        [("p1", PatientStatus.DISCHARGED), ("p2", PatientStatus.TRANSFERRED)]
    ):
        await seed(store, patient_id=patient, phones=[PHONES[i]])
        await Worker(pool, settings).enqueue_due()
        await store.set_status(patient, clinic="c1", status=status, by="d", now=datetime.now(UTC))
    await burst(pool, settings)
    assert smsc.messages == [] and await states(pool) == ["cancelled", "cancelled"]


async def test_death_stops_at_once_and_alerts_the_attending_doctor(
    store: SmsStore, pool: asyncpg.Pool, smsc: FakeSmsc, settings: NotifierSettings
) -> None:
    """A death cancels the queued SMS, never sends one, and tells the attending doctor."""
    await seed(store, relatives=2)
    await Worker(pool, settings).enqueue_due()
    _, change = await store.set_status(
        "p1", clinic="c1", status=PatientStatus.DECEASED, by="d", now=datetime.now(UTC)
    )
    assert change.stop_sending and change.alert_attending
    await burst(pool, settings)
    assert smsc.messages == []
    assert await states(pool) == ["cancelled", "cancelled"]
    [alert] = await store.alerts("c1")
    assert (alert.kind, alert.doctor, alert.patient_id) == ("patient_deceased", "d1", "p1")


async def test_death_after_claim_withdraws_before_send(
    store: SmsStore, pool: asyncpg.Pool, outbox: Outbox, smsc: FakeSmsc, settings: NotifierSettings
) -> None:
    """A row claimed just before the death is withdrawn at the last look before send.php."""
    await seed(store)
    worker = Worker(pool, settings)
    await worker.enqueue_due()
    now = datetime.now(UTC)
    [claim] = await outbox.claim(
        now,
        limit=5,
        lease=settings.lease,
        prepare=lambda r: decide(r, now, settings, settings.default_schedule),
    )
    await store.set_status("p1", clinic="c1", status=PatientStatus.DECEASED, by="d", now=now)
    await worker._send(claim)
    await worker.close()
    assert smsc.messages == [] and await states(pool) == [State.CANCELLED]


async def test_revoked_consent_stops_sending(
    store: SmsStore, pool: asyncpg.Pool, smsc: FakeSmsc, settings: NotifierSettings
) -> None:
    """Revoking cancels the queued message and queues no more."""
    seeded = await seed(store, relatives=2)
    await Worker(pool, settings).enqueue_due()
    await store.revoke_relative(
        "p1", seeded.relative_ids[0], clinic="c1", by="d", now=datetime.now(UTC)
    )
    await burst(pool, settings)
    assert [m.phone for m in smsc.messages] == [seeded.phones[1]]


async def test_http_timeout_unit_is_shorter_than_lease(settings: NotifierSettings) -> None:
    """The lease must outlast a send, or a slow send would be taken over and checked early."""
    assert settings.lease.total_seconds() > 2 * UNIT
