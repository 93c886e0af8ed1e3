"""One stream reader per push process: many clinics through one XREAD, the epoch read from the
stream, and the Redis round trips it costs per delivered event."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import Counter
from collections.abc import AsyncIterator
from typing import Any

import pytest
from redis.asyncio.connection import AbstractConnection
from websockets.asyncio.server import serve

from displays.feed import FeedOptions
from displays.push import Hub, PushOptions
from engine.auth import TokenBook
from engine.embedded import free_port
from engine.runtime import close_engine, open_engine
from engine.service import Engine
from engine.settings import Settings
from tests.displays.support import Screen
from tests.displays.test_push import board, take
from tests.support import CLUSTER, ClinicClient, MakeClinic

pytestmark = pytest.mark.integration


@contextlib.asynccontextmanager
async def push_in_process(
    redis_url: str, database_url: str, feed: FeedOptions
) -> AsyncIterator[tuple[Hub, Engine, str]]:
    """A push process's hub served in this process, so that a test can see its reader and count
    what it sends to Redis; writes go through the engine server (another process)."""
    settings = Settings(
        redis_url=redis_url, redis_cluster=CLUSTER, database_url=database_url, database_pool_size=2
    )
    engine = await open_engine(settings, writer=False)
    hub = Hub(engine, TokenBook(engine.pool), PushOptions(feed=feed), 0)
    port = free_port()
    try:
        async with serve(
            hub.handle,
            "127.0.0.1",
            port,
            process_request=hub.process_request,
            compression=None,
            ping_interval=None,
        ):
            yield hub, engine, f"ws://127.0.0.1:{port}"
            await hub.close()
    finally:
        await close_engine(engine)


def url(base: str, cc: ClinicClient) -> str:
    return f"{base}/ws/clinics/{cc.clinic}?token={cc.tokens['display']}"


async def rebuild(engine: Engine, clinic: str) -> None:
    """Make the engine rebuild the clinic from the journal, as after finding it stale."""
    position = await engine.store.position(clinic)
    assert position.epoch is not None
    await engine.store.fence(clinic, position.epoch)
    await engine.rebuild(clinic)


async def test_a_rebuild_is_read_from_the_stream_when_idle_and_mid_burst(
    clinics: MakeClinic, redis_url: str, database_url: str
) -> None:
    """With the epoch poll off, a rebuild still reaches every screen as an ``epoch`` snapshot of
    the rebuilt board: idle, and in the middle of a burst, with every event once and in order."""
    cc = await clinics("rebuilt")
    await take(cc)
    feed = FeedOptions(epoch_every=3600.0)  # only the stream can tell
    async with push_in_process(redis_url, database_url, feed) as (_hub, engine, base):
        screens = [await Screen.open(url(base, cc)) for _ in range(5)]
        await asyncio.gather(*(s.until(lambda s: s.board is not None) for s in screens))
        before = await board(cc)

        await rebuild(engine, cc.clinic)
        idle = await board(cc)
        assert idle["epoch"] != before["epoch"]
        for s in screens:
            await s.until(lambda s: s.board is not None and s.board["epoch"] == idle["epoch"], 5)
            assert s.snapshots[-1]["reason"] == "epoch" and s.offset == idle["offset"]

        async def burst() -> None:
            for _ in range(40):
                await take(cc)

        writing = asyncio.create_task(burst())
        await asyncio.sleep(0.15)
        await rebuild(engine, cc.clinic)
        await writing
        final = await board(cc)
        assert final["epoch"] != idle["epoch"]
        for s in screens:
            # Screen.take asserts each event is the one after the last frame's offset.
            await s.until(lambda s: s.offset >= final["offset"] and s.board is not None, 10)
            await s.until(lambda s: s.board is not None and s.board["epoch"] == final["epoch"])
            assert len(s.snapshots) == 3 and s.snapshots[-1]["reason"] == "epoch"
            assert s.offset == final["offset"]
        await asyncio.gather(*(s.ws.close() for s in screens))


class Sent:
    """Every command and round trip this process sends to Redis (the push hub's only)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.commands: Counter[str] = Counter()
        self.round_trips = 0
        pack, send = AbstractConnection.pack_command, AbstractConnection.send_packed_command

        def counting_pack(conn: Any, *args: Any) -> Any:
            name = args[0].decode() if isinstance(args[0], bytes) else str(args[0])
            self.commands[name.split()[0].upper()] += 1
            return pack(conn, *args)

        async def counting_send(conn: Any, command: Any, check_health: bool = True) -> None:
            self.round_trips += 1
            await send(conn, command, check_health)

        monkeypatch.setattr(AbstractConnection, "pack_command", counting_pack)
        monkeypatch.setattr(AbstractConnection, "send_packed_command", counting_send)

    def reset(self) -> None:
        self.commands.clear()
        self.round_trips = 0


async def test_many_clinics_share_one_reader_with_no_epoch_read_per_wake(
    clinics: MakeClinic, redis_url: str, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """30 clinics in one process: one reader (one a slot in a cluster) brings every clinic's
    events to its screens; Redis round trips are one XREAD per batch plus one a second for the
    epochs and one a second for idle reads, not one XREAD and one HGET per clinic per wake."""
    count, per_clinic = 30, 6
    made = [await clinics(f"many{i}") for i in range(count)]
    sent = Sent(monkeypatch)
    # Boards off while counting: this measures the reader, not board builds.
    feed = FeedOptions(board_every=3600.0, idle_board_every=3600.0)
    async with push_in_process(redis_url, database_url, feed) as (hub, _engine, base):
        screens = {cc.clinic: [await Screen.open(url(base, cc)) for _ in range(2)] for cc in made}
        every = [s for group in screens.values() for s in group]
        await asyncio.gather(*(s.until(lambda s: s.board is not None, 20) for s in every))
        readers = len(hub.readers)
        assert readers == (len({hub.reader_for(cc.clinic) for cc in made}) if CLUSTER else 1)

        await asyncio.sleep(1.2)  # joins' replays and resyncs are over
        sent.reset()
        started = time.monotonic()
        for _ in range(per_clinic):
            await asyncio.gather(*(take(cc) for cc in made))
        ends = {cc.clinic: (await board(cc))["offset"] for cc in made}
        await asyncio.gather(
            *(
                s.until(lambda s, c=c: s.offset >= ends[c], 20)
                for c, g in screens.items()
                for s in g
            )
        )
        seconds = time.monotonic() - started
        events = count * per_clinic
        xreads, hgets = sent.commands["XREAD"], sent.commands["HGET"]
        print(
            f"\n{events} events over {count} clinics in {seconds:.2f} s: {sent.round_trips} round "
            f"trips ({sent.round_trips / events:.2f} an event), {xreads} XREAD, {hgets} HGET, "
            f"{dict(sent.commands)}"
        )
        ticks = seconds + 2  # block timeouts and epoch polls: at most one a second each
        assert xreads <= events + readers * ticks
        assert hgets <= count * ticks  # the poll: every clinic once a second, one round trip
        # Not the reader's: opening pool connections, and the cluster client's key lookups.
        other = sum(sent.commands[c] for c in ("HELLO", "CLIENT", "COMMAND"))
        assert sent.round_trips - other <= xreads + readers * ticks + 2
        for group in screens.values():
            for s in group:
                assert s.offsets[-per_clinic:] == list(
                    range(s.offset - per_clinic + 1, s.offset + 1)
                )
        await asyncio.gather(*(s.ws.close() for s in every))
