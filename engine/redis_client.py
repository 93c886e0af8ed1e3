"""One way to open the Redis client: a single server, or a Redis Cluster.

Every script and transaction touches one clinic's keys only, which share the clinic's hash tag
and so one slot: the same code runs on both.
"""

from __future__ import annotations

from typing import Any

import redis.asyncio as aioredis
from redis.asyncio.cluster import RedisCluster


def connect(url: str, *, cluster: bool = False) -> Any:
    """A redis-py asyncio client for ``url`` (for a cluster: any node's URL)."""
    options: dict[str, Any] = {"socket_timeout": 10, "socket_connect_timeout": 5}
    if cluster:
        return RedisCluster.from_url(url, **options)
    return aioredis.from_url(url, **options)
