"""The push process's garbage-collection policy, and a measure of its pauses.

Why: a push process holds thousands of long-lived sockets, ~80 GC-tracked objects each. CPython's
full (generation-2) collection walks every one of them; measured on this project, that
is a 0.4-0.5 s stop of the event loop at 7,500-10,000 sockets, and every screen sees it as a late
call. ``gc.freeze()`` moves everything alive into a permanent generation that collections skip:
p99 at 7,500 sockets fell from 376 ms to 13 ms (the latest run: docs/PERFORMANCE.md, "Screens").

The policy:
- after start-up, collect once and freeze (modules, the loop, the pools);
- a larger generation-0 threshold: fewer young collections under a broadcast's small garbage;
- every ``freeze_every`` seconds, collect the young generations and freeze again, so sockets that
  have lived a minute are never walked by a full collection;
- every ``full_every`` seconds (default 6 h), unfreeze and run one deliberate full collection:
  cycles that died while frozen (closed sockets) are reclaimed at a time we chose, once, rather
  than as a surprise every few minutes. 0 disables it (restart the process instead).
Pauses of full collections are logged when they exceed ``warn_ms``.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import time
from dataclasses import dataclass, field
from typing import Any

log = logging.getLogger(__name__)


@dataclass
class GcPolicy:
    freeze_every: float = 60.0
    full_every: float = 6 * 3600.0
    gen0_threshold: int = 20_000
    warn_ms: float = 50.0
    pauses_ms: list[float] = field(default_factory=list)  # the last full collections' pauses
    _started: float = 0.0

    def install(self) -> None:
        gc.collect()
        gc.freeze()
        _, gen1, gen2 = gc.get_threshold()
        gc.set_threshold(self.gen0_threshold, gen1, gen2)
        gc.callbacks.append(self._measure)

    def uninstall(self) -> None:
        if self._measure in gc.callbacks:
            gc.callbacks.remove(self._measure)

    async def run(self) -> None:
        """Freeze periodically; collect fully, deliberately, on ``full_every``."""
        last_full = time.monotonic()
        while True:
            await asyncio.sleep(self.freeze_every)
            if self.full_every and time.monotonic() - last_full >= self.full_every:
                last_full = time.monotonic()
                gc.unfreeze()
                gc.collect()
            else:
                gc.collect(1)
            gc.freeze()

    def _measure(self, phase: str, info: dict[str, Any]) -> None:
        if info.get("generation") != 2:
            return
        if phase == "start":
            self._started = time.perf_counter()
            return
        pause = (time.perf_counter() - self._started) * 1000
        self.pauses_ms = [*self.pauses_ms[-99:], pause]
        if pause > self.warn_ms:
            log.warning("full garbage collection paused the loop for %.0f ms", pause)
