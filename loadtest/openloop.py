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
from collections.abc import Awaitable, Callable, Iterable, Iterator

from loadtest.profiles import Profile
from loadtest.recorder import Recorder

Operation = Callable[[], Awaitable[str]]  # returns "ok", "refused" or "error"


def schedule(profile: Profile, seed: int, rate_scale: float = 1.0) -> Iterator[float]:
    """Offsets in seconds from the start, bounded by the profile's time and request count; drawn
    as they are needed (a day's schedule would be millions of floats)."""
    rng = random.Random(seed)
    t = 0.0
    for _ in range(profile.max_requests):
        rate = profile.rate_at(t) * rate_scale
        t += rng.expovariate(rate) if rate > 0 else 1.0
        if t >= profile.seconds:
            return
        yield t


def arrivals(profile: Profile, seed: int, rate_scale: float = 1.0) -> list[float]:
    """The whole schedule as a list (short runs and tests)."""
    return list(schedule(profile, seed, rate_scale))


async def drive(
    offsets: Iterable[float],
    pick: Callable[[], tuple[str, Operation]],
    recorder: Recorder,
    *,
    drain_seconds: float = 30.0,
    on_tick: Callable[[float], None] | None = None,
) -> int:
    """Fire ``pick()`` at each scheduled offset; wait at most ``drain_seconds`` for stragglers.
    Returns how many were fired."""
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

    fired = 0
    for offset in offsets:
        fired += 1
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
    return fired
