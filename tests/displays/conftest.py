"""Fixtures for the screens: a two-process push server over the suite's Redis and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.displays.support import PushServer


@pytest.fixture(scope="session")
def push_server(redis_url: str, database_url: str) -> Iterator[PushServer]:
    """``clinicq push --processes 2`` sharing one port (SO_REUSEPORT). The fan-out tests hold
    a thousand screens on one display token: above the default cap, which has its own test."""
    env = {"CLINICQ_PUSH_SOCKETS_PER_TOKEN": "5000"}
    server = PushServer(redis_url, database_url, processes=2, env=env).start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def own_push(redis_url: str, database_url: str) -> Iterator[PushServer]:
    """A one-process push server this module may kill and restart on the same port."""
    server = PushServer(redis_url, database_url, processes=1).start()
    try:
        yield server
    finally:
        server.stop()
