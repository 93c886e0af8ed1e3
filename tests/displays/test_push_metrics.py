"""The push server's metrics as Prometheus scrapes them: process i on --metrics-port + i, its
sockets, the event frames it sent and the sockets it refused."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Iterator

import httpx
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from tests.displays.support import PushServer, Screen
from tests.support import MakeClinic, Samples, free_port_run, parse_metrics, sample, scrape

pytestmark = pytest.mark.integration
WAIT_SECONDS = 20.0  # a bound on waiting for an effect, never a timing assertion
PROCESSES = 2


@pytest.fixture(scope="module")
def metered_push(redis_url: str, database_url: str) -> Iterator[tuple[PushServer, list[str]]]:
    """Two push processes sharing a port, each with its own metrics port."""
    first = free_port_run(PROCESSES)
    server = PushServer(
        redis_url, database_url, processes=PROCESSES, args=["--metrics-port", str(first)]
    ).start()
    try:
        yield server, [f"http://127.0.0.1:{first + i}/metrics" for i in range(PROCESSES)]
    finally:
        server.stop()


async def scrape_processes(urls: list[str]) -> list[Samples]:
    return list(await asyncio.gather(*(scrape(url) for url in urls)))


async def eventually(check: Callable[[], Awaitable[bool]], what: str) -> None:
    deadline = time.monotonic() + WAIT_SECONDS
    while not await check():
        assert time.monotonic() < deadline, f"not seen within {WAIT_SECONDS} s: {what}"
        await asyncio.sleep(0.1)


async def test_each_process_counts_its_sockets_frames_and_refusals(
    clinics: MakeClinic, metered_push: tuple[PushServer, list[str]]
) -> None:
    """Six screens over two processes: process i's port counts the screens that process greeted,
    every event is one frame a screen, a bad token is one refusal (`unauthorized`), and
    closed screens leave no socket counted."""
    push, urls = metered_push
    cc = await clinics("pushmetrics")
    url = f"{push.ws}/ws/clinics/{cc.clinic}?token={cc.tokens['display']}"
    screens = [await Screen.open(url) for _ in range(6)]
    await asyncio.gather(*(s.until(lambda s: s.board is not None) for s in screens))
    by_process = [sum(1 for s in screens if s.hello["process"] == i) for i in range(PROCESSES)]
    counted = await scrape_processes(urls)
    assert [sample(m, "clinicq_push_sockets") for m in counted] == by_process
    frames = sum(sample(m, "clinicq_push_frames_total") for m in counted)

    taken = await cc.http.post(
        f"{cc.api}/tickets", json={"service": "therapy"}, headers=cc.auth("kiosk")
    )
    assert taken.status_code == 201, taken.text
    head = (await cc.http.get(f"{cc.api}/board", headers=cc.auth("display"))).json()["offset"]
    events = head - screens[0].offset  # a day's opening, then the ticket
    assert events >= 1
    await asyncio.gather(*(s.until(lambda s: s.offset == head) for s in screens))

    async def sent() -> bool:
        now = await scrape_processes(urls)
        return sum(sample(m, "clinicq_push_frames_total") for m in now) == frames + 6 * events

    await eventually(sent, "an event frame a screen an event counted")
    async with connect(f"{push.ws}/ws/clinics/{cc.clinic}?token=cq_nonsense") as ws:
        with pytest.raises(ConnectionClosed):
            await ws.recv()
    refused = sum(
        sample(m, "clinicq_push_refused_total", code="unauthorized")
        for m in await scrape_processes(urls)
    )
    assert refused == 1
    await asyncio.gather(*(s.ws.close() for s in screens))

    async def closed() -> bool:
        return all(sample(m, "clinicq_push_sockets") == 0 for m in await scrape_processes(urls))

    await eventually(closed, "no socket counted")


async def test_metrics_on_the_shared_port_are_one_process_and_loopback_only(
    metered_push: tuple[PushServer, list[str]],
) -> None:
    """GET /metrics on the screens' port answers (whichever process took the connection); from
    an address that is not the rule's loopback it is 403, on either port."""
    push, urls = metered_push
    shared = push.ws.replace("ws://", "http://") + "/metrics"
    async with httpx.AsyncClient(timeout=10) as http:
        answer = await http.get(shared)
    assert answer.status_code == 200
    assert ("clinicq_push_sockets", frozenset()) in parse_metrics(answer.text)
    # 127.0.0.2 is loopback to the kernel but not to the rule (127.0.0.1 and ::1).
    transport = httpx.AsyncHTTPTransport(local_address="127.0.0.2")
    async with httpx.AsyncClient(timeout=10, transport=transport) as http:
        for target in (shared, urls[0]):
            assert (await http.get(target)).status_code == 403
