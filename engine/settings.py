"""The engine's one frozen configuration, read from the environment in one place.

Nothing else in the code base reads ``os.environ``: adapters and the app receive a ``Settings``.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

from engine.errors import ConfigError


@dataclass(frozen=True, slots=True)
class Settings:
    """Where the stores are, how the HTTP edge behaves, and the durability knobs."""

    redis_url: str | None = None
    database_url: str | None = None
    data_dir: Path = Path("var")
    host: str = "127.0.0.1"
    port: int = 8000
    workers: int = 1
    clinics_file: Path | None = None
    max_body_bytes: int = 64 * 1024
    rate_limit_per_second: float = 50.0
    rate_limit_burst: int = 100
    idempotency_ttl_seconds: int = 48 * 3600
    hold_seconds: int = 300
    group_commit_max_batch: int = 500
    stream_max_len: int = 100_000
    public_url: str = ""
    extra: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        """Build settings from ``CLINICQ_*``, ``REDIS_URL`` and ``DATABASE_URL``; fail loudly."""
        env = os.environ if env is None else env
        try:
            settings = cls(
                redis_url=env.get("REDIS_URL") or None,
                database_url=env.get("DATABASE_URL") or None,
                data_dir=Path(env.get("CLINICQ_DATA_DIR", "var")),
                host=env.get("CLINICQ_HOST", "127.0.0.1"),
                port=int(env.get("CLINICQ_PORT", "8000")),
                workers=int(env.get("CLINICQ_WORKERS", "1")),
                clinics_file=Path(env["CLINICQ_CLINICS"]) if env.get("CLINICQ_CLINICS") else None,
                max_body_bytes=int(env.get("CLINICQ_MAX_BODY_BYTES", str(64 * 1024))),
                rate_limit_per_second=float(env.get("CLINICQ_RATE_LIMIT", "50")),
                rate_limit_burst=int(env.get("CLINICQ_RATE_BURST", "100")),
                hold_seconds=int(env.get("CLINICQ_HOLD_SECONDS", "300")),
                public_url=env.get("CLINICQ_PUBLIC_URL", ""),
            )
        except ValueError as exc:
            raise ConfigError(f"invalid setting: {exc}") from exc
        settings.validate()
        return settings

    def validate(self) -> None:
        if not 0 < self.port < 65536:
            raise ConfigError(f"CLINICQ_PORT must be a TCP port, got {self.port}")
        if self.workers < 1:
            raise ConfigError("CLINICQ_WORKERS must be at least 1")
        if self.rate_limit_per_second <= 0 or self.rate_limit_burst < 1:
            raise ConfigError("rate limits must be positive")

    def with_stores(self, redis_url: str, database_url: str) -> Settings:
        return replace(self, redis_url=redis_url, database_url=database_url)

    @property
    def base_url(self) -> str:
        return self.public_url or f"http://{self.host}:{self.port}"
