"""The push protocol's frames and the join decision. Pure: no sockets, no Redis.

Server to client, one JSON text frame each:

    {"type": "hello", "process": 0, "heartbeat": 15}
    {"type": "snapshot", "reason": "join|epoch|gap", "offset": N, "epoch": E, "board": {...}}
    {"type": "board", "offset": N, "epoch": E, "board": {...}}      periodic refresh, in order
    {"type": "event", "offset": N, "event": {...}}                 offsets are contiguous
    {"type": "ping", "offset": N, "t": ms}                         heartbeat; N = last offset
    {"type": "pong"}
    {"type": "reload", "reason": "config"}    the clinic's configuration changed: load the page again
    {"type": "printer", "kiosk": K}           a kiosk printer's state or counters changed

Client to server: {"type": "ping"} (answered by pong) or {"type": "pong"}. Every frame is encoded
once per process and sent to every socket of the clinic as the same bytes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import msgspec

from displays.public import public_event
from engine.model import events as ev

_encode = msgspec.json.Encoder().encode
REPLAY_MAX = 1000  # further behind than this, a snapshot is cheaper than the replay
PONG = b'{"type":"pong"}'
# Pages render names (cabinets, services, doctors) from the configuration at load: a changed
# configuration reaches them only by loading the page again.
RELOAD = b'{"type":"reload","reason":"config"}'


def event_frame(offset: int, body: bytes) -> bytes:
    """The frame for one stream entry, from the event JSON as the engine wrote it."""
    public = public_event(ev.decode_event(body))
    return b'{"type":"event","offset":%d,"event":%s}' % (offset, _encode(public))


def board_frame(kind: str, board: dict[str, Any], reason: str = "") -> bytes:
    frame: dict[str, Any] = {"type": kind}
    if reason:
        frame["reason"] = reason
    frame.update(offset=board["offset"], epoch=board["epoch"], board=board)
    return _encode(frame)


def printer_frame(kiosk: str) -> bytes:
    return _encode({"type": "printer", "kiosk": kiosk})


def ping_frame(offset: int, now_ms: int) -> bytes:
    return b'{"type":"ping","offset":%d,"t":%d}' % (offset, now_ms)


def hello_frame(process: int, heartbeat: float) -> bytes:
    return _encode({"type": "hello", "process": process, "heartbeat": heartbeat})


@dataclass(frozen=True)
class Resume:
    """Where a joining client starts: replay after ``offset``, or a snapshot first."""

    snapshot: bool
    offset: int = 0
    reason: str = "join"


def plan_join(
    client_from: int | None, client_epoch: str | None, epoch: str | None, last: int
) -> Resume:
    """Replay from the client's offset when the stream can serve it, else start from a snapshot.

    ``last`` is the newest offset this process has broadcast for the clinic. A client that knows
    another epoch (Redis was rebuilt: offsets may have been reused), claims an offset we have not
    reached, or is far behind, starts again from a snapshot. Whether the stream still holds the
    entries after ``client_from`` is checked by the caller against Redis.
    """
    if client_from is None or epoch is None:
        return Resume(True)
    if client_epoch is not None and client_epoch != epoch:
        return Resume(True, reason="epoch")
    if client_from > last or last - client_from > REPLAY_MAX:
        return Resume(True, reason="gap")
    return Resume(False, client_from)


def parse_offset(value: str | None) -> int | None:
    if value is None or value == "":
        return None
    if not value.isdigit() or len(value) > 18:
        raise ValueError("from must be a non-negative integer offset")
    return int(value)
