"""Servers as child processes: start one, wait until it answers, stop it, or kill it as a crash.

The one way the harness and the tests run a server they need (``clinicq serve``, ``clinicq push``,
uvicorn on a bench app) and wait for it: poll a URL until it answers, failing at once if the
child exits during start-up rather than waiting out the time-out.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass

import httpx
import psutil


def wait_until_answers(
    url: str,
    *,
    alive: Callable[[], bool],
    what: str,
    timeout: float = 60.0,
    status: int | None = 200,
) -> None:
    """Poll ``url`` until it answers ``status`` (any answer when None); RuntimeError if the
    server stops being ``alive`` first or ``timeout`` seconds pass."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not alive():
            raise RuntimeError(f"{what} exited during start-up")
        try:
            answer = httpx.get(url, timeout=1)
            if status is None or answer.status_code == status:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"{what} did not become ready")


@dataclass
class ChildServer:
    """``args`` as a child process, ready once ``ready_url`` answers ``ready_status``."""

    args: list[str]
    ready_url: str
    env: dict[str, str] | None = None
    what: str = "the server"
    ready_status: int | None = 200  # None: any HTTP answer will do (an app without /healthz)
    process: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int:
        assert self.process is not None, "not started"
        return self.process.pid

    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def start(self, timeout: float = 60.0) -> ChildServer:
        self.process = subprocess.Popen(self.args, env=self.env, stdin=subprocess.DEVNULL)
        try:
            wait_until_answers(
                self.ready_url,
                alive=self.running,
                what=self.what,
                timeout=timeout,
                status=self.ready_status,
            )
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self, timeout: float = 15.0) -> None:
        """SIGTERM, and SIGKILL the whole tree if it has not exited within ``timeout``."""
        if not self.running():
            return
        assert self.process is not None
        self.process.terminate()
        try:
            self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill()

    def kill(self) -> None:
        """SIGKILL the child and every process under it (its workers): a crash, not a shutdown."""
        if not self.running():
            return
        assert self.process is not None
        tree = [p.pid for p in psutil.Process(self.process.pid).children(recursive=True)]
        for pid in [*tree, self.process.pid]:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        self.process.wait(timeout=10)
