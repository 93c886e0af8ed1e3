"""Embedded stores for one self-hosted run: Valkey and PostgreSQL in a temporary folder."""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

from engine.embedded import EmbeddedPostgres, EmbeddedRedis
from loadtest.ports import Ports


@dataclass
class RunStores:
    data_dir: Path
    redis: EmbeddedRedis
    postgres: EmbeddedPostgres
    env: dict[str, str]  # this process's environment plus what an engine needs for a load run


def start_stores(prefix: str, ports: Ports | None = None) -> RunStores:
    """Start both servers; the caller stops them (``redis.stop()``, ``postgres.stop()``).

    Valkey listens on the next of ``ports`` (any free port without them); PostgreSQL on its unix
    socket only (pgserver), so it needs no port.
    """
    data_dir = Path(tempfile.mkdtemp(prefix=prefix))
    redis = EmbeddedRedis(data_dir / "redis", port=(ports or Ports()).take()).start()
    postgres = EmbeddedPostgres(data_dir / "pg").start()
    env = {
        **os.environ,
        "REDIS_URL": redis.url,
        "DATABASE_URL": postgres.url,
        # The load is the point: per-token rate limits would only measure themselves.
        "CLINICQ_RATE_LIMIT": "1000000",
        "CLINICQ_RATE_BURST": "1000000",
    }
    return RunStores(data_dir, redis, postgres, env)
