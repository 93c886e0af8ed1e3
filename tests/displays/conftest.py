"""Fixtures for the screens: a two-process push server over the suite's Redis and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.displays.support import PushServer


@pytest.fixture(scope="session")
def push_server(redis_url: str, database_url: str) -> Iterator[PushServer]:
    """``clinicq push --processes 2`` sharing one port (SO_REUSEPORT)."""
    server = PushServer(redis_url, database_url, processes=2).start()
    try:
        yield server
    finally:
        server.stop()
