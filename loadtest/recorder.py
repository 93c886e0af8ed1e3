"""Latencies in HdrHistograms, per operation and per second, measured from the intended start.

A run may last a day, so what is kept per second is compact: a second's latencies stay raw only
while requests scheduled in it can still end (``OPEN_SECONDS``); then the second keeps its count,
p50 and p99 (computed by the same HdrHistogram as before) and its values are dropped. Counts per
second live in flat arrays: a day of seconds costs a few megabytes, not a histogram each.
"""

from __future__ import annotations

import time
from array import array
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field

import numpy as np
from hdrh.histogram import HdrHistogram

MAX_MICROSECONDS = 120_000_000
# A request ends at most two client time-outs (60 s each: ``complete`` makes two requests) after
# its scheduled start; a second is closed well after that.
OPEN_SECONDS = 600


def _histogram() -> HdrHistogram:
    return HdrHistogram(1, MAX_MICROSECONDS, 3)


def record_many(histogram: HdrHistogram, values: array[int]) -> None:
    """Record every value (clamped to the histogram's range) at numpy speed: the same counts as
    ``record_value`` one by one, bucket by bucket (a generator folds its frames this way)."""
    if not values:
        return
    v = np.clip(np.frombuffer(values, dtype=np.int64), 1, histogram.highest_trackable_value)
    # HdrHistogram's get_counts_array_index, vectorised (values < 2**53 convert exactly).
    bits = np.frexp((v | histogram.sub_bucket_mask).astype(np.float64))[1].astype(np.int64)
    bucket = bits - histogram.unit_magnitude - (histogram.sub_bucket_half_count_magnitude + 1)
    sub = v >> (bucket + histogram.unit_magnitude)
    base = (bucket + 1) << histogram.sub_bucket_half_count_magnitude
    counts = np.bincount(base + sub - histogram.sub_bucket_half_count)
    for i in np.flatnonzero(counts):
        histogram.record_value(histogram.get_value_from_index(int(i)), int(counts[i]))


class PerSecond:
    """A count for each second of the run, in one flat array (missing seconds count 0)."""

    __slots__ = ("counts",)

    def __init__(self) -> None:
        self.counts = array("q")

    def add(self, second: int, n: int = 1) -> None:
        second = max(0, second)
        if second >= len(self.counts):
            self.counts.frombytes(bytes(8 * (second + 1 - len(self.counts))))
        self.counts[second] += n

    def get(self, second: int, default: int = 0) -> int:
        return self.counts[second] if 0 <= second < len(self.counts) else default

    def items(self) -> Iterator[tuple[int, int]]:
        """The seconds that counted something, in order."""
        return ((s, n) for s, n in enumerate(self.counts) if n)

    def __len__(self) -> int:
        return sum(1 for _ in self.items())


class LatencySeries:
    """Each second's latency percentiles: raw values while the second is open, then its count,
    p50 and p99 only."""

    def __init__(self, open_seconds: int = OPEN_SECONDS) -> None:
        self.open_seconds = open_seconds
        self.open: dict[int, array[int]] = {}
        self.count = PerSecond()
        self.p50 = array("q")
        self.p99 = array("q")
        self.newest = 0
        self.scale = _histogram()  # for its bucket arithmetic only: it records nothing
        self.late = 0  # values for a second already closed (none, given the time-outs above)

    def record(self, second: int, micros: int) -> None:
        second = max(0, second)
        if second < len(self.p50):
            self.late += 1
            return
        self.open.setdefault(second, array("q")).append(micros)
        if second > self.newest:
            self.newest = second
            self._close(second - self.open_seconds)

    def _close(self, before: int) -> None:
        """Keep only the count, p50 and p99 of every second before ``before``."""
        grow = before - len(self.p50)
        if grow <= 0:
            return
        self.p50.frombytes(bytes(8 * grow))
        self.p99.frombytes(bytes(8 * grow))
        for second in sorted(s for s in self.open if s < before):
            values = self.open.pop(second)
            self.count.add(second, len(values))
            self.p50[second], self.p99[second] = self._percentiles(values)

    def _percentiles(self, values: array[int]) -> tuple[int, int]:
        """p50 and p99 as an HdrHistogram of these values answers: the bucket of the k-th
        smallest, k counted as it counts (a histogram a second would be 147 KB to allocate)."""
        ordered = sorted(values)
        out = []
        for p in (50.0, 99.0):
            k = max(int(p * len(ordered) / 100 + 0.5), 1)
            out.append(self.scale.get_highest_equivalent_value(ordered[k - 1]))
        return out[0], out[1]

    def points(self) -> list[tuple[int, int, int]]:
        """(second, p50 us, p99 us) of every second that recorded something, open ones included."""
        out = [(s, self.p50[s], self.p99[s]) for s, _ in self.count.items()]
        for second in sorted(self.open):
            out.append((second, *self._percentiles(self.open[second])))
        return out


@dataclass
class Recorder:
    started: float = field(default_factory=time.monotonic)
    by_op: dict[str, HdrHistogram] = field(default_factory=lambda: defaultdict(_histogram))
    by_second: LatencySeries = field(default_factory=LatencySeries)
    ok: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    refused: dict[str, int] = field(default_factory=lambda: defaultdict(int))  # 4xx by design
    errors: dict[str, int] = field(default_factory=lambda: defaultdict(int))  # 5xx, transport
    completed_per_second: PerSecond = field(default_factory=PerSecond)
    target_per_second: PerSecond = field(default_factory=PerSecond)
    late_starts_ms: HdrHistogram = field(default_factory=_histogram)
    errors_per_second: PerSecond = field(default_factory=PerSecond)

    def scheduled(self, at: float) -> None:
        self.target_per_second.add(int(at - self.started))

    def record(self, op: str, scheduled: float, began: float, ended: float, outcome: str) -> None:
        micros = max(1, min(MAX_MICROSECONDS, int((ended - scheduled) * 1e6)))
        second = int(scheduled - self.started)
        self.by_op[op].record_value(micros)
        self.by_second.record(second, micros)
        self.completed_per_second.add(int(ended - self.started))
        self.late_starts_ms.record_value(max(1, int((began - scheduled) * 1e6)))
        {"ok": self.ok, "refused": self.refused}.get(outcome, self.errors)[op] += 1
        if outcome == "error":
            self.errors_per_second.add(second)

    def recovery_after(self, at: float, until: float = float("inf")) -> dict[str, float]:
        """Errors seen after a fault at second ``at`` (before the next fault at ``until``), and
        how long after the fault the last of them was scheduled."""
        after = {s: n for s, n in self.errors_per_second.items() if int(at) <= s < until}
        last = max(after, default=int(at))
        return {
            "errors": sum(after.values()),
            "recovered_after_seconds": float(last + 1 - at) if after else 0.0,
        }

    def summary(self) -> dict[str, dict[str, float]]:
        out = {}
        for op, h in sorted(self.by_op.items()):
            out[op] = {
                "count": h.get_total_count(),
                "ok": self.ok[op],
                "refused": self.refused[op],
                "errors": self.errors[op],
                **{f"p{p}_ms": h.get_value_at_percentile(p) / 1000 for p in (50, 95, 99, 99.9)},
                "max_ms": h.get_max_value() / 1000,
            }
        return out
