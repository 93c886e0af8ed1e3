"""A clinic's last hours, per time bucket, folded from its journal events. Pure.

The department head's charts: each queue's length, longest wait, expected wait and doctors on
duty, the tickets issued, called and completed; each doctor's patients served and minutes spent
serving. Drawn from the journal (the truth), so a Redis loss loses none of it.

The events must start at a local midnight at or before ``start`` so that every ticket still
waiting at ``start`` is known. A doctor's duty from before the first event read is inferred: a
doctor first seen in a ticket event held that duty all along; one first seen changing duty was
off before.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import msgspec

from engine.clinic import Clinic
from engine.model import events as ev
from engine.model.entities import DoctorDuty, Ticket
from engine.model.eta import expected_wait_minutes
from engine.model.tickets import OPEN_STATES, State

MAX_HOURS = 12
BUCKET_MINUTES = (5, 10, 15, 30, 60)
MINUTE_MS = 60_000


class QueueSeries(msgspec.Struct):
    """One queue, one value per bucket. Counts and waits of walk-in tickets (as the board)."""

    service: str
    name: str
    waiting: list[int]  # at the bucket's end (the current bucket: now)
    peak_waiting: list[int]  # the most waiting at any moment within the bucket
    longest_wait_minutes: list[int]  # the longest anyone had waited, within the bucket
    expected_wait_minutes: list[int | None]  # at the bucket's end; None: nobody on duty
    on_duty: list[int]  # doctors on duty for it, at the bucket's end
    unstaffed: list[bool]  # patients waiting and nobody on duty, at the bucket's end
    issued: list[int]
    called: list[int]  # first calls (recalls are not counted)
    completed: list[int]


class DoctorSeries(msgspec.Struct):
    id: str
    name: str
    served: list[int]  # patients completed within the bucket
    serving_minutes: list[float]  # minutes with a patient in service, within the bucket


class History(msgspec.Struct):
    clinic: str
    start: int  # ms; bucket i covers [buckets[i], buckets[i] + bucket_minutes)
    end: int  # ms: now, inside the last bucket
    bucket_minutes: int
    buckets: list[int]
    queues: list[QueueSeries]
    doctors: list[DoctorSeries]


def window(now: int, hours: int, bucket_minutes: int) -> tuple[int, int]:
    """The first bucket's start and ``now``: whole buckets, the last one holding ``now``."""
    step = bucket_minutes * MINUTE_MS
    count = hours * 60 // bucket_minutes
    return (now // step - count + 1) * step, now


def _queue_of(ticket: Ticket) -> str | None:
    """The walk-in queue a ticket waits in, if it waits (booked ones wait apart)."""
    waits = ticket.state == State.WAITING and ticket.slot_time is None
    return ticket.service if waits else None


@dataclass
class _Fold:
    clinic: Clinic
    start: int
    end: int
    step: int
    size: int
    services: list[str]
    tickets: dict[str, Ticket] = field(default_factory=dict)
    duty: dict[str, DoctorDuty] = field(default_factory=dict)
    stats: dict[str, list[int]] = field(default_factory=dict)  # served, seconds today
    serving: dict[str, tuple[str, int]] = field(default_factory=dict)  # ticket -> doctor, since
    sampled: int = 0  # buckets closed so far
    seeded: bool = False  # the first bucket knows how many were waiting at its start

    def __post_init__(self) -> None:
        zeros = lambda: {s: [0] * self.size for s in self.services}  # noqa: E731
        self.out = {
            name: zeros()
            for name in ("waiting", "peak", "longest", "on_duty", "issued", "called", "completed")
        }
        self.expected: dict[str, list[int | None]] = {s: [None] * self.size for s in self.services}
        ids = [d.id for d in self.clinic.doctors]
        self.served = {d: [0] * self.size for d in ids}
        self.busy = {d: [0.0] * self.size for d in ids}

    def bucket(self, at: int) -> int | None:
        if at < self.start:
            return None
        return min((at - self.start) // self.step, self.size - 1)

    def waiting(self, service: str) -> list[Ticket]:
        return [t for t in self.tickets.values() if _queue_of(t) == service]

    def sample_until(self, at: int) -> None:
        """Close every bucket that ends at or before ``at``."""
        if not self.seeded and at >= self.start:
            self.seeded = True
            for s in self.services:
                self.out["peak"][s][0] = len(self.waiting(s))
        while self.sampled < self.size and self.start + (self.sampled + 1) * self.step <= at:
            self.sample(self.sampled, self.start + (self.sampled + 1) * self.step)

    def sample(self, i: int, at: int) -> None:
        out = self.out
        for s in self.services:
            queue = self.waiting(s)
            on_duty = sum(
                1 for d in self.duty.values() if d.status == "on_duty" and s in d.services
            )
            served, seconds = self.stats.get(s, (0, 0))
            out["waiting"][s][i] = len(queue)
            out["on_duty"][s][i] = on_duty
            out["peak"][s][i] = max(out["peak"][s][i], len(queue))
            longest = max(((at - t.issued_at) // MINUTE_MS for t in queue), default=0)
            out["longest"][s][i] = max(out["longest"][s][i], longest)
            self.expected[s][i] = expected_wait_minutes(len(queue), served, seconds, on_duty)
            if i + 1 < self.size:  # the next bucket starts with this many waiting
                out["peak"][s][i + 1] = len(queue)
        self.sampled = i + 1

    def busy_between(self, doctor: str, since: int, until: int) -> None:
        if doctor not in self.busy:
            return
        for i in range(self.size):
            lo = max(since, self.start + i * self.step)
            hi = min(until, self.start + (i + 1) * self.step, self.end)
            if hi > lo:
                self.busy[doctor][i] += (hi - lo) / MINUTE_MS

    def apply(self, event: ev.AnyEvent) -> None:
        self.sample_until(event.at)
        i = self.bucket(event.at)
        match event:
            case ev.DayOpened():
                for ticket in self.tickets.values():
                    self._leave(ticket, event.at, i, expired=True)
                self.tickets.clear()
                self.stats.clear()
            case ev.TicketIssued(ticket=t):
                self._count("issued", t.service, i)
            case ev.TicketCalled(ticket=t):
                self._count("called", t.service, i)
            case ev.TicketCompleted(ticket=t, doctor=d, service_seconds=seconds):
                self._count("completed", t.service, i)
                stats = self.stats.setdefault(t.service, [0, 0])
                stats[0], stats[1] = stats[0] + 1, stats[1] + seconds
                if i is not None and d.id in self.served:
                    self.served[d.id][i] += 1
        doctor = getattr(event, "doctor", None)
        if isinstance(doctor, DoctorDuty):
            self.duty[doctor.id] = doctor
        snapshot = getattr(event, "ticket", None)
        if isinstance(snapshot, Ticket):
            self._move(snapshot, event.at, i)

    def _count(self, series: str, service: str, i: int | None) -> None:
        if i is not None and service in self.out[series]:
            self.out[series][service][i] += 1

    def _move(self, new: Ticket, at: int, i: int | None) -> None:
        old = self.tickets.get(new.id)
        if old is not None and _queue_of(old) != _queue_of(new):
            self._leave(old, at, i)
        if old is not None and old.state == State.SERVING and new.state != State.SERVING:
            self._stop_serving(old.id, at)
        if new.state == State.SERVING and (old is None or old.state != State.SERVING):
            self.serving[new.id] = (new.doctor or "", at)
        if new.state in OPEN_STATES:
            self.tickets[new.id] = new
        else:
            self.tickets.pop(new.id, None)
        queue = _queue_of(new)
        if i is not None and queue in self.out["peak"]:
            self.out["peak"][queue][i] = max(self.out["peak"][queue][i], len(self.waiting(queue)))

    def _leave(self, old: Ticket, at: int, i: int | None, *, expired: bool = False) -> None:
        """A ticket stops waiting in its queue (or serving): its wait counts for the bucket."""
        if old.state == State.SERVING:
            self._stop_serving(old.id, at)
        queue = _queue_of(old)
        # A ticket left over from yesterday expires at the first event of the day: not a wait.
        if queue is None or i is None or expired or queue not in self.out["longest"]:
            return
        waited = (at - old.issued_at) // MINUTE_MS
        self.out["longest"][queue][i] = max(self.out["longest"][queue][i], waited)

    def _stop_serving(self, ticket: str, at: int) -> None:
        doctor, since = self.serving.pop(ticket, ("", at))
        self.busy_between(doctor, since, at)


def history(
    clinic: Clinic,
    events: Sequence[ev.AnyEvent],
    *,
    start: int,
    end: int,
    bucket_minutes: int,
) -> History:
    """The series for buckets from ``start`` to ``end`` (now), from the events in offset order."""
    step = bucket_minutes * MINUTE_MS
    size = max(1, math.ceil((end - start) / step))
    services = [s.id for s in clinic.services]
    fold = _Fold(clinic, start, end, step, size, services)
    fold.duty = _duty_before(events)
    for event in events:
        fold.apply(event)
    fold.sample_until(end)
    if fold.sampled < size:
        fold.sample(size - 1, end)
    for ticket, (doctor, since) in list(fold.serving.items()):
        fold.busy_between(doctor, since, end)
        del fold.serving[ticket]
    out = fold.out
    return History(
        clinic=clinic.id,
        start=start,
        end=end,
        bucket_minutes=bucket_minutes,
        buckets=[start + i * step for i in range(size)],
        queues=[
            QueueSeries(
                service=s.id,
                name=s.name,
                waiting=out["waiting"][s.id],
                peak_waiting=out["peak"][s.id],
                longest_wait_minutes=out["longest"][s.id],
                expected_wait_minutes=fold.expected[s.id],
                on_duty=out["on_duty"][s.id],
                unstaffed=[
                    w > 0 and d == 0
                    for w, d in zip(out["waiting"][s.id], out["on_duty"][s.id], strict=True)
                ],
                issued=out["issued"][s.id],
                called=out["called"][s.id],
                completed=out["completed"][s.id],
            )
            for s in clinic.services
        ],
        doctors=[
            DoctorSeries(
                id=d.id,
                name=d.name,
                served=fold.served[d.id],
                serving_minutes=[round(m, 1) for m in fold.busy[d.id]],
            )
            for d in clinic.doctors
        ],
    )


def _duty_before(events: Sequence[ev.AnyEvent]) -> dict[str, DoctorDuty]:
    """Each doctor's duty before the first event read: what a ticket event first shows (a ticket
    event does not change a doctor's status); a doctor first seen changing duty was off."""
    seen: dict[str, DoctorDuty | None] = {}
    for event in events:
        doctor = getattr(event, "doctor", None)
        if isinstance(doctor, DoctorDuty) and doctor.id not in seen:
            seen[doctor.id] = None if isinstance(event, ev.DutyChanged) else doctor
    return {d: duty for d, duty in seen.items() if duty is not None}
