"""Latencies in HdrHistograms, per operation and per second, measured from the intended start."""

from __future__ import annotations

import time
from collections import defaultdict
from dataclasses import dataclass, field

from hdrh.histogram import HdrHistogram

MAX_MICROSECONDS = 120_000_000


def _histogram() -> HdrHistogram:
    return HdrHistogram(1, MAX_MICROSECONDS, 3)


@dataclass
class Recorder:
    started: float = field(default_factory=time.monotonic)
    by_op: dict[str, HdrHistogram] = field(default_factory=lambda: defaultdict(_histogram))
    by_second: dict[int, HdrHistogram] = field(default_factory=lambda: defaultdict(_histogram))
    ok: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    refused: dict[str, int] = field(default_factory=lambda: defaultdict(int))  # 4xx by design
    errors: dict[str, int] = field(default_factory=lambda: defaultdict(int))  # 5xx, transport
    completed_per_second: dict[int, int] = field(default_factory=lambda: defaultdict(int))
    target_per_second: dict[int, int] = field(default_factory=lambda: defaultdict(int))
    late_starts_ms: HdrHistogram = field(default_factory=_histogram)
    errors_per_second: dict[int, int] = field(default_factory=lambda: defaultdict(int))

    def scheduled(self, at: float) -> None:
        self.target_per_second[int(at - self.started)] += 1

    def record(self, op: str, scheduled: float, began: float, ended: float, outcome: str) -> None:
        micros = max(1, min(MAX_MICROSECONDS, int((ended - scheduled) * 1e6)))
        second = int(scheduled - self.started)
        self.by_op[op].record_value(micros)
        self.by_second[second].record_value(micros)
        self.completed_per_second[int(ended - self.started)] += 1
        self.late_starts_ms.record_value(max(1, int((began - scheduled) * 1e6)))
        {"ok": self.ok, "refused": self.refused}.get(outcome, self.errors)[op] += 1
        if outcome == "error":
            self.errors_per_second[second] += 1

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
