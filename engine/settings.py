"""The engine's one frozen configuration and the table of environment variables that fill it.

Only the settings classes read the environment (``from_env``); the rest of the code base
receives a ``Settings``. ``environ()`` writes the same table back, for the child processes
(uvicorn workers, the push server) that rebuild their settings from the environment.
"""

from __future__ import annotations

import dataclasses
import os
import typing
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from engine.errors import ConfigError

# Field name -> environment variable, for every setting the environment may set.
ENGINE_VARIABLES: Mapping[str, str] = {
    "redis_url": "REDIS_URL",
    "redis_cluster": "CLINICQ_REDIS_CLUSTER",
    "redis_max_connections": "CLINICQ_REDIS_MAX_CONNECTIONS",
    "database_url": "DATABASE_URL",
    "engine_database_url": "CLINICQ_ENGINE_DATABASE_URL",
    "database_pool_size": "CLINICQ_DATABASE_POOL_SIZE",
    "data_dir": "CLINICQ_DATA_DIR",
    "host": "CLINICQ_HOST",
    "port": "CLINICQ_PORT",
    "workers": "CLINICQ_WORKERS",
    "clinics_file": "CLINICQ_CLINICS",
    "max_body_bytes": "CLINICQ_MAX_BODY_BYTES",
    "rate_limit_per_second": "CLINICQ_RATE_LIMIT",
    "rate_limit_burst": "CLINICQ_RATE_BURST",
    "auth_failures_per_second": "CLINICQ_AUTH_FAILURES_RATE",
    "auth_failures_burst": "CLINICQ_AUTH_FAILURES_BURST",
    "hold_seconds": "CLINICQ_HOLD_SECONDS",
    "public_url": "CLINICQ_PUBLIC_URL",
    "metrics_access": "CLINICQ_METRICS",
    "metrics_port": "CLINICQ_METRICS_PORT",
    "push_sockets_per_token": "CLINICQ_PUSH_SOCKETS_PER_TOKEN",
    "push_sockets_per_ticket": "CLINICQ_PUSH_SOCKETS_PER_TICKET",
    "audit_key": "CLINICQ_AUDIT_KEY",
}
TRUE = ("1", "true", "yes")


@dataclass(frozen=True, slots=True)
class Settings:
    """Where the stores are, how the HTTP edge behaves, and the durability knobs."""

    VARIABLES: ClassVar[Mapping[str, str]] = ENGINE_VARIABLES

    redis_url: str | None = None
    redis_cluster: bool = False
    # Connections one process may hold: requests in flight on a worker; on a push process one
    # per clinic with sockets (its XREAD BLOCK), plus joins' replays and boards.
    redis_max_connections: int = 4096
    database_url: str | None = None
    # The engine's own least-privilege connection; by default DATABASE_URL as clinicq_engine.
    engine_database_url: str | None = None
    database_pool_size: int = 10
    data_dir: Path = Path("var")
    host: str = "127.0.0.1"
    port: int = 8000
    workers: int = 1
    clinics_file: Path | None = None
    max_body_bytes: int = 64 * 1024
    rate_limit_per_second: float = 50.0
    rate_limit_burst: int = 100
    # Failed authentications a client address may make (a second, after a burst).
    auth_failures_per_second: float = 1.0
    auth_failures_burst: int = 30
    idempotency_ttl_seconds: int = 48 * 3600
    hold_seconds: int = 300
    group_commit_max_batch: int = 500
    stream_max_len: int = 100_000
    public_url: str = ""
    # Who may read /metrics: "loopback" (this host), "token" (an admin token) or "public".
    metrics_access: str = "loopback"
    # Each engine worker also serves /metrics on the first free port of metrics_port ..
    # metrics_port + workers - 1, for Prometheus to scrape each worker (0: none).
    metrics_port: int = 0
    # Live sockets one process takes per staff token and per patient's ticket link: a screen
    # wall is tens of sockets a token, a patient's phones a few a ticket.
    push_sockets_per_token: int = 500
    push_sockets_per_ticket: int = 5
    # Signs archived months' checkpoints (HMAC-SHA256); keep it away from the database's admins.
    audit_key: bytes = b""

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> typing.Self:
        """Build settings from the variables in ``VARIABLES``; fail loudly on a bad value."""
        settings = cls(**read_variables(cls, cls.VARIABLES, os.environ if env is None else env))
        settings.validate()
        return settings

    def environ(self) -> dict[str, str]:
        """These settings as environment variables, for a child process's ``from_env``."""
        return write_variables(self, self.VARIABLES)

    def validate(self) -> None:
        if not 0 < self.port < 65536:
            raise ConfigError(f"CLINICQ_PORT must be a TCP port, got {self.port}")
        if self.workers < 1:
            raise ConfigError("CLINICQ_WORKERS must be at least 1")
        if self.metrics_access not in ("loopback", "token", "public"):
            raise ConfigError("CLINICQ_METRICS is loopback, token or public")
        if not 0 <= self.metrics_port < 65536:
            raise ConfigError("CLINICQ_METRICS_PORT is a port number (0: none)")
        if self.push_sockets_per_token < 1 or self.push_sockets_per_ticket < 1:
            raise ConfigError("the push socket limits must be at least 1")
        if self.auth_failures_per_second <= 0 or self.auth_failures_burst < 1:
            raise ConfigError("the failed-authentication limits must be positive")
        if self.rate_limit_per_second <= 0 or self.rate_limit_burst < 1:
            raise ConfigError("rate limits must be positive")
        if self.database_pool_size < 1 or self.redis_max_connections < 1:
            raise ConfigError("pool sizes must be at least 1")

    def replace(self, **changes: Any) -> typing.Self:
        return dataclasses.replace(self, **changes)

    @property
    def base_url(self) -> str:
        return self.public_url or f"http://{self.host}:{self.port}"


def read_variables(
    kind: type, variables: Mapping[str, str], env: Mapping[str, str]
) -> dict[str, Any]:
    """The fields of dataclass ``kind`` that ``env`` sets, each read as its field's type."""
    hints = typing.get_type_hints(kind)
    values: dict[str, Any] = {}
    for name, variable in variables.items():
        raw = env.get(variable, "")
        if raw == "":
            continue
        try:
            values[name] = _parse(hints[name], raw)
        except ValueError as exc:
            raise ConfigError(f"invalid {variable}: {exc}") from exc
    return values


def write_variables(settings: object, variables: Mapping[str, str]) -> dict[str, str]:
    out = {}
    for name, variable in variables.items():
        value = getattr(settings, name)
        if value is None:
            continue
        if isinstance(value, bytes):
            out[variable] = value.hex()
        elif isinstance(value, bool):
            out[variable] = "1" if value else "0"
        else:
            out[variable] = str(value)
    return out


def _parse(kind: Any, raw: str) -> Any:
    """``raw`` read as the field's type: the few types settings have."""
    if kind in (str, str | None):
        return raw
    if kind is bool:
        return raw.lower() in TRUE
    if kind is int:
        return int(raw)
    if kind is float:
        return float(raw)
    if kind in (Path, Path | None):
        return Path(raw)
    if kind is bytes:
        return bytes.fromhex(raw)
    raise TypeError(f"settings cannot read a {kind}")
