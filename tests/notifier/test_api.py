"""The ICU HTTP routes through a tiny Starlette app whose stub middleware sets the principal;
everything behind it (store, PostgreSQL, worker, SMSC server) is real."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import httpx
import pytest
from fake_smsc import FakeSmsc

from notifier.settings import NotifierSettings
from notifier.store_postgres import SmsStore
from notifier.worker import Worker

pytestmark = pytest.mark.integration
P = "/api/v1/icu/patients/p1"


async def admit(client: httpx.AsyncClient) -> None:
    r = await client.put(f"{P}/status", json={"status": "admitted", "label": "Иванов И.И."})
    assert r.status_code == 200, r.text


async def test_register_relative_masks_and_encrypts(
    client: httpx.AsyncClient, pool: asyncpg.Pool
) -> None:
    """A registered number comes back masked and is stored only encrypted."""
    await admit(client)
    r = await client.post(f"{P}/relatives", json={"phone": "8 (916) 777-12-34", "relation": "son"})
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["phone"] == "+7 *** ***-12-34" and body["language"] == "ru"
    assert body["history"][0]["action"] == "granted" and body["history"][0]["by"] == "icu_doctor:d1"
    row = await pool.fetchrow("SELECT phone_enc, phone_fp FROM sms_relatives")
    assert b"9167771234" not in bytes(row["phone_enc"]) + bytes(row["phone_fp"])
    again = await client.post(f"{P}/relatives", json={"phone": "+79167771234", "relation": "x"})
    assert again.status_code == 409 and again.json()["error"]["code"] == "consent_conflict"


@pytest.mark.parametrize(
    ("body", "code", "needle"),
    [
        ({"phone": "12345", "relation": "son"}, "invalid_phone", "not a valid number"),
        ({"phone": "+7 495 123-45-67", "relation": "son"}, "phone_not_mobile", "not a mobile"),
        ({"phone": "+79161234567", "relation": ""}, "invalid", "$.relation"),
        ({"phone": "+79161234567", "relation": "son", "language": "de"}, "invalid", "language"),
        ({"phone": "+79161234567"}, "invalid", "relation"),
    ],
)
async def test_bad_relative_bodies_are_422(
    client: httpx.AsyncClient, body: dict[str, Any], code: str, needle: str
) -> None:
    """Bad phone numbers and bodies are refused with 422 and a clear message."""
    await admit(client)
    r = await client.post(f"{P}/relatives", json=body)
    assert r.status_code == 422
    error = r.json()["error"]
    assert error["code"] == code and needle in error["message"]


async def test_only_icu_doctors_of_the_clinic(client: httpx.AsyncClient) -> None:
    """Other roles get 403; another clinic's doctor does not see the patient (404)."""
    await admit(client)
    r = await client.get(f"{P}/relatives", headers={"x-role": "registrar"})
    assert r.status_code == 403
    r = await client.get(f"{P}/relatives", headers={"x-clinic": "c2"})
    assert r.status_code == 404 and r.json()["error"]["code"] == "patient_not_found"


async def test_revoke_keeps_history(client: httpx.AsyncClient) -> None:
    """Revoking keeps who and when for the grant and the revocation."""
    await admit(client)
    rel = (
        await client.post(f"{P}/relatives", json={"phone": "+79161112233", "relation": "wife"})
    ).json()
    r = await client.post(f"{P}/relatives/{rel['id']}/revoke")
    assert r.status_code == 200
    assert [h["action"] for h in r.json()["history"]] == ["granted", "revoked"]
    assert r.json()["active"] is False
    again = await client.post(f"{P}/relatives/{rel['id']}/revoke")
    assert again.status_code == 409


@pytest.mark.parametrize(
    ("body", "needle"),
    [
        ({"temperature": 55.5}, "temperature is outside the plausible range 25-45"),
        ({"spo2": 140}, "spo2 is outside"),
        ({"bp_systolic": 120}, "needs both"),
        ({"bp_systolic": 80, "bp_diastolic": 120}, "lower than systolic"),
        ({"pulse": "fast"}, "Expected `int | null`"),
        ({}, "at least one value"),
        ({"measured_at": "2020-01-01T00:00:00", "pulse": 80}, "time zone"),
        ({"dynamics": "better"}, "dynamics"),
    ],
)
async def test_impossible_observations_are_422(
    client: httpx.AsyncClient, body: dict[str, Any], needle: str
) -> None:
    """Impossible or malformed vitals are refused with a message naming the problem."""
    await admit(client)
    r = await client.post(f"{P}/observations", json=body)
    assert r.status_code == 422, r.text
    assert needle in r.json()["error"]["message"]


