"""How fast the run's cores are while it runs: the baseline its CPU-per-operation figures are
divided by.

CPU time is not a fixed measure of work on a shared machine. On these virtual machines two cores
may be two threads of one physical core, and the host has other tenants: work on the other core
(or on the host) slows this one, and the same operation then takes more CPU time. A long soak
cannot keep the machine quiet for hours, so it measures the slowdown beside its own work: a
probe process, on the same cores as the run (it inherits the run's affinity), does a fixed
piece of reference work in a short burst every second and counts the CPU time it took. A day's
CPU per operation divided by that day's CPU per reference unit is a ratio against a baseline
measured in the same run, and it stays flat when only the machine got slower.

The probe costs about 0.3% of a core.
"""

from __future__ import annotations

import hashlib
import json
import multiprocessing
import time
from dataclasses import dataclass
from typing import Any

BURST_UNITS = 100  # ~3 ms of a core a burst on this machine
EVERY_SECONDS = 1.0

_DOCUMENT = {
    "id": "c0-20270104-0001",
    "number": "Т-001",
    "state": "waiting",
    "cabinet": "c0",
    "at": 1_799_000_000_000,
    "history": [["issued", 1_799_000_000_000], ["called", 1_799_000_060_000]],
    "ahead": list(range(24)),
}


def reference_unit() -> None:
    """A fixed piece of the kind of work the product does per operation: encode and decode a
    ticket-sized JSON document, hash it, sort a short list with a key."""
    body = json.dumps(_DOCUMENT, ensure_ascii=False)
    json.loads(body)
    hashlib.sha1(body.encode()).digest()
    sorted(range(200), key=lambda x: -x)


def _probe(cpu: Any, units: Any, stop: Any) -> None:
    while not stop.is_set():
        began = time.process_time()
        for _ in range(BURST_UNITS):
            reference_unit()
        used = time.process_time() - began
        with cpu.get_lock():  # both under one lock: a reading sees a burst whole or not at all
            cpu.value += used
            units.value += BURST_UNITS
        stop.wait(EVERY_SECONDS)


@dataclass(frozen=True)
class Reading:
    cpu_seconds: float
    units: int

    def us_per_unit_since(self, earlier: Reading) -> float:
        """The CPU per reference unit between two readings, in microseconds (0 if none ran)."""
        done = self.units - earlier.units
        return 1e6 * (self.cpu_seconds - earlier.cpu_seconds) / done if done else 0.0


class CoreSpeed:
    """The probe: ``read()`` between two moments gives the cores' speed over that span."""

    def __init__(self) -> None:
        context = multiprocessing.get_context("spawn")
        self._cpu = context.Value("d", 0.0)
        self._units = context.Value("q", 0)
        self._stop = context.Event()
        self._process = context.Process(
            target=_probe, args=(self._cpu, self._units, self._stop), daemon=True
        )
        self._process.start()

    def read(self) -> Reading:
        with self._cpu.get_lock():
            return Reading(float(self._cpu.value), int(self._units.value))

    def close(self) -> None:
        self._stop.set()
        self._process.join(timeout=5)
        if self._process.is_alive():
            self._process.kill()
