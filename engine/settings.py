"""The engine's one frozen configuration, read from the environment in one place.

Nothing else in the code base reads ``os.environ``: adapters and the app receive a ``Settings``.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

from engine.errors import ConfigError
from notifier.settings import NotifierSettings


@dataclass(frozen=True, slots=True)
class Settings:
    """Where the stores are, how the HTTP edge behaves, and the durability knobs."""

    redis_url: str | None = None
    redis_cluster: bool = False
    database_url: str | None = None
    # The engine's own least-privilege connection; by default DATABASE_URL as clinicq_engine.
    engine_database_url: str | None = None
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
    # Live sockets one process takes per staff token and per patient's ticket link: a screen
    # wall is tens of sockets a token, a patient's phones a few a ticket.
    # Who may read /metrics: "loopback" (this host), "token" (an admin token) or "public".
    metrics_access: str = "loopback"
    push_sockets_per_token: int = 500
    push_sockets_per_ticket: int = 5
    # ICU SMS through SMSC.ru: the routes need the key; the sender worker also needs a login.
    encryption_key: bytes = b""
    # Signs archived months' checkpoints (HMAC-SHA256); keep it away from the database's admins.
    audit_key: bytes = b""
    smsc_url: str = "https://smsc.ru/sys/"
    smsc_login: str = ""
    smsc_password: str = ""
    smsc_sender: str = ""
    extra: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        """Build settings from ``CLINICQ_*``, ``REDIS_URL`` and ``DATABASE_URL``; fail loudly."""
        env = os.environ if env is None else env
        try:
            settings = cls(
                redis_url=env.get("REDIS_URL") or None,
                redis_cluster=env.get("CLINICQ_REDIS_CLUSTER", "") in ("1", "true", "yes"),
                database_url=env.get("DATABASE_URL") or None,
                engine_database_url=env.get("CLINICQ_ENGINE_DATABASE_URL") or None,
                data_dir=Path(env.get("CLINICQ_DATA_DIR", "var")),
                host=env.get("CLINICQ_HOST", "127.0.0.1"),
                port=int(env.get("CLINICQ_PORT", "8000")),
                workers=int(env.get("CLINICQ_WORKERS", "1")),
                clinics_file=Path(env["CLINICQ_CLINICS"]) if env.get("CLINICQ_CLINICS") else None,
                max_body_bytes=int(env.get("CLINICQ_MAX_BODY_BYTES", str(64 * 1024))),
                rate_limit_per_second=float(env.get("CLINICQ_RATE_LIMIT", "50")),
                rate_limit_burst=int(env.get("CLINICQ_RATE_BURST", "100")),
                auth_failures_per_second=float(env.get("CLINICQ_AUTH_FAILURES_RATE", "1")),
                auth_failures_burst=int(env.get("CLINICQ_AUTH_FAILURES_BURST", "30")),
                hold_seconds=int(env.get("CLINICQ_HOLD_SECONDS", "300")),
                public_url=env.get("CLINICQ_PUBLIC_URL", ""),
                metrics_access=env.get("CLINICQ_METRICS", "loopback"),
                push_sockets_per_token=int(env.get("CLINICQ_PUSH_SOCKETS_PER_TOKEN", "500")),
                push_sockets_per_ticket=int(env.get("CLINICQ_PUSH_SOCKETS_PER_TICKET", "5")),
                encryption_key=bytes.fromhex(env.get("CLINICQ_ENCRYPTION_KEY", "")),
                audit_key=bytes.fromhex(env.get("CLINICQ_AUDIT_KEY", "")),
                smsc_url=env.get("CLINICQ_SMSC_URL", "https://smsc.ru/sys/"),
                smsc_login=env.get("CLINICQ_SMSC_LOGIN", ""),
                smsc_password=env.get("CLINICQ_SMSC_PASSWORD", ""),
                smsc_sender=env.get("CLINICQ_SMSC_SENDER", ""),
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
        if self.metrics_access not in ("loopback", "token", "public"):
            raise ConfigError("CLINICQ_METRICS is loopback, token or public")
        if self.push_sockets_per_token < 1 or self.push_sockets_per_ticket < 1:
            raise ConfigError("the push socket limits must be at least 1")
        if self.auth_failures_per_second <= 0 or self.auth_failures_burst < 1:
            raise ConfigError("the failed-authentication limits must be positive")
        if self.rate_limit_per_second <= 0 or self.rate_limit_burst < 1:
            raise ConfigError("rate limits must be positive")
        if self.encryption_key and len(self.encryption_key) != 32:
            raise ConfigError("CLINICQ_ENCRYPTION_KEY must be 64 hex digits (a 32-byte AES key)")

    @property
    def sms_enabled(self) -> bool:
        return bool(self.encryption_key)

    @property
    def sms_sending(self) -> bool:
        return self.sms_enabled and bool(self.smsc_login)

    def notifier(self) -> NotifierSettings:
        return NotifierSettings(
            smsc_url=self.smsc_url,
            smsc_login=self.smsc_login,
            smsc_password=self.smsc_password,
            smsc_sender=self.smsc_sender or None,
            encryption_key=self.encryption_key,
        )

    def with_stores(self, redis_url: str, database_url: str) -> Settings:
        return replace(self, redis_url=redis_url, database_url=database_url)

    @property
    def base_url(self) -> str:
        return self.public_url or f"http://{self.host}:{self.port}"
