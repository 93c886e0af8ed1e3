"""What must hold over a whole run, checked from what clients were told and what was journaled.

Pure functions over plain records, so a test can plant a violation and see it caught.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True)
class Acknowledged:
    """One success a client received: the clinic, what it was, and its identity."""

    clinic: str
    kind: str  # "ticket" or "reservation"
    id: str
    number: str = ""  # a ticket's printed number
    day: str = ""
    slot: str = ""


@dataclass(frozen=True)
class Violation:
    invariant: str
    detail: str


def no_number_twice(acks: Iterable[Acknowledged]) -> list[Violation]:
    """No clinic issued the same ticket number twice on one day."""
    seen = Counter((a.clinic, a.day, a.number) for a in acks if a.kind == "ticket")
    return [
        Violation("ticket number issued twice", f"{c} {d} {n} x{k}")
        for (c, d, n), k in seen.items()
        if k > 1
    ]


def no_slot_twice(acks: Iterable[Acknowledged], cancelled: set[str]) -> list[Violation]:
    """No slot went to two live reservations (a cancelled one frees its slot)."""
    live = Counter(
        (a.clinic, a.slot) for a in acks if a.kind == "reservation" and a.id not in cancelled
    )
    return [Violation("slot issued twice", f"{c} {s} x{k}") for (c, s), k in live.items() if k > 1]


def all_journaled(acks: Iterable[Acknowledged], journaled: set[tuple[str, str]]) -> list[Violation]:
    """Every acknowledged ticket and reservation is in the journal."""
    return [
        Violation("acknowledged but not journaled", f"{a.clinic} {a.kind} {a.id}")
        for a in acks
        if (a.clinic, a.id) not in journaled
    ]


def screens_in_order(
    received: dict[str, list[int]], published: dict[str, list[int]]
) -> list[Violation]:
    """Every screen got every event of its clinic once and in order (per screen: offsets seen)."""
    out = []
    for screen, offsets in received.items():
        clinic = screen.split("#", 1)[0]
        expected = [o for o in published.get(clinic, []) if offsets and o >= offsets[0]]
        if offsets != expected[: len(offsets)] or len(set(offsets)) != len(offsets):
            out.append(Violation("screen missed or repeated events", screen))
    return out


def screens_complete(
    received: dict[str, tuple[int, list[int]]], last: dict[str, int]
) -> list[Violation]:
    """Every screen got every event of its clinic from its snapshot's offset to the clinic's last.

    ``received`` maps a screen ("clinic#n") to its snapshot's offset and the event offsets it got
    after it; ``last`` is each clinic's newest published offset.
    """
    out = []
    for screen, (start, offsets) in received.items():
        clinic = screen.split("#", 1)[0]
        if start < 0:
            out.append(Violation("screen never joined", screen))
        elif offsets != list(range(start + 1, last.get(clinic, start) + 1)):
            got = f"{offsets[0]}..{offsets[-1]} ({len(offsets)})" if offsets else "none"
            out.append(
                Violation(
                    "screen missed events",
                    f"{screen}: after {start} up to {last.get(clinic)}, got {got}",
                )
            )
    return out


def screen_violations(
    received: dict[str, tuple[int, list[int]]], stream: dict[str, list[int]]
) -> list[Violation]:
    """Once and in order (``screens_in_order``), and nothing missing from the snapshot on."""
    lists = {key: offsets for key, (_, offsets) in received.items()}
    last = {clinic: offsets[-1] if offsets else 0 for clinic, offsets in stream.items()}
    return [
        *screens_in_order(lists, stream),
        *screens_complete(received, last),
    ]
