"""One way to open the Redis client: a single server, or a Redis Cluster.

Every script and transaction touches one clinic's keys only, which share the clinic's hash tag
and so one slot: the same code runs on both.
"""

from __future__ import annotations

from typing import Any

import redis.asyncio as aioredis
from redis.asyncio.cluster import RedisCluster
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialBackoff
from redis.exceptions import ConnectionError, TimeoutError


def connect(url: str, *, cluster: bool = False, max_connections: int = 2048) -> Any:
    """A redis-py asyncio client for ``url`` (for a cluster: any node's URL)."""
    # A pooled connection that went stale when Redis restarted is retried on a fresh one.
    options: dict[str, Any] = {
        "socket_timeout": 10,
        "socket_connect_timeout": 5,
        "retry": Retry(ExponentialBackoff(cap=0.5, base=0.05), retries=2),
        "retry_on_error": [ConnectionError, TimeoutError],
        # redis-py's default pool holds 100 connections; a worker may have more requests in
        # flight, and a push process holds one per clinic in XREAD BLOCK.
        "max_connections": max_connections,
    }
    if cluster:
        return RedisCluster.from_url(url, **options)
    return aioredis.from_url(url, **options)
