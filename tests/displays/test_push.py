"""The push server over real Redis, PostgreSQL and engine workers, without a browser."""

from __future__ import annotations

import asyncio
import json
import socket
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from engine.auth import ALL_STAFF
from engine.embedded import EmbeddedRedis, wipe
from tests.displays.support import PushServer, Screen
from tests.support import ClinicClient, EngineServer, MakeClinic, make_clinic, midday_zone

pytestmark = pytest.mark.integration


def ws_url(push: PushServer, cc: ClinicClient, role: str = "display", **query: Any) -> str:
    extra = "".join(f"&{k}={v}" for k, v in query.items())
    return f"{push.ws}/ws/clinics/{cc.clinic}?token={cc.tokens[role]}{extra}"


async def take(cc: ClinicClient, service: str = "therapy") -> dict[str, Any]:
    response = await cc.http.post(
        cc.api + "/tickets", json={"service": service}, headers=cc.auth("kiosk")
    )
    assert response.status_code == 201, response.text
    data: dict[str, Any] = response.json()
    return data


async def board(cc: ClinicClient) -> dict[str, Any]:
    response = await cc.http.get(cc.api + "/board", headers=cc.auth("display"))
    assert response.status_code == 200, response.text
    data: dict[str, Any] = response.json()
    return data


async def board_eventually(cc: ClinicClient) -> dict[str, Any]:
    for _ in range(20):
        try:
            response = await cc.http.get(cc.api + "/board", headers=cc.auth("display"))
            if response.status_code == 200:
                data: dict[str, Any] = response.json()
                return data
        except httpx.HTTPError:
            pass
        await asyncio.sleep(0.1)
    raise AssertionError("the engine did not answer /board after Redis came back")


async def open_many(url: str, n: int, parallel: int = 100) -> list[Screen]:
    gate = asyncio.Semaphore(parallel)

    async def one() -> Screen:
        async with gate:
            return await Screen.open(url)

    return list(await asyncio.gather(*(one() for _ in range(n))))


async def test_a_thousand_screens_get_every_event_once_in_order(
    clinics: MakeClinic, push_server: PushServer
) -> None:
    """1,000 sockets on one clinic over two processes: every event, once, in offset order."""
    cc = await clinics("fanout")
    await take(cc)
    screens = await open_many(ws_url(push_server, cc), 1000)
    assert {s.hello["process"] for s in screens} == {0, 1}
    await asyncio.gather(*(s.until(lambda s: s.board is not None, 30) for s in screens))
    start = min(s.offset for s in screens)

    await cc.http.put(
        cc.api + "/doctors/d0/duty", json={"status": "on_duty"}, headers=cc.auth("head")
    )
    await asyncio.gather(*(take(cc) for _ in range(10)))
    for actions in (("start", "complete"), ("no-show",), ("recall", "no-show"), ("start",)):
        response = await cc.http.post(cc.api + "/cabinets/c0/call-next", headers=cc.auth("head"))
        assert response.status_code == 200, response.text
        ticket = response.json()["ticket"]["id"]
        for action in actions:
            response = await cc.http.post(
                cc.api + f"/tickets/{ticket}/{action}", headers=cc.auth("head")
            )
            assert response.status_code == 200, response.text
    end = (await board(cc))["offset"]
    assert end >= start + 20

    await asyncio.gather(*(s.until(lambda s: s.offset >= end, 30) for s in screens))
    for s in screens:
        assert s.offsets == list(range(s.offsets[0], end + 1))
        assert s.offsets[0] <= start + 1
        assert len(s.snapshots) == 1
    final = await board(cc)
    assert all(s.board is not None and s.offset == final["offset"] for s in screens)
    await asyncio.gather(*(s.ws.close() for s in screens))


