"""Helpers for the screens' tests: the push server as a child process, and a screen client."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from typing import Any

from websockets.asyncio.client import ClientConnection, connect

from engine.embedded import free_port
from loadtest.processes import ChildServer


@dataclass
class PushServer:
    """``clinicq push`` as a child process over the tests' Redis and PostgreSQL."""

    redis_url: str
    database_url: str
    processes: int = 2
    args: list[str] = field(default_factory=list)
    env: dict[str, str] = field(default_factory=dict)
    port: int = 0
    child: ChildServer | None = None

    @property
    def ws(self) -> str:
        return f"ws://127.0.0.1:{self.port}"

    @property
    def process(self) -> subprocess.Popen[bytes] | None:
        return self.child.process if self.child else None

    def start(self, timeout: float = 30.0) -> PushServer:
        self.port = self.port or free_port()
        env = {
            **os.environ,
            "REDIS_URL": self.redis_url,
            "DATABASE_URL": self.database_url,
            **self.env,
        }
        self.child = ChildServer(
            [sys.executable, "-m", "clinicq.cli", "push", "--port", str(self.port),
             "--processes", str(self.processes), *self.args],
            f"http://127.0.0.1:{self.port}/healthz",
            env,
            "the push server",
        )  # fmt: skip
        self.child.start(timeout)
        # SO_REUSEPORT: wait a moment so that every process has bound the port.
        time.sleep(0.3 * (self.processes - 1))
        return self

    def stop(self) -> None:
        if self.child:
            self.child.stop()

    def kill(self) -> None:
        """Cut every socket at once, as a crash would (SIGKILL); ``start()`` brings it back on
        the same port."""
        assert self.process is not None
        os.kill(self.process.pid, signal.SIGKILL)
        self.process.wait()


class Screen:
    """A protocol-level screen: keeps the board and the offsets it has seen."""

    def __init__(self, ws: ClientConnection) -> None:
        self.ws = ws
        self.hello: dict[str, Any] = {}
        self.offsets: list[int] = []
        self.snapshots: list[dict[str, Any]] = []
        self.board: dict[str, Any] | None = None
        self.offset = -1
        self.closed: int | None = None

    @classmethod
    async def open(cls, url: str, **kw: Any) -> Screen:
        ws = await connect(url, compression=None, open_timeout=30, max_size=2**22, **kw)
        screen = cls(ws)
        screen.hello = json.loads(await ws.recv())
        return screen

    def take(self, frame: dict[str, Any]) -> None:
        kind = frame["type"]
        if kind in ("snapshot", "board"):
            if kind == "snapshot":
                self.snapshots.append(frame)
            self.board = frame["board"]
            self.offset = frame["offset"]
        elif kind == "event":
            assert frame["offset"] == self.offset + 1, (self.offset, frame["offset"])
            self.offset = frame["offset"]
            self.offsets.append(frame["offset"])

    async def until(self, predicate: Any, within: float = 10.0) -> None:
        """Read frames until ``predicate(self)`` holds, for at most ``within`` seconds."""
        async with asyncio.timeout(within):
            while not predicate(self):
                self.take(json.loads(await self.ws.recv()))
