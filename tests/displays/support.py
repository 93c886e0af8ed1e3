"""Helpers for the screens' tests: the push server as a child process, and a screen client."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass, field
from typing import Any

import httpx
from websockets.asyncio.client import ClientConnection, connect

from engine.embedded import free_port


@dataclass
class PushServer:
    """``clinicq push`` as a child process over the tests' Redis and PostgreSQL."""

    redis_url: str
    database_url: str
    processes: int = 2
    args: list[str] = field(default_factory=list)
    env: dict[str, str] = field(default_factory=dict)
    port: int = 0
    process: subprocess.Popen[bytes] | None = None

    @property
    def ws(self) -> str:
        return f"ws://127.0.0.1:{self.port}"

    def start(self, timeout: float = 30.0) -> PushServer:
        self.port = self.port or free_port()
        env = {
            **os.environ,
            "REDIS_URL": self.redis_url,
            "DATABASE_URL": self.database_url,
            **self.env,
        }
        self.process = subprocess.Popen(
            [sys.executable, "-m", "clinicq.cli", "push", "--port", str(self.port),
             "--processes", str(self.processes), *self.args],
            env=env,
            stdin=subprocess.DEVNULL,
        )  # fmt: skip
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError("the push server exited during start-up")
            try:
                if httpx.get(f"http://127.0.0.1:{self.port}/healthz", timeout=1).status_code == 200:
                    # SO_REUSEPORT: wait a moment so that every process has bound the port.
                    time.sleep(0.3 * (self.processes - 1))
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise RuntimeError("the push server did not become ready")

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
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