async def test_a_client_that_stops_reading_delays_no_one(
    clinics: MakeClinic, redis_url: str, database_url: str
) -> None:
    """A stalled socket is dropped once its backlog passes the limit; the others keep up."""
    push = PushServer(
        redis_url, database_url, processes=1, args=["--slow-bytes", "8192", "--sndbuf", "4096"]
    ).start()
    try:
        cc = await clinics("stall")
        url = ws_url(push, cc)
        sock = socket.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 2048)
        sock.connect(("127.0.0.1", push.port))
        stalled = await Screen.open(url, sock=sock)
        await stalled.until(lambda s: s.board is not None)
        stalled.ws.transport.pause_reading()
        readers = await open_many(url, 20)
        await asyncio.gather(*(s.until(lambda s: s.board is not None) for s in readers))

        lags: list[float] = []
        loop = asyncio.get_running_loop()
        for _ in range(4):
            await asyncio.gather(*(take(cc) for _ in range(50)))
            sent = loop.time()
            end = (await board(cc))["offset"]
            await asyncio.gather(*(s.until(lambda s, end=end: s.offset >= end) for s in readers))
            lags.append(loop.time() - sent)
        assert max(lags) < 2.0, lags
        for s in readers:
            assert s.offsets == list(range(s.offsets[0], end + 1))

        stalled.ws.transport.resume_reading()
        with pytest.raises(ConnectionClosed):
            await stalled.until(lambda s: False, within=10)
        await asyncio.gather(*(s.ws.close() for s in readers))
    finally:
        push.stop()


async def test_screens_resync_to_the_board_after_redis_loses_everything(
    tmp_path: Path, database_url: str, db: Any, admin_token: str
) -> None:
    """Redis restarts empty: the engine rebuilds from the journal and every screen resyncs."""
    redis = EmbeddedRedis(tmp_path / "redis").start()
    single = {"CLINICQ_REDIS_CLUSTER": "0"}  # this test's own Redis, even in the cluster run
    engine = EngineServer(redis.url, database_url, workers=1, extra_env=single).start()
    push = PushServer(redis.url, database_url, processes=1, env=single).start()
    cc = await make_clinic(engine, db, admin_token, f"lost-{uuid.uuid4().hex[:6]}")
    try:
        await cc.http.put(
            cc.api + "/doctors/d0/duty", json={"status": "on_duty"}, headers=cc.auth("head")
        )
        for _ in range(3):
            await take(cc)
        await cc.http.post(cc.api + "/cabinets/c0/call-next", headers=cc.auth("head"))
        screens = await open_many(ws_url(push, cc), 50)
        before = await board(cc)
        await asyncio.gather(*(s.until(lambda s: s.offset >= before["offset"]) for s in screens))

        redis.stop()
        wipe(redis.data_dir)
        redis.start()

        await asyncio.gather(*(s.until(lambda s: len(s.snapshots) >= 2, 20) for s in screens))
        # The engine's first request on each stale pooled connection may still fail (its Redis
        # errors are not retried); the screens above never depended on that.
        after = await board_eventually(cc)
        assert after["epoch"] != before["epoch"]
        same = ("offset", "epoch", "calls", "queues")
        for s in screens:
            resync = s.snapshots[-1]
            assert resync["reason"] == "epoch"
            assert {k: resync["board"][k] for k in same} == {k: after[k] for k in same}
        # Live again: the next call reaches every screen, on top of the rebuilt board.
        await cc.http.put(
            cc.api + "/doctors/d1/duty", json={"status": "on_duty"}, headers=cc.auth("head")
        )
        response = await cc.http.post(cc.api + "/cabinets/c1/call-next", headers=cc.auth("head"))
        assert response.status_code == 200, response.text
        number = response.json()["ticket"]["number"]
        final = await board(cc)
        await asyncio.gather(*(s.until(lambda s: s.offset >= final["offset"]) for s in screens))
        for s in screens:
            assert s.offsets[-1] == final["offset"] and len(s.snapshots) == 2
        assert final["calls"][0]["number"] == number
        await asyncio.gather(*(s.ws.close() for s in screens))
    finally:
        await cc.http.aclose()
        push.stop()
        engine.stop()
        redis.stop()


