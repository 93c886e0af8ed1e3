"""The screens' invariant and the lean client's frame parsing, without servers."""

from __future__ import annotations

import asyncio

from loadtest.invariants import screens_by_tails, screens_complete, screens_in_order
from loadtest.push_servers import bare_event
from loadtest.screens import Screen, Tally


def test_a_complete_screen_passes_and_a_gap_or_a_short_tail_fails() -> None:
    last = {"c1": 12}
    assert screens_complete({"c1#0": (9, [10, 11, 12])}, last) == []
    assert screens_complete({"c1#0": (12, [])}, last) == []
    missed = screens_complete({"c1#0": (9, [10, 12])}, last)
    short = screens_complete({"c1#0": (9, [10, 11])}, last)
    never = screens_complete({"c1#0": (-1, [])}, last)
    assert [v.invariant for v in missed + short + never] == [
        "screen missed events",
        "screen missed events",
        "screen never joined",
    ]
    assert screens_in_order({"c1#0": [10, 10, 11]}, {"c1": [9, 10, 11, 12]})


def test_the_lean_screen_parses_frames_split_anywhere() -> None:
    async def run() -> tuple[Screen, Tally]:
        tally = Tally()
        screen = Screen("c1#0", tally, [True], b"")
        frames = [
            b'{"type":"hello","process":0,"heartbeat":15}',
            b'{"type":"snapshot","reason":"join","offset":4,"epoch":"e","board":{}}',
            bare_event("c1", 5, 1_000),
            bare_event("c1", 6, 1_000) + b" " * 300,  # a 16-bit length
        ]
        wire = b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n"
        for f in frames:
            n = len(f)
            wire += b"\x81" + (bytes([n]) if n < 126 else b"\x7e" + n.to_bytes(2, "big")) + f
        for i in range(0, len(wire), 7):  # seven bytes at a time
            screen.data_received(wire[i : i + 7])
        return screen, tally

    screen, tally = asyncio.run(run())
    assert screen.opened.done() and screen.start == 4
    assert screen.offsets.tolist() == [5, 6]
    assert tally.frames == {"snapshot": 1, "hello": 1, "event": 2}
    assert len(tally.latencies_us) == 2 and min(tally.latencies_us) > 0


def _screen_after(offsets: list[int], snapshot: int = 4) -> Screen:
    """A screen that keeps only its tail, fed a snapshot at ``snapshot`` and then these events."""

    async def run() -> Screen:
        screen = Screen("c1#0", Tally(), [False], b"", keep=False)
        wire = b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n"
        frames = [b'{"type":"snapshot","reason":"join","offset":%d,"board":{}}' % snapshot]
        frames += [bare_event("c1", o, 1_000) for o in offsets]
        for f in frames:
            n = len(f)
            wire += b"\x81" + (bytes([n]) if n < 126 else b"\x7e" + n.to_bytes(2, "big")) + f
        screen.data_received(wire)
        return screen

    screen = asyncio.run(run())
    assert len(screen.offsets) == 0, "a screen that keeps its tail keeps no offsets"
    return screen


def test_the_tail_check_catches_a_gap_a_repeat_disorder_a_short_tail_and_no_join() -> None:
    """Newest offset and breaks of order decide as the full list did: each kind of miss fails."""
    last = {"c1": 8}

    def check(offsets: list[int], snapshot: int = 4) -> list[str]:
        screen = _screen_after(offsets, snapshot)
        return [v.invariant for v in screens_by_tails({"c1#0": (screen.last, screen.breaks)}, last)]

    assert check([5, 6, 7, 8]) == []
    assert check([], snapshot=8) == []
    assert check([5, 7, 8]) == ["screen missed or repeated events"]  # a gap
    assert check([5, 6, 6, 7, 8]) == ["screen missed or repeated events"]  # a repeat
    assert check([5, 7, 6, 8]) == ["screen missed or repeated events"]  # out of order
    assert check([6, 7, 8]) == ["screen missed or repeated events"]  # the first after the snapshot
    assert check([5, 6, 7]) == ["screen missed events"]  # short of the clinic's newest
    assert check([5, 6, 7, 8, 9]) == ["screen missed events"]  # past what was published
    never = screens_by_tails({"c1#1": (-1, 0)}, last)
    assert [v.invariant for v in never] == ["screen never joined"]
    # The list check agrees on each of them.
    for offsets in ([5, 7, 8], [5, 6, 6, 7, 8], [5, 7, 6, 8], [6, 7, 8], [5, 6, 7]):
        assert screens_complete({"c1#0": (4, offsets)}, last)
    assert screens_complete({"c1#0": (4, [5, 6, 7, 8])}, last) == []


def test_a_generator_folds_its_latencies_into_a_histogram() -> None:
    """A recording window of any length holds at most 65,536 raw latencies; none is lost."""
    tally = Tally()

    async def run() -> None:
        screen = Screen("c1#0", tally, [True], b"", keep=False)
        screen.data_received(b"HTTP/1.1 101 Switching Protocols\r\n\r\n")
        screen.frame(b'{"type":"snapshot","reason":"join","offset":0,"board":{}}')
        for o in range(1, 2 * 65_536 + 11):
            screen.frame(bare_event("c1", o, 1_000))
            assert len(tally.latencies_us) < 65_536

    asyncio.run(run())
    tally.fold()
    assert tally.latency.get_total_count() == 2 * 65_536 + 10 and not tally.latencies_us
