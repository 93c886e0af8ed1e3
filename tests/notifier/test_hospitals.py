"""Each hospital's own schedule and wording, from its clinic's configuration: two hospitals
nine hours apart, with a clock the test sets, against the real PostgreSQL and the loopback SMSC."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import asyncpg
import msgspec
import pytest
from fake_smsc import FakeSmsc
from sms_helpers import PHONES, seed

import clinicq  # noqa: F401 - registers the notifier's wording check with the engine
import notifier
from engine.clinic import Clinic, Icu, parse_clinic
from engine.errors import ValidationFailed
from notifier.hospitals import next_send, schedule_of
from notifier.settings import HospitalSchedule, NotifierSettings
from notifier.store_postgres import SmsStore
from notifier.wording import problems
from notifier.worker import Worker

MOSCOW = ZoneInfo("Europe/Moscow")  # UTC+3
VLADIVOSTOK = ZoneInfo("Asia/Vladivostok")  # UTC+10
OWN_WORDING = "{{ hospital }}: {{ patient }}, {{ date }}. {{ 'T ' ~ v.temperature.text if v.temperature.state == 'ok' else 'T -' }}"


def moscow() -> Clinic:
    return Clinic(id="hosp-msk", name="ГКБ № 1", timezone="Europe/Moscow", icu=Icu())


def vladivostok() -> Clinic:
    """Sends at 23:00, inside its quiet hours (22:00-08:00): held to 08:00, never dropped."""
    icu = Icu(send_at="23:00", quiet_start="22:00", quiet_end="08:00",
              hospital_name="Краевая больница", templates={"ru": OWN_WORDING})  # fmt: skip
    return Clinic(id="hosp-vvo", name="ККБ № 2", timezone="Asia/Vladivostok", icu=icu)


@pytest.fixture
async def hospitals(pool: asyncpg.Pool) -> AsyncIterator[list[Clinic]]:
    clinics = [moscow(), vladivostok()]
    for c in clinics:
        await pool.execute(
            "INSERT INTO clinics (id, config) VALUES ($1, $2) ON CONFLICT (id) DO UPDATE "
            "SET config = EXCLUDED.config, updated_at = now()",
            c.id,
            msgspec.json.encode(c).decode(),
        )
    yield clinics
    await pool.execute("DELETE FROM clinics WHERE id = ANY($1)", [c.id for c in clinics])


def tomorrow_utc(hour: int, minute: int = 0) -> datetime:
    """A moment tomorrow (UTC), after the seeded consents and in the future of the database."""
    day = datetime.now(UTC).date() + timedelta(days=1)
    return datetime.combine(day, time(hour, minute), UTC)


def test_a_hospital_schedule_is_its_clinics_icu_section_in_its_time_zone() -> None:
    default = HospitalSchedule(tz="Europe/Moscow", send_at=time(18))
    vvo = schedule_of(vladivostok(), default)
    assert (vvo.tz, vvo.send_at, vvo.quiet_start, vvo.quiet_end) == (
        "Asia/Vladivostok", time(23), time(22), time(8))  # fmt: skip
    assert vvo.name == "Краевая больница" and vvo.templates == {"ru": OWN_WORDING}
    plain = Clinic(id="plain", name="Без ОРИТ", timezone="Asia/Yekaterinburg")
    assert schedule_of(plain, default) == HospitalSchedule(
        tz="Asia/Yekaterinburg", send_at=time(18)
    )
    assert schedule_of(None, default) is default


def test_the_next_message_is_held_past_the_quiet_hours_it_falls_in() -> None:
    sched = schedule_of(vladivostok(), HospitalSchedule())
    at = datetime(2026, 12, 1, 12, 0, tzinfo=VLADIVOSTOK)  # before 23:00: today's, at 08:00
    upcoming = next_send(at, sched)
    assert upcoming.local_date.isoformat() == "2026-12-01"
    assert upcoming.not_before == datetime(2026, 12, 2, 8, 0, tzinfo=VLADIVOSTOK)
    late = next_send(datetime(2026, 12, 1, 23, 30, tzinfo=VLADIVOSTOK), sched)
    assert late.local_date.isoformat() == "2026-12-02"
    assert late.not_before == datetime(2026, 12, 3, 8, 0, tzinfo=VLADIVOSTOK)
    msk = next_send(datetime(2026, 12, 1, 17, 59, tzinfo=MOSCOW), schedule_of(moscow(), sched))
    assert msk.not_before == datetime(2026, 12, 1, 18, 0, tzinfo=MOSCOW)


@pytest.mark.parametrize(
    ("icu", "needle"),
    [
        (Icu(send_at="18:60"), "send_at must be a time of day as HH:MM"),
        (Icu(quiet_end="9:00"), "quiet_end must be a time of day"),
        (Icu(templates={"de": "{{ date }}"}), "unknown language 'de'"),
        (Icu(templates={"ru": "{{ v.spo2.value + 1 }}"}), "spo2 missing"),
        (Icu(templates={"en": "{% if %}"}), "line 1"),
        (Icu(templates={"ru": "{{ date }} " + "Ж" * 300}), "SMS segments"),
    ],
)
def test_a_clinic_with_a_bad_icu_section_is_refused_with_what_is_wrong(
    icu: Icu, needle: str
) -> None:
    raw = msgspec.to_builtins(Clinic(id="bad", name="Плохая", icu=icu))
    with pytest.raises(ValidationFailed) as caught:
        parse_clinic(raw)
    assert needle in caught.value.message


@pytest.mark.integration
async def test_each_hospital_queues_and_sends_at_its_own_time_across_time_zones(
    hospitals: list[Clinic],
    store: SmsStore,
    pool: asyncpg.Pool,
    smsc: FakeSmsc,
    settings: NotifierSettings,
) -> None:
    msk, vvo = hospitals
    await seed(store, patient_id="p-msk", clinic=msk.id, phones=[PHONES[0]])
    await seed(store, patient_id="p-vvo", clinic=vvo.id, phones=[PHONES[1]])
    now = tomorrow_utc(13, 30)  # Moscow 16:30, before 18:00; Vladivostok 23:30, quiet hours
    clock = [now]
    worker = Worker(pool, settings, clock=lambda: clock[0])
    try:
        assert await worker.enqueue_due() == 2
        query = "SELECT patient_id, state, local_date, next_attempt_at FROM sms_outbox"
        rows = {r["patient_id"]: r for r in await pool.fetch(query)}
        # Moscow: before today's 18:00, yesterday's message is the open one, overdue.
        msk_day = now.astimezone(MOSCOW).date() - timedelta(days=1)
        assert rows["p-msk"]["local_date"] == msk_day
        assert rows["p-msk"]["next_attempt_at"] == datetime.combine(msk_day, time(18), MOSCOW)
        # Vladivostok: today's, due at 23:00 in its quiet hours, so held to 08:00 tomorrow.
        vvo_day = now.astimezone(VLADIVOSTOK).date()
        morning = datetime.combine(vvo_day + timedelta(days=1), time(8), VLADIVOSTOK)
        assert rows["p-vvo"]["local_date"] == vvo_day
        assert rows["p-vvo"]["next_attempt_at"] == morning

        # The same moment: Moscow's goes, Vladivostok's waits for the morning.
        await worker.tick()
        assert [m.phone for m in smsc.messages] == [PHONES[0]]
        held = await pool.fetchrow(query + " WHERE patient_id = 'p-vvo'")
        assert held["state"] == "pending" and held["next_attempt_at"] == morning
        clock[0] = morning - timedelta(seconds=1)
        await worker.tick()
        assert smsc.sent_to(PHONES[1]) == []

        # 08:00 next morning in Vladivostok: sent, in the hospital's own wording.
        clock[0] = morning + timedelta(seconds=1)
        await worker.tick()
        [vvo_message] = smsc.sent_to(PHONES[1])
        assert vvo_message.text.startswith(f"Краевая больница: Иванов И.И., {vvo_day:%d.%m.%Y}.")
    finally:
        await worker.close()


@pytest.mark.integration
async def test_a_changed_schedule_reaches_the_worker_on_its_next_pass(
    hospitals: list[Clinic], store: SmsStore, pool: asyncpg.Pool, settings: NotifierSettings
) -> None:
    msk, _ = hospitals
    await seed(store, patient_id="p-msk", clinic=msk.id, phones=[PHONES[0]])
    now = tomorrow_utc(12, 0)  # 15:00 in Moscow: before 18:00, yesterday's message is open
    worker = Worker(pool, settings, clock=lambda: now)
    try:
        await worker.hospitals.refresh()
        assert worker.hospitals.schedule_for(msk.id).send_at == time(18)
        earlier = Clinic(id=msk.id, name=msk.name, icu=Icu(send_at="14:00"))
        await pool.execute(
            "UPDATE clinics SET config = $2, updated_at = now() WHERE id = $1",
            msk.id,
            msgspec.json.encode(earlier).decode(),
        )
        assert await worker.enqueue_due() == 1
        [row] = await pool.fetch("SELECT local_date FROM sms_outbox")
        assert row["local_date"] == now.astimezone(MOSCOW).date()  # today's: 14:00 has passed
    finally:
        await worker.close()


@pytest.mark.parametrize(
    ("wording", "needle"),
    [
        ("{{ date }}{{ 'x' * 100000000 }}", "'Mul'"),
        ("{{ date }}{{ 'x'.ljust(100000000) }}", "may call only"),
        ("{{ date }}{{ date['ljust'] }}", "index only by a field's name"),
        ("{{ date|center(100000000) }}", "filter 'center'"),
        ("{% for a in v %}{% for b in v %}{{ date }}{% endfor %}{% endfor %}", "'For'"),
        ("{% macro f() %}{{ f() }}{{ f() }}{% endmacro %}{{ f() }}", "'Macro'"),
        ("{% set val = date.upper %}{{ val() }}", "may not redefine"),
        ("{{ date }}{{ '%0100000000d' % 1 }}", "'Mod'"),
        ("{{ date }}{{ ().__class__ }}", "'__class__'"),
        ("{% include 'daily_ru.txt.j2' %}", "'Include'"),
    ],
)
def test_a_wording_that_could_stall_or_exhaust_a_sender_is_refused_before_rendering(
    wording: str, needle: str
) -> None:
    """Each of these would render (slowly, hugely or forever) in a plain sandbox."""
    [problem] = problems("ru", wording)
    assert needle in problem


def test_our_own_wordings_pass_the_check_they_impose() -> None:
    for language in ("ru", "en"):
        source = Path(notifier.__file__).parent / "templates" / f"daily_{language}.txt.j2"
        assert problems(language, source.read_text(encoding="utf-8")) == []


def test_our_short_style_says_not_measured_and_old_in_words_and_ends_once() -> None:
    """ "нет изм." read as "no change", and a stale last value ended the message with ".."."""
    from notifier.compose import render_style
    from notifier.wording import LONGEST_LABEL, SAMPLE_DATE, _background, sample  # noqa: F401

    for state, word in (("missing", "не измер."), ("stale", "устар.")):
        text = render_style("ru", None, "short", SAMPLE_DATE, _background(state), LONGEST_LABEL, "")
        assert f"Т {word};" in text and not text.endswith(".."), text
