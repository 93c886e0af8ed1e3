"""Open-loop arrivals: each request starts on its schedule whatever the server does.

A closed loop waits for an answer before sending the next request, so a slow server is asked
less and its slowness hides (coordinated omission). Here arrivals are a Poisson process drawn up
front from the seed; latency is measured from the scheduled start, and a start that the generator
itself could not make on time is counted as late.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Awaitable, Callable

from loadtest.profiles import Profile
from loadtest.recorder import Recorder

Operation = Callable[[], Awaitable[str]]  # returns "ok", "refused" or "error"


def arrivals(profile: Profile, seed: int, rate_scale: float = 1.0) -> list[float]:
    """Offsets in seconds from the start, bounded by the profile's time and request count."""
    rng = random.Random(seed)
    out: list[float] = []
    t = 0.0
    while len(out) < profile.max_requests:
        rate = profile.rate_at(t) * rate_scale
        t += rng.expovariate(rate) if rate > 0 else 1.0
        if t >= profile.seconds:
            return out
        out.append(t)
    return out


async def drive(
    schedule: list[float],
    pick: Callable[[], tuple[str, Operation]],
    recorder: Recorder,
    *,
    drain_seconds: float = 30.0,
    on_tick: Callable[[float], None] | None = None,
) -> None:
    """Fire ``pick()`` at each scheduled offset; wait at most ``drain_seconds`` for stragglers."""
    start = time.monotonic()
    recorder.started = start
    tasks: set[asyncio.Task[None]] = set()

    async def fire(name: str, op: Operation, scheduled: float) -> None:
        began = time.monotonic()
        try:
            outcome = await op()
        except Exception:  # any failure of the request is a data point, never a crash
            outcome = "error"
        recorder.record(name, scheduled, began, time.monotonic(), outcome)

    for offset in schedule:
        scheduled = start + offset
        delay = scheduled - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        recorder.scheduled(scheduled)
        name, op = pick()
        task = asyncio.create_task(fire(name, op, scheduled))
        tasks.add(task)
        task.add_done_callback(tasks.discard)
        if on_tick is not None:
            on_tick(offset)
    if tasks:
        await asyncio.wait(tasks, timeout=drain_seconds)
    for task in tasks:
        task.cancel()
