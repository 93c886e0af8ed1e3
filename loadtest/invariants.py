"""What must hold over a whole run, checked from what clients were told and what was journaled.

Pure functions and plain objects over plain records, so a test can plant a violation and see it
caught. A run may last a day, so what a check keeps is compact: ticket numbers as one bit each
(``TicketNumbers``), an acknowledgement only until the journal is read past it (``Journaled``),
a screen only its newest offset and its breaks of order (``screens_by_tails``).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field


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


# A number past this is kept as text, not as a bit (a day's numbers are in the thousands).
MAX_NUMBER_BIT = 1 << 20


class TicketNumbers:
    """No clinic issued the same ticket number twice on one day, one bit a number: "Т-042" is bit
    42 of (clinic, day, "Т"); a number not in the engine's form is kept as text."""

    def __init__(self) -> None:
        self.bits: dict[tuple[str, str, str], bytearray] = {}
        self.text: dict[tuple[str, str], set[str]] = {}
        self.twice: Counter[tuple[str, str, str]] = Counter()  # repeats beyond the first

    def add(self, clinic: str, day: str, number: str) -> None:
        prefix, dash, digits = number.rpartition("-")
        n = int(digits) if dash and digits.isascii() and digits.isdigit() else -1
        if 0 <= n < MAX_NUMBER_BIT and number == f"{prefix}-{n:03d}":
            bits = self.bits.setdefault((clinic, day, prefix), bytearray())
            byte, bit = divmod(n, 8)
            if byte >= len(bits):
                bits.extend(bytes(byte + 1 - len(bits)))
            seen = bits[byte] >> bit & 1
            bits[byte] |= 1 << bit
        else:
            numbers = self.text.setdefault((clinic, day), set())
            seen = number in numbers
            numbers.add(number)
        if seen:
            self.twice[clinic, day, number] += 1

    def violations(self) -> list[Violation]:
        return [
            Violation("ticket number issued twice", f"{c} {d} {n} x{k + 1}")
            for (c, d, n), k in self.twice.items()
        ]


def no_number_twice(acks: Iterable[Acknowledged]) -> list[Violation]:
    """No clinic issued the same ticket number twice on one day."""
    numbers = TicketNumbers()
    for a in acks:
        if a.kind == "ticket":
            numbers.add(a.clinic, a.day, a.number)
    return numbers.violations()


def no_slot_twice(acks: Iterable[Acknowledged], cancelled: set[str]) -> list[Violation]:
    """No slot went to two live reservations (a cancelled one frees its slot)."""
    live = Counter(
        (a.clinic, a.slot) for a in acks if a.kind == "reservation" and a.id not in cancelled
    )
    return [Violation("slot issued twice", f"{c} {s} x{k}") for (c, s), k in live.items() if k > 1]


class Journaled:
    """Every acknowledged ticket and reservation is in the journal, matched while the journal is
    read forward: an acknowledgement waits until its entry is read, an entry read first waits for
    its acknowledgement. ``forget`` drops entries nobody acknowledged (a lost answer); an
    acknowledgement that comes after its entry was dropped keeps waiting, and the run looks the
    ones still waiting up in the journal at its end (``violations(found)``)."""

    def __init__(self) -> None:
        self.waiting: dict[tuple[str, str], Acknowledged] = {}
        self.unclaimed: dict[tuple[str, str], float] = {}  # (clinic, id) -> when it was read

    def acknowledged(self, ack: Acknowledged) -> None:
        key = (ack.clinic, ack.id)
        if self.unclaimed.pop(key, None) is None:
            self.waiting[key] = ack

    def read(self, clinic: str, id: str, now: float) -> None:
        key = (clinic, id)
        if self.waiting.pop(key, None) is None:
            self.unclaimed[key] = now

    def forget(self, before: float) -> None:
        """Drop the unacknowledged entries read before ``before`` (oldest first, in read order)."""
        while self.unclaimed:
            key, at = next(iter(self.unclaimed.items()))
            if at >= before:
                return
            del self.unclaimed[key]

    def violations(self, found: set[tuple[str, str]] | None = None) -> list[Violation]:
        """The acknowledgements still waiting, but for those in ``found`` (looked up at the end)."""
        return [
            Violation("acknowledged but not journaled", f"{a.clinic} {a.kind} {a.id}")
            for key, a in self.waiting.items()
            if key not in (found or set())
        ]


def all_journaled(acks: Iterable[Acknowledged], journaled: set[tuple[str, str]]) -> list[Violation]:
    """Every acknowledged ticket and reservation is in the journal."""
    check = Journaled()
    for clinic, id in journaled:
        check.read(clinic, id, 0.0)
    for a in acks:
        check.acknowledged(a)
    return check.violations()


@dataclass
class Ledger:
    """What clients were told, kept for the checks: each ticket's number (as a bit) and, until
    the journal shows it, its acknowledgement; each reservation by id (as many as the run's slots,
    whatever its length)."""

    numbers: TicketNumbers = field(default_factory=TicketNumbers)
    journaled: Journaled = field(default_factory=Journaled)
    reservations: dict[str, Acknowledged] = field(default_factory=dict)
    tickets: int = 0
    first_ticket: Acknowledged | None = None

    def ticket(self, ack: Acknowledged) -> None:
        self.tickets += 1
        if self.first_ticket is None:
            self.first_ticket = ack
        self.numbers.add(ack.clinic, ack.day, ack.number)
        self.journaled.acknowledged(ack)

    def reserved(self, ack: Acknowledged) -> None:
        self.reservations[ack.id] = ack
        self.journaled.acknowledged(ack)

    def moved(self, ack: Acknowledged) -> None:
        """The same reservation (journaled when it was made) on another slot."""
        self.reservations[ack.id] = ack


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


def screens_by_tails(tails: dict[str, tuple[int, int]], last: dict[str, int]) -> list[Violation]:
    """``screens_complete`` from what a screen keeps on a long run: its newest offset and its
    breaks of order (events that were not the one after the previous; the first must be the one
    after the snapshot). No break and the clinic's newest offset: every event from the snapshot
    on, once and in order. ``tails`` maps a screen ("clinic#n") to (newest offset, breaks), -1
    before its snapshot; ``last`` is each clinic's newest published offset."""
    out = []
    for screen, (newest, breaks) in tails.items():
        clinic = screen.split("#", 1)[0]
        if newest < 0:
            out.append(Violation("screen never joined", screen))
        elif breaks:
            out.append(Violation("screen missed or repeated events", f"{screen}: {breaks} breaks"))
        elif newest != last.get(clinic, newest):
            out.append(
                Violation("screen missed events", f"{screen}: at {newest} of {last.get(clinic)}")
            )
    return out
