"""The textbook M/M/c queue (Erlang C): the yardstick the simulator is checked against."""

from __future__ import annotations

import math


def erlang_c(servers: int, offered: float) -> float:
    """Probability that an arrival waits, with ``offered`` = arrival rate x mean service time."""
    if servers < 1 or offered <= 0:
        return 0.0
    if offered >= servers:
        return 1.0
    # The Erlang B recursion is stable for large c, unlike the factorial form.
    b = 1.0
    for k in range(1, servers + 1):
        b = offered * b / (k + offered * b)
    rho = offered / servers
    return b / (1 - rho + rho * b)


def mmc_mean_wait(arrivals_per_minute: float, mean_service: float, servers: int) -> float:
    """Mean minutes in the queue (before service) of an M/M/c queue in steady state."""
    offered = arrivals_per_minute * mean_service
    if offered >= servers:
        return math.inf
    return erlang_c(servers, offered) * mean_service / (servers - offered)