async def test_resume_replays_from_an_offset_or_sends_a_snapshot(
    clinics: MakeClinic, push_server: PushServer
) -> None:
    """from=N replays N+1.. with no snapshot; a stale epoch or no offset gets a snapshot."""
    cc = await clinics("resume")
    first = await take(cc)
    mark = (await board(cc))["offset"]
    await take(cc)
    await take(cc, "surgery")
    end = (await board(cc))["offset"]
    epoch = (await board(cc))["epoch"]

    replay = await Screen.open(ws_url(push_server, cc, **{"from": mark, "epoch": epoch}))
    replay.offset = mark
    await replay.until(lambda s: s.offset >= end)
    assert replay.snapshots == [] and replay.offsets == list(range(mark + 1, end + 1))

    stale = await Screen.open(ws_url(push_server, cc, **{"from": mark, "epoch": "gone"}))
    await stale.until(lambda s: s.board is not None)
    assert stale.snapshots[0]["reason"] == "epoch" and stale.offset == end
    assert stale.board is not None and stale.board["queues"][0]["waiting"] == 2

    link = first["status_url"].rsplit("/", 1)[1]
    patient = await Screen.open(f"{push_server.ws}/ws/clinics/{cc.clinic}?link={link}")
    await patient.until(lambda s: s.board is not None)
    await asyncio.gather(replay.ws.close(), stale.ws.close(), patient.ws.close())


@pytest.mark.parametrize(
    ("query", "code"),
    [
        ("token=cq_nonsense", 4401),
        ("token={other_clinic_head}", 4403),
        ("token={partner}", 4403),
        ("link=nosuchlink", 4404),
        ("ticket={ticket}", 4400),  # a ticket's id is no credential: only its status link
        ("", 4400),
        ("token={display}&from=-1", 4400),
    ],
)
async def test_refusals_close_with_a_code(
    clinics: MakeClinic, push_server: PushServer, query: str, code: int
) -> None:
    """Bad or foreign credentials are refused with 4000 + the HTTP status, before any data."""
    cc = await clinics("refuse")
    ticket = (await take(cc))["id"]
    url = f"{push_server.ws}/ws/clinics/{cc.clinic}?" + query.format(**cc.tokens, ticket=ticket)
    async with connect(url) as ws:
        with pytest.raises(ConnectionClosed) as closed:
            await ws.recv()
    assert closed.value.rcvd is not None and closed.value.rcvd.code == code


async def test_every_role_against_the_socket(clinics: MakeClinic, push_server: PushServer) -> None:
    """The socket's row of the authorization matrix: the clinic's staff get in, a partner or
    another clinic's head get 4403, an unknown token 4401, a patient only with their link."""
    cc = await clinics("wsauthz")
    link = (await take(cc))["status_url"].rsplit("/", 1)[1]
    base = f"{push_server.ws}/ws/clinics/{cc.clinic}?"
    cases = {f"token={token}": role for role, token in cc.tokens.items()}
    expected = {
        role: None if role in {*ALL_STAFF, "admin", "doctor_d1"} else 4403 for role in cc.tokens
    }
    cases |= {f"link={link}": "patient", "token=cq_garbage": "garbage", "": "nobody"}
    expected |= {"patient": None, "garbage": 4401, "nobody": 4400}
    seen: dict[str, int | None] = {}
    for query, who in cases.items():
        async with connect(base + query) as ws:
            try:
                first = json.loads(await ws.recv())
                seen[who] = None if first["type"] == "hello" else -1
            except ConnectionClosed as closed:
                seen[who] = closed.rcvd.code if closed.rcvd else -2
    assert seen == expected


