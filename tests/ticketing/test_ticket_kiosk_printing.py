"""Printing from the kiosk, end to end: the real engine (two workers) and a loopback printer.

Jobs run in whichever worker took the print request; the tests read them back through the API,
which any worker answers from the records in Redis.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

import pytest
from escpos_decode import QRCode, decode
from fake_printer import FakePrinter

from engine import keys
from engine.clinic import parse_clinic
from engine.errors import ValidationFailed
from tests.support import ClinicClient, EngineServer, MakeClinic, clinic_config, redis_client

pytestmark = pytest.mark.integration

Factory = Callable[..., FakePrinter]
KIOSK = "hall-1"
DONE_WITHIN = 15.0  # seconds: three attempts with back-off on a dropping printer take about 3


async def kiosk_clinic(clinics: MakeClinic, printer: FakePrinter) -> ClinicClient:
    return await clinics("print", kiosks=[{"id": KIOSK, "printer": printer.url}])


async def take_ticket(cc: ClinicClient) -> dict[str, Any]:
    response = await cc.http.post(
        cc.api + "/tickets", json={"service": "therapy"}, headers=cc.auth("kiosk")
    )
    assert response.status_code == 201, response.text
    ticket: dict[str, Any] = response.json()
    return ticket


async def print_ticket(cc: ClinicClient, ticket: str, kiosk: str = KIOSK) -> dict[str, Any]:
    started = time.monotonic()
    response = await cc.http.post(
        f"{cc.api}/kiosks/{kiosk}/print", json={"ticket": ticket}, headers=cc.auth("kiosk")
    )
    assert response.status_code == 202, response.text
    assert time.monotonic() - started < 1.0  # answered at once, whatever the printer does
    job: dict[str, Any] = response.json()
    return job


async def finished(cc: ClinicClient, job: str, kiosk: str = KIOSK) -> dict[str, Any]:
    """Poll the job as the kiosk page does until it is printed or failed."""
    deadline = time.monotonic() + DONE_WITHIN
    while True:
        response = await cc.http.get(
            f"{cc.api}/kiosks/{kiosk}/print/{job}", headers=cc.auth("kiosk")
        )
        assert response.status_code == 200, response.text
        view: dict[str, Any] = response.json()
        if view["done"]:
            return view
        assert time.monotonic() < deadline, view
        await asyncio.sleep(0.1)


async def alerts(cc: ClinicClient) -> list[dict[str, Any]]:
    response = await cc.http.get(cc.api + "/alerts", headers=cc.auth("head"))
    assert response.status_code == 200, response.text
    printers: list[dict[str, Any]] = response.json()["printers"]
    return printers


async def waiting(cc: ClinicClient) -> int:
    response = await cc.http.get(cc.api + "/board", headers=cc.auth("display"))
    assert response.status_code == 200, response.text
    return sum(q["waiting"] for q in response.json()["queues"])


async def until(predicate: Callable[[], object], limit: float = 5.0) -> None:
    deadline = time.monotonic() + limit
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.02)


# scenario: (final job state, kiosk falls back, printer state, alert raised); "printed" only
# where the printer confirmed it after the job, everything else keeps the ticket on screen
SCENARIOS = {
    "online": ("printed", False, "ok", None),
    "near_end": ("printed", False, "paper_near_end", "yellow"),
    "paper_out": ("failed", True, "paper_out", "red"),
    "cover_open": ("failed", True, "cover_open", "red"),
    "silent": ("unknown", True, "unknown", "yellow"),  # reads, never answers status
    "deaf": ("unknown", True, "unknown", "yellow"),  # accepts, never reads
    "once": ("unknown", True, "unknown", "yellow"),  # answers before the job, silent after
    "drop": ("unknown", True, "offline", "red"),  # cut short three times
}


@pytest.mark.parametrize("scenario", list(SCENARIOS))
async def test_each_printer_fault_ends_right_with_one_ticket_queued(
    clinics: MakeClinic, engine_server: EngineServer, printer_factory: Factory, scenario: str
) -> None:
    """Per fault: the job's state, the alert (or none), the kiosk's fallback, one ticket queued."""
    state, fallback, printer_state, level = SCENARIOS[scenario]
    fake = printer_factory(scenario)
    cc = await kiosk_clinic(clinics, fake)
    ticket = await take_ticket(cc)
    queued = await print_ticket(cc, ticket["id"])
    assert (queued["state"], queued["ticket"], queued["number"]) == (
        "queued",
        ticket["id"],
        "Т-001",
    )

    job = await finished(cc, queued["id"])
    assert (job["state"], job["fallback"], job["printer_state"]) == (state, fallback, printer_state)
    printer = await cc.http.get(f"{cc.api}/kiosks/{KIOSK}/printer", headers=cc.auth("kiosk"))
    assert printer.json()["state"] == printer_state
    raised = await alerts(cc)
    if level is None:
        assert raised == []
    else:
        assert [(a["kiosk"], a["state"], a["level"]) for a in raised] == [
            (KIOSK, printer_state, level)
        ]
    assert await waiting(cc) == 1

    if state == "printed" or scenario in ("silent", "once"):
        await until(lambda: fake.jobs)
        assert len(fake.jobs) == 1  # sent once: an unconfirmed job is never retried
        paper = decode(fake.jobs[0])
        assert "Т-001" in paper.text.splitlines()
        (qr,) = [item for item in paper.items if isinstance(item, QRCode)]
        assert qr.payload.decode() == engine_server.url + ticket["status_url"]
    elif scenario == "drop":
        await until(lambda: len(fake.jobs) == job["attempts"] == 3)
        assert all(len(sent) == fake.drop_after for sent in fake.jobs)  # each cut short
    else:
        await until(lambda: fake.connections == 1 and fake.jobs)
        assert fake.jobs == [b""]  # asked for its status, sent nothing


async def test_reprint_prints_the_same_ticket_and_takes_no_new_one(
    clinics: MakeClinic, printer_factory: Factory
) -> None:
    """A reprint sends the same bytes again; asking to print the ticket twice prints it once."""
    fake = printer_factory("online")
    cc = await kiosk_clinic(clinics, fake)
    ticket = await take_ticket(cc)
    first = await finished(cc, (await print_ticket(cc, ticket["id"]))["id"])
    assert first["state"] == "printed"

    again = await cc.http.post(
        f"{cc.api}/kiosks/{KIOSK}/print", json={"ticket": ticket["id"]}, headers=cc.auth("kiosk")
    )
    assert (again.status_code, again.json()["id"]) == (200, first["id"])

    for _ in range(2):  # either worker may take it: the job's record is in Redis
        response = await cc.http.post(
            f"{cc.api}/kiosks/{KIOSK}/print/{first['id']}/reprint", headers=cc.auth("kiosk")
        )
        assert response.status_code == 202, response.text
        copy = await finished(cc, response.json()["id"])
        assert (copy["state"], copy["reprint_of"], copy["ticket"]) == (
            "printed",
            first["id"],
            ticket["id"],
        )
    await until(lambda: len(fake.jobs) == 3)
    assert fake.jobs[0] == fake.jobs[1] == fake.jobs[2]
    assert await waiting(cc) == 1


async def test_printing_refuses_what_it_should(
    clinics: MakeClinic, printer_factory: Factory
) -> None:
    """Unknown kiosk, ticket or job are 404; roles that do not print are 403; a bad body 422."""
    cc = await kiosk_clinic(clinics, printer_factory("online"))
    ticket = (await take_ticket(cc))["id"]
    url = f"{cc.api}/kiosks/{KIOSK}/print"
    cases = [
        (
            "post",
            f"{cc.api}/kiosks/nope/print",
            {"ticket": ticket},
            "kiosk",
            404,
            "kiosk_not_found",
        ),
        ("post", url, {"ticket": "t-none"}, "kiosk", 404, "ticket_not_found"),
        ("post", url, {}, "kiosk", 422, "invalid"),
        ("post", url, {"ticket": ticket}, "display", 403, "forbidden"),
        ("post", url, {"ticket": ticket}, "doctor", 403, "forbidden"),
        ("post", url, {"ticket": ticket}, "other_clinic_head", 403, "forbidden"),
        ("get", url + "/pj-none", None, "kiosk", 404, "print_job_not_found"),
        ("post", url + "/pj-none/reprint", None, "kiosk", 404, "print_job_not_found"),
        ("get", cc.api + "/alerts", None, "kiosk", 403, "forbidden"),
    ]
    for method, path, body, role, status, code in cases:
        response = await cc.http.request(method, path, json=body, headers=cc.auth(role))
        assert (response.status_code, response.json()["error"]["code"]) == (status, code), path
    assert await waiting(cc) == 1


async def test_a_clinic_with_a_bad_printer_is_refused(clinics: MakeClinic) -> None:
    """PUT of a clinic whose kiosk printer URL or profile is wrong is 422 and changes nothing."""
    cc = await clinics("badprinter")
    for kiosk in (
        {"id": "k1", "printer": "lpt://1"},
        {"id": "k1", "printer": "tcp://127.0.0.1:9100", "profile": "no-such-model"},
    ):
        config = clinic_config(cc.clinic, kiosks=[kiosk])
        response = await cc.http.put(cc.api, json=config, headers=cc.auth("admin"))
        assert response.status_code == 422, response.text
    response = await cc.http.get(cc.api, headers=cc.auth("head"))
    assert response.json()["kiosks"] == []


def test_kiosks_are_optional_and_validated() -> None:
    """A configuration without kiosks still loads; kiosk ids and printers are checked."""
    assert parse_clinic(clinic_config("old")).kiosks == []
    good = clinic_config("new", kiosks=[{"id": "hall-1", "printer": "tcp://10.0.0.5:9100"}])
    assert parse_clinic(good).kiosk("hall-1") is not None
    for kiosks, problem in (
        ([{"id": "Hall 1", "printer": "tcp://10.0.0.5"}], "not a valid id"),
        ([{"id": "k", "printer": "tcp://a"}, {"id": "k", "printer": "tcp://b"}], "ids repeat"),
        ([{"id": "k", "printer": "tcp://a?profile=TM-T88III&codepage=CP1251"}], "CP1251"),
    ):
        with pytest.raises(ValidationFailed, match=problem):
            parse_clinic(clinic_config("x", kiosks=kiosks))


async def test_near_end_warns_while_printing_and_counts_the_roll(
    clinics: MakeClinic, printer_factory: Factory
) -> None:
    """Near end still prints, with a yellow alert that counts tickets on the roll; with a new roll
    the count restarts and the old roll's count gives an estimate of what is left."""
    fake = printer_factory("online")
    cc = await kiosk_clinic(clinics, fake)

    async def print_one() -> dict[str, Any]:
        return await finished(cc, (await print_ticket(cc, (await take_ticket(cc))["id"]))["id"])

    for _ in range(2):
        assert (await print_one())["state"] == "printed"
    fake.scenario = "near_end"
    assert (await print_one())["state"] == "printed"  # near end: the ticket still prints
    (alert,) = await alerts(cc)
    assert (alert["state"], alert["level"]) == ("paper_near_end", "yellow")
    assert (alert["printed_since_roll"], alert["left_estimate"]) == (3, None)

    fake.scenario = "online"  # the roll is replaced
    assert (await print_one())["state"] == "printed"
    assert await alerts(cc) == []
    printer = await cc.http.get(f"{cc.api}/kiosks/{KIOSK}/printer", headers=cc.auth("head"))
    assert (printer.json()["printed_since_roll"], printer.json()["left_estimate"]) == (1, 2)


