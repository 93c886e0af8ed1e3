"""A duty change says which version it was made against (If-Match); a stale one is refused."""

from __future__ import annotations

from typing import Any

import pytest

from tests.support import ClinicClient, MakeClinic

pytestmark = pytest.mark.integration


async def _doctor(c: ClinicClient, doctor: str) -> dict[str, Any]:
    board = (await c.http.get(f"{c.api}/board", headers=c.auth("display"))).json()
    row: dict[str, Any] = next(d for d in board["doctors"] if d["id"] == doctor)
    return row


async def _duty(
    c: ClinicClient, doctor: str, body: dict[str, Any], if_match: str | None, role: str = "head"
) -> Any:
    headers = c.auth(role)
    if if_match is not None:
        headers["If-Match"] = if_match
    return await c.http.put(f"{c.api}/doctors/{doctor}/duty", json=body, headers=headers)


async def test_a_stale_if_match_is_refused_with_the_current_state(clinics: MakeClinic) -> None:
    """Two heads edit from the same version: the second gets 409 stale_duty and what is now."""
    c = await clinics("versions")
    seen = (await _doctor(c, "d1"))["version"]
    first = await _duty(c, "d1", {"cabinet": "c2", "services": ["surgery"]}, f'"{seen}"')
    assert first.status_code == 200, first.text
    assert first.json()["version"] == seen + 1
    assert first.headers["etag"] == f'"{seen + 1}"'

    # The second head still sees the old row and presses "move" back to c1.
    second = await _duty(c, "d1", {"cabinet": "c1", "services": ["therapy"]}, f'"{seen}"')
    assert second.status_code == 409, second.text
    error = second.json()["error"]
    assert error["code"] == "stale_duty" and error["message"]
    now = error["detail"]["doctor"]
    assert (now["cabinet"], now["services"], now["version"]) == ("c2", ["surgery"], seen + 1)
    row = await _doctor(c, "d1")
    assert (row["cabinet"], row["services"], row["version"]) == ("c2", ["surgery"], seen + 1)

    # Made against what is now, the change goes through and is a new version again.
    fresh = await _duty(c, "d1", {"cabinet": "c1"}, first.headers["etag"])
    assert fresh.status_code == 200, fresh.text
    assert (fresh.json()["cabinet"], fresh.json()["version"]) == ("c1", seen + 2)
    assert (await _doctor(c, "d1"))["version"] == seen + 2


async def test_without_if_match_duty_changes_work_as_before(clinics: MakeClinic) -> None:
    """The doctor's own panel and other clients send no If-Match (or ``*``): never stale."""
    c = await clinics("noversion")
    mine = await _duty(c, "d0", {"status": "on_duty"}, None, role="doctor")
    assert mine.status_code == 200, mine.text
    again = await _duty(c, "d0", {"status": "break"}, "*", role="doctor")
    assert again.status_code == 200, again.text
    assert again.json()["version"] == mine.json()["version"] + 1


async def test_a_malformed_if_match_is_400(clinics: MakeClinic) -> None:
    """An If-Match that names no duty version is bad input with its own code, and changes nothing."""
    c = await clinics("badmatch")
    before = await _doctor(c, "d1")
    for value in ("3", 'W/"3"', '"x"', '"1", "2"', ""):
        r = await _duty(c, "d1", {"status": "on_duty"}, value)
        assert (r.status_code, r.json()["error"]["code"]) == (400, "bad_if_match"), value
    assert await _doctor(c, "d1") == before


async def test_a_doctor_who_is_off_cannot_go_on_a_break(clinics: MakeClinic) -> None:
    """Off to break is nonsense: refused with a clear code; on duty, then a break, is fine."""
    c = await clinics("offbreak")
    refused = await _duty(c, "d1", {"status": "break"}, None)
    assert refused.status_code == 409, refused.text
    assert refused.json()["error"]["code"] == "illegal_duty_transition"
    assert (await _doctor(c, "d1"))["status"] == "off"
    assert (await _duty(c, "d1", {"status": "on_duty"}, None)).status_code == 200
    assert (await _duty(c, "d1", {"status": "break"}, None)).status_code == 200
    assert (await _doctor(c, "d1"))["status"] == "break"