async def test_observations_recorded_and_marked_stale(client: httpx.AsyncClient) -> None:
    """Latest values come back per field; old ones are flagged stale."""
    await admit(client)
    old = {"measured_at": "2020-01-01T10:00:00+03:00", "pulse": 80}
    assert (await client.post(f"{P}/observations", json=old)).status_code == 201
    fresh = {"temperature": 37.1, "bp_systolic": 120, "bp_diastolic": 70, "ventilator": True}
    assert (await client.post(f"{P}/observations", json=fresh)).status_code == 201
    got = (await client.get(f"{P}/observations")).json()
    assert got["pulse"]["stale"] is True and got["temperature"]["stale"] is False
    assert got["blood_pressure"]["value"] == [120, 70] and got["ventilator"]["value"] is True
    assert "spo2" not in got


async def test_audit_shows_masked_recipient_and_delivery(
    client: httpx.AsyncClient, store: SmsStore, pool: asyncpg.Pool, smsc: FakeSmsc,
    settings: NotifierSettings,
) -> None:  # fmt: skip
    """After a run the doctor sees what went to whom (masked), when, and its delivery."""
    await admit(client)
    # consent given days ago, so today's message is due
    await store.add_relative(
        "p1", clinic="c1", phone="+79161234500", relation="son", language="en",
        by="icu_doctor:d1", now=datetime.now(UTC) - timedelta(days=2),
    )  # fmt: skip
    await client.post(f"{P}/observations", json={"temperature": 36.9})
    worker = Worker(pool, settings)
    await worker.run(burst=True)
    await worker.close()
    [m] = (await client.get(f"{P}/messages")).json()["messages"]
    assert m["to"] == "+7 *** ***-45-00" and m["state"] == "delivered"
    assert (
        m["delivery"] == "delivered" and m["sent_at"] and "T 36.9;" in m["text"]
    )  # Cyrillic label: short style


async def test_death_via_api_alerts_and_stops(client: httpx.AsyncClient) -> None:
    """Setting deceased answers that sending stopped and shows an alert for the doctor."""
    await admit(client)
    r = await client.put(f"{P}/status", json={"status": "deceased"})
    assert r.json() == {
        "patient_id": "p1",
        "status": "deceased",
        "attending_doctor": "d1",
        "sending_stopped": True,
        "attending_alerted": True,
    }
    [alert] = (await client.get("/api/v1/icu/alerts")).json()["alerts"]
    assert alert["kind"] == "patient_deceased" and alert["doctor"] == "d1"
    r = await client.put(f"{P}/status", json={"status": "admitted"})
    assert r.status_code == 409 and r.json()["error"]["code"] == "illegal_transition"
    r = await client.put(f"{P}/status", json={"status": "asleep"})
    assert r.status_code == 422


async def test_another_icu_admits_a_transferred_patient_and_old_consents_end(
    client: httpx.AsyncClient,
) -> None:
    """After a transfer another hospital may admit the patient; the first one's consents end."""
    other = {"x-clinic": "c2"}
    await admit(client)
    r = await client.post(f"{P}/relatives", json={"phone": "+79161112233", "relation": "мать"})
    assert r.status_code == 201
    refused = await client.put(f"{P}/status", json={"status": "admitted"}, headers=other)
    assert refused.status_code == 404  # still in the first ICU
    assert (await client.put(f"{P}/status", json={"status": "transferred"})).status_code == 200
    moved = await client.put(f"{P}/status", json={"status": "admitted"}, headers=other)
    assert moved.status_code == 200, moved.text
    relatives = (await client.get(f"{P}/relatives", headers=other)).json()["relatives"]
    assert relatives and all(not rel["active"] for rel in relatives)
    assert (await client.get(f"{P}/relatives")).status_code == 404