@pytest.mark.parametrize("scenario", ["silent", "once"])
async def test_reprint_of_an_unconfirmed_job_sends_the_same_bytes(
    clinics: MakeClinic, printer_factory: Factory, scenario: str
) -> None:
    """ "Print again" after the printer did not confirm: the same bytes, still one ticket."""
    fake = printer_factory(scenario)
    cc = await kiosk_clinic(clinics, fake)
    ticket = await take_ticket(cc)
    first = await finished(cc, (await print_ticket(cc, ticket["id"]))["id"])
    assert (first["state"], first["fallback"]) == ("unknown", True)
    response = await cc.http.post(
        f"{cc.api}/kiosks/{KIOSK}/print/{first['id']}/reprint", headers=cc.auth("kiosk")
    )
    assert response.status_code == 202, response.text
    copy = await finished(cc, response.json()["id"])
    assert (copy["state"], copy["reprint_of"]) == ("unknown", first["id"])
    await until(lambda: len(fake.jobs) == 2)
    assert fake.jobs[0] == fake.jobs[1] != b""
    assert await waiting(cc) == 1


async def test_print_records_outlive_a_redis_loss(
    clinics: MakeClinic, engine_server: EngineServer, printer_factory: Factory
) -> None:
    """Redis loses the clinic (every key, print records included) and the engine rebuilds it from
    the journal: the job is read back from PostgreSQL, a reprint sends the same bytes, and the
    ticket is not printed again as a first print."""
    fake = printer_factory("online")
    cc = await kiosk_clinic(clinics, fake)
    ticket = await take_ticket(cc)
    first = await finished(cc, (await print_ticket(cc, ticket["id"]))["id"])
    assert first["state"] == "printed"

    client = redis_client(engine_server.redis_url)
    try:
        lost = [key async for key in client.scan_iter(match=keys.prefix(cc.clinic) + "*")]
        assert keys.print_job(cc.clinic, first["id"]) in {k.decode() for k in lost}
        await client.delete(*lost)
    finally:
        await client.aclose()

    assert await waiting(cc) == 1  # rebuilt from the journal
    assert await finished(cc, first["id"]) == first
    again = await cc.http.post(
        f"{cc.api}/kiosks/{KIOSK}/print", json={"ticket": ticket["id"]}, headers=cc.auth("kiosk")
    )
    assert (again.status_code, again.json()["id"]) == (200, first["id"])
    response = await cc.http.post(
        f"{cc.api}/kiosks/{KIOSK}/print/{first['id']}/reprint", headers=cc.auth("kiosk")
    )
    assert response.status_code == 202, response.text
    assert (await finished(cc, response.json()["id"]))["state"] == "printed"
    await until(lambda: len(fake.jobs) == 2)
    assert fake.jobs[0] == fake.jobs[1]


