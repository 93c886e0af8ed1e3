"""The screens' invariant and the lean client's frame parsing, without servers."""

from __future__ import annotations

import asyncio

from loadtest.invariants import screens_complete, screens_in_order
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