async def test_screens_never_receive_patient_data(
    clinics: MakeClinic, push_server: PushServer
) -> None:
    """A booking with a name and phone, checked in with priority: no frame carries either."""
    cc = await clinics("private", timezone=midday_zone())
    frames: list[str] = []
    async with connect(ws_url(push_server, cc)) as ws:
        # The board first: an event that lands before it is folded into it, not sent.
        async with asyncio.timeout(10):
            while json.loads(frames[-1] if frames else "{}").get("type") != "snapshot":
                frames.append(str(await ws.recv()))
        slots = (
            await cc.http.get(cc.api + "/slots?free=true", headers=cc.auth("registrar"))
        ).json()
        slot = slots["slots"][-1]["id"]
        patient = "Петрова Мария Ивановна +79161234567"
        reserved = await cc.http.post(
            cc.api + f"/slots/{slot}/reservation",
            json={"patient": patient, "confirm": True},
            headers=cc.auth("registrar"),
        )
        assert reserved.status_code == 201, reserved.text
        rid = reserved.json()["id"]
        checked = await cc.http.post(
            cc.api + f"/reservations/{rid}/check-in",
            json={"patient": patient},
            headers=cc.auth("kiosk"),
        )
        assert checked.status_code == 200, checked.text
        await cc.http.post(
            cc.api + "/tickets",
            json={"service": "therapy", "priority": "pregnant"},
            headers=cc.auth("kiosk"),
        )
        end = (await board(cc))["offset"]
        async with asyncio.timeout(10):
            while True:
                frames.append(str(await ws.recv()))
                frame = json.loads(frames[-1])
                if frame.get("type") == "event" and frame["offset"] >= end:
                    break
    text = "\n".join(frames)
    for secret in ("Петрова", "79161234567", rid, "pregnant", "patient"):
        assert secret not in text
    kinds = [json.loads(f)["event"]["kind"] for f in frames if '"event"' in f]
    assert {"slot_reserved", "checked_in", "ticket_issued"} <= set(kinds)


def test_health_endpoint(push_server: PushServer) -> None:
    """Plain HTTP GET /healthz answers 200 for load balancers."""
    assert httpx.get(f"http://127.0.0.1:{push_server.port}/healthz").status_code == 200


async def test_a_binary_frame_is_ignored_not_an_error(
    clinics: MakeClinic, push_server: PushServer
) -> None:
    """A screen that sends a binary frame stays connected and still gets its pong and events."""
    cc = await clinics("binary")
    async with connect(ws_url(push_server, cc)) as ws:
        await ws.send(b'{"type": "ping"}')
        await ws.send('{"type": "ping"}')
        async with asyncio.timeout(10):
            while '"pong"' not in str(await ws.recv()):
                pass
        assert ws.close_code is None


async def test_sockets_are_capped_per_token_and_per_ticket(
    clinics: MakeClinic, redis_url: str, database_url: str
) -> None:
    """Past the configured cap, one more socket for the same token, or the same ticket link, is
    refused with 4429; another token still gets in, and a freed place can be taken again."""
    cc = await clinics("caps")
    ticket = await take(cc)
    env = {"CLINICQ_PUSH_SOCKETS_PER_TOKEN": "3", "CLINICQ_PUSH_SOCKETS_PER_TICKET": "2"}
    push = PushServer(redis_url, database_url, processes=1, env=env).start()
    try:
        by_token = f"{push.ws}/ws/clinics/{cc.clinic}?token={cc.tokens['display']}"
        link = ticket["status_url"].rsplit("/", 1)[1]
        by_ticket = f"{push.ws}/ws/clinics/{cc.clinic}?link={link}"
        for url, cap in ((by_token, 3), (by_ticket, 2)):
            held = [await connect(url) for _ in range(cap)]
            for ws in held:
                assert '"hello"' in str(await ws.recv())
            async with connect(url) as extra:
                with pytest.raises(ConnectionClosed) as closed:
                    await extra.recv()
            assert closed.value.rcvd is not None and closed.value.rcvd.code == 4429
            await held.pop().close()
            async with connect(url) as again:
                assert '"hello"' in str(await again.recv())
            for ws in held:
                await ws.close()
        async with connect(ws_url(push, cc, role="head")) as other:
            assert '"hello"' in str(await other.recv())
    finally:
        push.stop()
