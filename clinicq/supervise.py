"""A child process kept running: `clinicq run` restarts its push server if it dies.

The engine serves in the foreground; the push server is a child. Without a keeper, a push server
that crashed (or was killed by the OOM killer) would leave every screen dead until someone
restarted the whole run. The keeper says so on stderr and starts it again, backing off while it
keeps failing.
"""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from collections.abc import Sequence

FIRST_WAIT = 1.0  # seconds before the first restart
LONGEST_WAIT = 30.0  # back-off cap while the child keeps dying
STEADY = 60.0  # a child that lived this long resets the back-off


class Kept:
    """Run ``command`` with ``env``; restart it whenever it exits, until ``stop()``."""

    def __init__(self, name: str, command: Sequence[str], env: dict[str, str]) -> None:
        self.name = name
        self.command = list(command)
        self.env = env
        self.restarts = 0
        self.process = self._spawn()
        self._stopping = threading.Event()
        self._watcher = threading.Thread(target=self._watch, name=f"keep-{name}", daemon=True)
        self._watcher.start()

    def _spawn(self) -> subprocess.Popen[bytes]:
        return subprocess.Popen(self.command, stdin=subprocess.DEVNULL, env=self.env)

    def _watch(self) -> None:
        wait = FIRST_WAIT / 2
        while not self._stopping.is_set():
            started = time.monotonic()
            code = self.process.wait()
            if self._stopping.is_set():
                return
            lived = time.monotonic() - started
            wait = FIRST_WAIT if lived > STEADY else min(wait * 2, LONGEST_WAIT)
            print(
                f"clinicq: the {self.name} exited (code {code}); restarting it in {wait:g} s",
                file=sys.stderr,
                flush=True,
            )
            if self._stopping.wait(wait):
                return
            self.process = self._spawn()
            self.restarts += 1

    def stop(self, timeout: float = 10.0) -> None:
        self._stopping.set()
        self.process.terminate()
        try:
            self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