async def test_a_printer_still_out_of_paper_after_a_redis_loss_is_alerted_again(
    clinics: MakeClinic, engine_server: EngineServer, printer_factory: Factory
) -> None:
    """Redis forgets the printer's state; the engine's spool remembers it and, seeing no change,
    raised nothing: the next failed job says it again (a walk-through found no alert at all)."""
    fake = printer_factory("paper_out")
    cc = await kiosk_clinic(clinics, fake)
    first = await finished(cc, (await print_ticket(cc, (await take_ticket(cc))["id"]))["id"])
    assert first["state"] == "failed"
    assert [a["state"] for a in await alerts(cc)] == ["paper_out"]

    client = redis_client(engine_server.redis_url)
    try:
        await client.delete(keys.printers(cc.clinic))
    finally:
        await client.aclose()
    assert await alerts(cc) == []

    second = await finished(cc, (await print_ticket(cc, (await take_ticket(cc))["id"]))["id"])
    assert second["state"] == "failed"
    raised: list[dict[str, Any]] = []

    async def alerted() -> bool:
        raised[:] = await alerts(cc)
        return bool(raised)

    for _ in range(100):  # the state is written a moment after the job ends
        if await alerted():
            break
        await asyncio.sleep(0.05)
    assert [(a["kiosk"], a["state"], a["level"]) for a in raised] == [(KIOSK, "paper_out", "red")]
