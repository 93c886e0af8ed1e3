"""The drill's screen applies frames as the product's screens do, and counts what it must."""

from __future__ import annotations

from tests.city.watch import Screen


def event(offset: int) -> dict[str, object]:
    return {"type": "event", "offset": offset, "event": {"kind": "ticket_issued", "at": 1000}}


def test_screen_applies_in_order_and_counts_repeats_gaps_and_resyncs() -> None:
    """In-order events apply; a repeat is counted, a gap asks for a reconnect, a later
    snapshot is a resync (a rebuild when its epoch is new), and a ping past the last offset is a
    gap too."""
    s = Screen("ws://x", "c", "t", "c#0")
    pong: list[bool] = []
    assert s.apply({"type": "snapshot", "offset": 4, "epoch": "e1"}, pong)
    assert s.url().endswith("from=4&epoch=e1")
    assert s.apply(event(5), pong) and s.last == 5
    assert not s.apply(event(5), pong) and s.repeated == 1
    assert not s.apply(event(7), pong) and s.gaps == 1 and s._gap and s.last == 5
    s._gap = False
    assert not s.apply({"type": "ping", "offset": 6}, pong) and s.gaps == 2 and pong == [True]
    s.apply({"type": "snapshot", "offset": 9, "epoch": "e1"}, pong)
    assert s.resyncs == 1 and s.rebuilt == 0 and s.last == 9
    s.apply({"type": "snapshot", "offset": 9, "epoch": "e2"}, pong)
    assert s.resyncs == 2 and s.rebuilt == 1 and s.url().endswith("from=9&epoch=e2")
    assert [a.offset for a in s.arrivals] == [5] and s.arrivals[0].at == 1.0
