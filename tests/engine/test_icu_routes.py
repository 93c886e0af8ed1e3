"""The ICU routes are mounted in the engine behind its own token auth (real engine, real DB)."""

from __future__ import annotations

import pytest

from tests.support import MakeClinic

pytestmark = pytest.mark.integration


async def test_icu_doctor_registers_a_relative_through_the_engine(clinics: MakeClinic) -> None:
    """An icu_doctor token may; a kiosk token may not; no token is 401; the phone comes back masked."""
    c = await clinics("icu")
    # Patient ids are city-wide (like a policy number), so each run admits a new one.
    path = f"/api/v1/icu/patients/p-{c.clinic}"
    r = await c.http.put(
        f"{path}/status",
        json={"status": "admitted", "label": "Иванов И.И."},
        headers=c.auth("icu_doctor"),
    )
    assert r.status_code == 200, r.text
    body = {"phone": "+7 916 555-12-34", "relation": "дочь"}
    assert (await c.http.post(f"{path}/relatives", json=body)).status_code == 401
    refused = await c.http.post(f"{path}/relatives", json=body, headers=c.auth("kiosk"))
    assert refused.status_code == 403 and refused.json()["error"]["code"]
    r = await c.http.post(f"{path}/relatives", json=body, headers=c.auth("icu_doctor"))
    assert r.status_code == 201, r.text
    assert r.json()["phone"] == "+7 *** ***-12-34"
    audit = await c.http.get(f"{path}/messages", headers=c.auth("icu_doctor"))
    assert audit.status_code == 200


async def test_icu_bodies_are_limited_and_text_is_printable(clinics: MakeClinic) -> None:
    """A body past the engine's limit is 413 before it is read whole; NUL or a bidi override in
    a name or in the patient id is 422, never a 500."""
    c = await clinics("icu-edges")
    path = f"/api/v1/icu/patients/p-{c.clinic}"
    ok = await c.http.put(
        f"{path}/status",
        json={"status": "admitted", "label": "Иванов И.И."},
        headers=c.auth("icu_doctor"),
    )
    assert ok.status_code == 200, ok.text
    huge = await c.http.put(
        f"{path}/status",
        content=b'{"status": "admitted", "label": "' + b"x" * 200_000 + b'"}',
        headers=c.auth("icu_doctor"),
    )
    assert huge.status_code == 413 and huge.json()["error"]["code"]
    for label in ["a\x00b", "Иван\u202eов"]:
        r = await c.http.put(
            f"{path}/status",
            json={"status": "admitted", "label": label},
            headers=c.auth("icu_doctor"),
        )
        assert r.status_code == 422, r.text
        r = await c.http.post(
            f"{path}/relatives", json={"phone": "+7 916 555-12-34", "relation": label},
            headers=c.auth("icu_doctor"),
        )  # fmt: skip
        assert r.status_code == 422, r.text
    nul_id = await c.http.get("/api/v1/icu/patients/p%00x/messages", headers=c.auth("icu_doctor"))
    assert nul_id.status_code == 422, nul_id.text
    emoji = await c.http.put(
        f"{path}/status",
        json={"status": "admitted", "label": "Палата 3 🙂"},
        headers=c.auth("icu_doctor"),
    )
    assert emoji.status_code == 200, emoji.text
