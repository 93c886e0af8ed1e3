"""The ICU desk's reads: the patient list, the hospital's rules, the next message as each
relative will get it, and the check of a hospital's own wording (real PostgreSQL behind a tiny
app whose stub tokens name the principal)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import asyncpg
import httpx
import msgspec
import pytest
from sms_helpers import PHONES, seed

from engine.clinic import Clinic, Icu
from notifier.schedule import PatientStatus
from notifier.settings import NotifierSettings
from notifier.store_postgres import SmsStore
from notifier.vitals import Observation

pytestmark = pytest.mark.integration
P = "/api/v1/icu/patients/p1"


async def configure(pool: asyncpg.Pool, icu: Icu) -> None:
    """Hospital c1 (the stub tokens' clinic) in Moscow with this ICU section."""
    clinic = Clinic(id="c1", name="ГКБ № 1", timezone="Europe/Moscow", icu=icu)
    await pool.execute(
        "INSERT INTO clinics (id, config) VALUES ('c1', $1) ON CONFLICT (id) DO UPDATE "
        "SET config = EXCLUDED.config, updated_at = now()",
        msgspec.json.encode(clinic).decode(),
    )


async def test_the_list_puts_admitted_patients_first_with_their_relatives_and_last_vitals(
    client: httpx.AsyncClient, store: SmsStore
) -> None:
    await seed(store, patient_id="p1", relatives=2)
    await seed(store, patient_id="p2", phones=[PHONES[5]])
    await store.set_status("p1", clinic="c1", status=PatientStatus.DISCHARGED, by="t",
                           now=datetime.now(UTC))  # fmt: skip
    await seed(store, patient_id="other", clinic="c2", phones=[PHONES[6]])
    r = await client.get("/api/v1/icu/patients")
    assert r.status_code == 200, r.text
    listed = r.json()["patients"]
    assert [(p["patient_id"], p["status"], p["relatives"]) for p in listed] == [
        ("p2", "admitted", 1),
        ("p1", "discharged", 2),
    ]
    assert listed[0]["label"] == "Иванов И.И." and listed[0]["observed_at"]


async def test_the_rules_are_the_hospitals_own(
    client: httpx.AsyncClient, pool: asyncpg.Pool
) -> None:
    await configure(pool, Icu(send_at="17:30", quiet_start="22:00", quiet_end="08:00"))
    r = await client.get("/api/v1/icu/rules")
    assert r.status_code == 200, r.text
    rules = r.json()
    assert (rules["timezone"], rules["send_at"], rules["quiet_start"], rules["quiet_end"]) == (
        "Europe/Moscow", "17:30", "22:00", "08:00")  # fmt: skip
    assert rules["limits"]["spo2"] == {"low": 30, "high": 100, "unit": "%"}
    sends = datetime.fromisoformat(rules["next_send_at"])
    assert sends.astimezone(UTC) > datetime.now(UTC)
    assert sends.strftime("%H:%M") == "17:30" and sends.utcoffset() == timedelta(hours=3)


def _sending_within_the_hour() -> Icu:
    """A schedule whose next send is an hour from now, outside its quiet hours: the seed's
    vitals (half an hour old) are then fresh at send time whatever the hour the test runs."""
    soon = datetime.now(ZoneInfo("Europe/Moscow")) + timedelta(hours=1)
    at = lambda hours: (soon + timedelta(hours=hours)).strftime("%H:%M")  # noqa: E731
    return Icu(send_at=at(0), quiet_start=at(6), quiet_end=at(8))


async def test_the_next_message_is_each_relatives_own_and_follows_the_vitals(
    client: httpx.AsyncClient, store: SmsStore, pool: asyncpg.Pool
) -> None:
    await configure(pool, _sending_within_the_hour())
    await seed(store, patient_id="p1", phones=[PHONES[0]])
    await store.add_relative("p1", clinic="c1", phone=PHONES[1], relation="son", language="en",
                             by="t", now=datetime.now(UTC))  # fmt: skip
    before = (await client.get(f"{P}/next-message")).json()
    ru, en = before["messages"]
    assert (ru["language"], ru["to"], en["language"]) == ("ru", "+7 *** ***-00-01", "en")
    assert "38,7" in ru["text"] and "38.7" in en["text"] and ru["segments"] >= 1
    assert before["stale"] == [] and before["missing"] == []
    now = datetime.now(UTC)
    await store.add_observation("p1", Observation(measured_at=now, temperature=36.9),
                                clinic="c1", by="t", now=now)  # fmt: skip
    after = (await client.get(f"{P}/next-message")).json()
    assert "36,9" in after["messages"][0]["text"] and "38,7" not in after["messages"][0]["text"]


async def test_values_that_will_be_old_at_send_time_are_flagged(
    client: httpx.AsyncClient, store: SmsStore, pool: asyncpg.Pool, settings: NotifierSettings
) -> None:
    """Vitals fresh now but older than ``stale_after`` when the message goes are said so."""
    sends = datetime.now(UTC) + timedelta(hours=2)
    await configure(pool, Icu(send_at=sends.astimezone(Clinic(id="x", name="x").zone)
                              .strftime("%H:%M"), quiet_start="00:00", quiet_end="00:00"))  # fmt: skip
    await seed(store, patient_id="p1")
    measured = datetime.now(UTC) - settings.stale_after + timedelta(hours=1)
    await store.add_observation("p1", Observation(measured_at=measured, spo2=95),
                                clinic="c1", by="t", now=datetime.now(UTC))  # fmt: skip
    await pool.execute("DELETE FROM sms_observations WHERE measured_at > $1", measured)
    body = (await client.get(f"{P}/next-message")).json()
    assert body["stale"] == ["spo2"]
    assert "temperature" in body["missing"]


async def test_a_patient_who_left_gets_no_next_message(
    client: httpx.AsyncClient, store: SmsStore
) -> None:
    await seed(store, patient_id="p1")
    r = await client.put(f"{P}/status", json={"status": "transferred"})
    assert r.status_code == 200, r.text
    body = (await client.get(f"{P}/next-message")).json()
    assert body["status"] == "transferred" and body["messages"] == []


async def test_a_hospitals_own_wording_is_previewed_or_refused_with_what_fails(
    client: httpx.AsyncClient,
) -> None:
    good = {
        "language": "ru",
        "wording": "{{ patient }}: {{ date }}, Т {{ v.temperature.text or '-' }}",
    }
    r = await client.post("/api/v1/icu/wording/preview", json=good, headers={"x-role": "head"})
    assert r.status_code == 200, r.text
    assert r.json()["text"] == "Иванов И.И.: 31.12.2026, Т 36,6" and r.json()["cases"] > 100
    bad = {"language": "en", "wording": "{{ v.pulse.value + 2 }} {{ date }}"}
    r = await client.post("/api/v1/icu/wording/preview", json=bad)
    assert r.status_code == 422 and r.json()["error"]["code"] == "wording_invalid"
    assert "pulse missing" in r.json()["error"]["message"]
    r = await client.post("/api/v1/icu/wording/preview", json=good, headers={"x-role": "doctor"})
    assert r.status_code == 403


async def test_an_admission_never_renames_a_patient_the_hospital_has(
    client: httpx.AsyncClient, store: SmsStore
) -> None:
    """The desk admits with ``new``: an id the hospital has is refused, and nothing changes."""
    await seed(store, patient_id="p1")
    r = await client.put(
        f"{P}/status", json={"status": "admitted", "label": "Петрова Н.Н.", "new": True}
    )
    assert r.status_code == 409 and r.json()["error"]["code"] == "patient_exists"
    assert (await store.get_patient("p1")).label == "Иванов И.И."
    r = await client.put("/api/v1/icu/patients/p9/status",
                         json={"status": "admitted", "label": "Петрова Н.Н.", "new": True})  # fmt: skip
    assert r.status_code == 200, r.text


async def test_a_patient_is_admitted_first_and_with_the_name_the_message_gives(
    client: httpx.AsyncClient,
) -> None:
    r = await client.put(f"{P}/status", json={"status": "deceased"})
    assert r.status_code == 409 and r.json()["error"]["code"] == "illegal_transition"
    r = await client.put(f"{P}/status", json={"status": "admitted"})
    assert r.status_code == 422 and "label" in r.json()["error"]["message"]


async def test_an_attending_doctor_is_one_of_the_hospitals_doctors(
    client: httpx.AsyncClient, pool: asyncpg.Pool
) -> None:
    await configure(pool, Icu())  # c1 has no doctors at all
    body = {"status": "admitted", "label": "Иванов И.И.", "attending_doctor": "nobody"}
    r = await client.put(f"{P}/status", json=body)
    assert r.status_code == 422 and "attending doctor" in r.json()["error"]["message"]


async def test_no_vitals_are_recorded_for_a_patient_who_left(
    client: httpx.AsyncClient, store: SmsStore
) -> None:
    await seed(store, patient_id="p1")
    assert (await client.put(f"{P}/status", json={"status": "deceased"})).status_code == 200
    r = await client.post(f"{P}/observations", json={"temperature": 36.6})
    assert r.status_code == 409 and r.json()["error"]["code"] == "patient_not_admitted"
