"""The day as a discrete-event simulation (simpy): ``simulate(config, seed) -> DayResult``.

Doctors call patients by the engine's own rule (``engine.model.queue.choose_next``): a checked-in
booking once its time has come, before walk-ins; walk-ins by arrival, priority categories taking
at most ``priority_run`` calls in a row. A suspended patient is resumed before the next call. A
doctor takes a break once the patient in hand is done. Pure: no I/O, no clock, no global state.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Generator, Sequence
from dataclasses import dataclass, field
from typing import Any

import simpy

from clinic_sim.config import DayConfig, DoctorSpec
from clinic_sim.patients import Patient, plan_day
from clinic_sim.results import DayResult, DoctorLoad, Visit
from engine.model.queue import choose_next

SAFETY_MINUTES = 24 * 60.0  # no simulated day runs longer than this past closing


def _slot(p: Patient) -> float:
    return p.slot or 0.0


def _arrival(p: Patient) -> float:
    return p.arrival


def _priority(p: Patient) -> bool:
    return bool(p.priority)


@dataclass
class _Record:
    patient: Patient
    outcome: str = "unserved"
    doctor: str | None = None
    called: float | None = None
    finished: float | None = None


@dataclass
class _Queue:
    plain: deque[Patient] = field(default_factory=deque)
    priority: deque[Patient] = field(default_factory=deque)


@dataclass(order=True)
class _Suspended:
    ready: float
    remaining: float
    patient: Patient | None = field(default=None, compare=False)


def simulate(config: DayConfig, seed: int, patients: Sequence[Patient] | None = None) -> DayResult:
    """Run one day; the same config and seed always give the same result."""
    day = _Day(config, plan_day(config, seed) if patients is None else patients)
    return day.run(seed)


class _Day:
    def __init__(self, config: DayConfig, patients: Sequence[Patient]) -> None:
        self.env = simpy.Environment()
        self.config = config
        self.patients = patients
        self.queues = {s.id: _Queue() for s in config.services}
        self.booked: dict[str, list[Patient]] = {d.id: [] for d in config.doctors}
        self.idle: dict[str, simpy.Event] = {}
        self.records = {p.id: _Record(p) for p in patients}
        self.loads: list[DoctorLoad] = []

    def run(self, seed: int) -> DayResult:
        self.env.process(self._arrivals())
        for spec in self.config.doctors:
            self.env.process(self._doctor(spec))
        last_shift = max((d.end for d in self.config.doctors), default=0.0)
        self.env.run(until=max(self.config.close, last_shift) + SAFETY_MINUTES)
        visits = tuple(
            Visit(
                patient=r.patient.id,
                kind=r.patient.kind,
                service=r.patient.service,
                priority=r.patient.priority,
                arrival=r.patient.arrival,
                slot=r.patient.slot,
                outcome="absent" if r.patient.absent and r.outcome == "unserved" else r.outcome,  # type: ignore[arg-type]
                doctor=r.doctor,
                called=r.called,
                finished=r.finished,
            )
            for r in self.records.values()
        )
        order = {d.id: i for i, d in enumerate(self.config.doctors)}
        loads = tuple(sorted(self.loads, key=lambda d: order[d.id]))
        return DayResult(seed, visits, loads, self.config.kpi_minutes)

    # -- patients ---------------------------------------------------------------------------

    def _arrivals(self) -> Generator[simpy.Event, Any, None]:
        for p in self.patients:
            if p.arrival > self.env.now:
                yield self.env.timeout(p.arrival - self.env.now)
            if p.kind == "booked":
                if p.absent or p.doctor not in self.booked:
                    continue  # a booking never kept: the slot goes to walk-ins
                self.booked[p.doctor].append(p)
                self._wake(lambda d, doctor=p.doctor: d.id == doctor)
            elif p.service in self.queues:
                queue = self.queues[p.service]
                (queue.priority if p.priority else queue.plain).append(p)
                self._wake(lambda d, service=p.service: service in d.services)

    def _wake(self, which: Any) -> None:
        for spec in self.config.doctors:
            event = self.idle.get(spec.id)
            if event is not None and which(spec):
                del self.idle[spec.id]
                event.succeed()

    def _pick(
        self, spec: DoctorSpec, streak: int, *, booked_only: bool = False
    ) -> tuple[Patient | None, int]:
        """The engine's own choice (``choose_next``), over the heads of the simulated queues."""
        heads: list[Patient] = []  # each queue is in arrival order: its head stands for it
        if not booked_only:
            for queue in (self.queues[s] for s in spec.services if s in self.queues):
                heads += [line[0] for line in (queue.priority, queue.plain) if line]
        choice = choose_next(
            self.booked[spec.id],
            heads,
            now=self.env.now,
            streak=streak,
            priority_run=self.config.priority_run,
            slot=_slot,
            arrival=_arrival,
            priority=_priority,
        )
        chosen, streak = choice
        if chosen is None:
            return None, streak
        if chosen.kind == "booked":
            self.booked[spec.id].remove(chosen)
        else:
            queue = self.queues[chosen.service]
            taken = (queue.priority if chosen.priority else queue.plain).popleft()
            assert taken is chosen
        return chosen, streak

    def _has_work(self, spec: DoctorSpec) -> bool:
        return bool(self.booked[spec.id]) or any(
            q.plain or q.priority for s in spec.services if (q := self.queues.get(s))
        )

    # -- doctors ----------------------------------------------------------------------------

    def _doctor(self, spec: DoctorSpec) -> Generator[simpy.Event, Any, None]:
        env, config = self.env, self.config
        if spec.start > env.now:
            yield env.timeout(spec.start - env.now)
        start, busy, served, rested, breaks_taken = env.now, spec.busy_for, 0, 0.0, 0
        if spec.busy_for > 0:
            yield env.timeout(spec.busy_for)
        suspended = [_Suspended(ready, left) for ready, left in spec.suspended]
        breaks = sorted(spec.breaks, key=lambda b: b.start)
        streak = 0
        overtime = config.overtime and spec.end >= config.close
        while True:
            now = env.now
            breaks = [b for b in breaks if b.start < spec.end]
            if breaks and now >= breaks[0].start:
                pause = breaks.pop(0).minutes
                yield env.timeout(pause)
                rested, breaks_taken = rested + pause, breaks_taken + 1
                continue
            ready = [s for s in suspended if s.ready <= now]
            if ready:
                resumed = min(ready)
                suspended.remove(resumed)
                yield env.timeout(resumed.remaining)
                busy += resumed.remaining
                if resumed.patient is not None:
                    self.records[resumed.patient.id].finished = env.now
                continue
            # Past the shift a doctor still sees their own appointments; walk-ins only as overtime.
            after_shift = now >= spec.end
            patient, streak = self._pick(spec, streak, booked_only=after_shift and not overtime)
            if patient is not None:
                record = self.records[patient.id]
                record.doctor, record.called = spec.id, now
                if patient.absent:
                    yield env.timeout(config.recall_minutes)
                    busy += config.recall_minutes
                    record.outcome, record.finished = "no_show", env.now
                    continue
                served += 1
                record.outcome = "served"
                if patient.delay is not None:
                    first = patient.consult / 2
                    yield env.timeout(first)
                    busy += first
                    suspended.append(
                        _Suspended(env.now + patient.delay, patient.consult - first, patient)
                    )
                    continue
                yield env.timeout(patient.consult)
                busy += patient.consult
                record.finished = env.now
                continue
            if after_shift and not suspended and not (overtime and self._has_work(spec)):
                break
            wake_at = [s.ready for s in suspended]
            wake_at += [b.start for b in breaks[:1]]
            wake_at += [spec.end] if now < spec.end else []
            wake_at += [p.slot for p in self.booked[spec.id] if p.slot is not None and p.slot > now]
            event = env.event()
            self.idle[spec.id] = event
            yield (event | env.timeout(min(wake_at) - now)) if wake_at else event
            self.idle.pop(spec.id, None)
        self.loads.append(
            DoctorLoad(
                id=spec.id,
                services=spec.services,
                on_duty=env.now - start - rested,
                busy=busy,
                served=served,
                breaks=breaks_taken,
                left=env.now,
            )
        )
