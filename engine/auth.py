"""Bearer tokens with roles, and per-token rate limits.

Tokens are random strings shown once at creation; only their SHA-256 digest is stored. Roles:

    kiosk      take tickets, check in bookings            (bound to a clinic)
    registrar  everything at the information desk          (bound to a clinic)
    doctor     act on their own cabinet and patients      (bound to a clinic and a doctor)
    head       the department head: duty, moves, all     (bound to a clinic)
    display    read-only screens                           (bound to a clinic)
    partner    booking channels: slots only                (any clinic)
    icu_doctor ICU SMS consent and observations            (bound to a clinic)
    admin      everything, every clinic
"""

from __future__ import annotations

import hashlib
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

import asyncpg
from cachetools import TTLCache

from engine.clinic import stored_clinic
from engine.errors import Forbidden, RateLimited, Unauthorized, ValidationFailed
from engine.listen_postgres import Listener

ROLES = ("kiosk", "registrar", "doctor", "head", "display", "partner", "icu_doctor", "admin")
ALL_STAFF = ("kiosk", "registrar", "doctor", "head", "display", "icu_doctor")
CACHE_SECONDS = 30.0
CACHE_SIZE = 10_000  # tokens (known and unknown) remembered per process
BUCKETS_KEPT = 100_000  # rate-limit buckets per process
FAILURES_PER_SECOND = 1.0  # failed authentications an address may make, after a burst of
FAILURES_BURST = 30
REVOKED_CHANNEL = "clinicq_token_revoked"
REVOKED_MARGIN_SECONDS = 300.0  # how far before the listening a missed revocation is looked for


@dataclass(frozen=True, slots=True)
class Principal:
    token_id: str
    role: str
    clinic: str | None = None
    doctor: str | None = None

    def require(self, clinic: str, *roles: str) -> Principal:
        """Refuse unless this token has one of ``roles`` and may act in ``clinic``."""
        self.require_role(*roles)
        if self.clinic is not None and self.clinic != clinic:
            raise Forbidden("this token belongs to another clinic")
        return self

    def require_role(self, *roles: str) -> Principal:
        """Refuse unless this token has one of ``roles`` (where the path names no clinic)."""
        if self.role not in roles and self.role != "admin":
            raise Forbidden(f"a {self.role} token cannot do this")
        return self

    @property
    def acting_doctor(self) -> str | None:
        """The doctor whose own patients and cabinet bound this token, if it is a doctor's."""
        return self.doctor if self.role == "doctor" else None


def digest(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


async def create_token(
    pool: asyncpg.Pool,
    role: str,
    *,
    clinic: str | None = None,
    doctor: str | None = None,
    label: str = "",
) -> tuple[str, str]:
    """Create a token; return (token id, the token itself, shown only now)."""
    if role not in ROLES:
        raise ValidationFailed(f"role must be one of {', '.join(ROLES)}")
    if role == "doctor" and not (clinic and doctor):
        raise ValidationFailed("a doctor token needs --clinic and --doctor")
    if role not in ("admin", "partner") and not clinic:
        raise ValidationFailed(f"a {role} token needs --clinic")
    if doctor and role not in ("doctor", "icu_doctor"):
        raise ValidationFailed(f"a {role} token is not bound to a doctor; leave out --doctor")
    if clinic is not None:
        config = await pool.fetchval("SELECT config FROM clinics WHERE id = $1", clinic)
        if config is None:
            raise ValidationFailed(f"no clinic {clinic!r}")
        if doctor and stored_clinic(config.encode()).doctor(doctor) is None:
            raise ValidationFailed(f"no doctor {doctor!r} in clinic {clinic!r}")
    token = "cq_" + secrets.token_urlsafe(24)
    # 64 bits: with 32, a city's tens of thousands of tokens (every screen, panel and kiosk has
    # one) would meet a taken id now and then, and the insert would fail (the suite did, once).
    token_id = "tk_" + secrets.token_hex(8)
    await pool.execute(
        "INSERT INTO tokens (id, digest, role, clinic, doctor, label) VALUES ($1, $2, $3, $4, $5, $6)",
        token_id,
        digest(token),
        role,
        clinic,
        doctor,
        label,
    )
    return token_id, token


async def revoke_tokens(
    pool: asyncpg.Pool, *, token_id: str | None = None, label: str | None = None
) -> int:
    """Revoke one token by id, or every live token with a label; return how many. Every
    process that follows revocations (``TokenBook.follow_revocations``) hears of it on commit."""
    async with pool.acquire() as conn, conn.transaction():
        rows = await conn.fetch(
            "UPDATE tokens SET revoked_at = now() WHERE revoked_at IS NULL "
            "AND (id = $1 OR label = $2) RETURNING id",
            token_id,
            label,
        )
        for row in rows:
            await conn.execute("SELECT pg_notify($1, $2)", REVOKED_CHANNEL, row["id"])
    return len(rows)


async def list_tokens(pool: asyncpg.Pool) -> list[asyncpg.Record]:
    return await pool.fetch(
        "SELECT id, role, clinic, doctor, label, created_at, revoked_at FROM tokens ORDER BY created_at"
    )


class TokenBook:
    """Looks tokens up by digest, with a short cache so a request rarely touches PostgreSQL.
    A revocation evicts the token from the cache at once (``follow_revocations``)."""

    def __init__(
        self,
        pool: asyncpg.Pool,
        *,
        failures_per_second: float = FAILURES_PER_SECOND,
        failures_burst: int = FAILURES_BURST,
    ) -> None:
        self.pool = pool
        # Bounded: every unknown bearer string an outsider sends is remembered too (so it costs
        # one query, not one a request), and must not grow the process without end.
        self._cache: TTLCache[bytes, Principal | None] = TTLCache(CACHE_SIZE, CACHE_SECONDS)
        self._on_revoke: list[Callable[[str], None]] = []
        # PostgreSQL's time when revocations were last known to be heard (``refresh``).
        self._heard_since: datetime | None = None
        # Failed authentications per client address: guessing tokens costs the guesser time,
        # and past the budget costs PostgreSQL nothing.
        self._failures = RateLimiter(failures_per_second, failures_burst)
        self._failure_pause = 1.0 / failures_per_second

    async def follow_revocations(
        self, listener: Listener, on_revoke: Callable[[str], None] | None = None
    ) -> None:
        """Listen for revoked tokens: forget them, then call ``on_revoke(token_id)`` (the push
        server closes the token's sockets there). After the listener reconnects, ``refresh``
        makes up for the revocations not heard meanwhile."""
        if on_revoke is not None:
            self._on_revoke.append(on_revoke)
        if self._heard_since is None:
            self._heard_since = await self.pool.fetchval("SELECT now()")
        await listener.listen(REVOKED_CHANNEL, self.forget)
        listener.on_reconnect(self.refresh)

    async def refresh(self) -> None:
        """After revocations may have gone unheard: forget every cached token (each is read
        again on its next use) and tell ``on_revoke`` of each token revoked since the listener
        last started listening (a revocation heard twice is harmless)."""
        now = await self.pool.fetchval("SELECT now()")
        rows = []
        if self._on_revoke and self._heard_since is not None:
            # revoked_at is its transaction's start, which may precede the listening by as long
            # as that transaction ran, and another primary's clock may differ a little.
            rows = await self.pool.fetch(
                "SELECT id FROM tokens WHERE revoked_at >= $1::timestamptz - make_interval(secs => $2)",
                self._heard_since,
                REVOKED_MARGIN_SECONDS,
            )
        self._heard_since = now
        self._cache.clear()
        for row in rows:
            self.forget(row["id"])

    def forget(self, token_id: str) -> None:
        for key in [k for k, p in self._cache.items() if p and p.token_id == token_id]:
            self._cache.pop(key, None)
        for callback in self._on_revoke:
            callback(token_id)

    async def authenticate(self, header: str | None, client: str | None = None) -> Principal:
        """The token's principal; ``client`` (the caller's address) is charged for failures,
        and an address past its budget of failures gets 429 for any token not known here."""
        if not header or not header.startswith("Bearer "):
            raise Unauthorized("send 'Authorization: Bearer <token>'")
        key = digest(header[7:].strip())
        if key in self._cache:
            principal = self._cache[key]
        else:
            if client is not None and self._failures.exhausted(client):
                raise RateLimited(
                    "too many failed authentications from this address",
                    retry_after=self._failure_pause,
                    code="too_many_failed_logins",
                )
            row = await self.pool.fetchrow(
                "SELECT id, role, clinic, doctor FROM tokens WHERE digest = $1 AND revoked_at IS NULL",
                key,
            )
            principal = (
                Principal(row["id"], row["role"], row["clinic"], row["doctor"]) if row else None
            )
            self._cache[key] = principal
        if principal is None:
            if client is not None:
                self._failures.charge(client)
            raise Unauthorized("unknown or revoked token")
        return principal


class RateLimiter:
    """A token bucket per token id: ``rate`` requests a second, bursts up to ``burst``."""

    def __init__(self, rate: float, burst: int) -> None:
        self.rate = rate
        self.burst = burst
        # A bucket idle long enough to be full again carries nothing worth keeping.
        self._buckets: TTLCache[str, tuple[float, float]] = TTLCache(
            BUCKETS_KEPT, max(60.0, burst / rate)
        )

    def _level(self, who: str, now: float) -> float:
        level, last = self._buckets.get(who, (float(self.burst), now))
        return min(float(self.burst), level + (now - last) * self.rate)

    def exhausted(self, who: str) -> bool:
        return self._level(who, time.monotonic()) < 1.0

    def charge(self, who: str) -> None:
        """Take one from ``who``'s bucket without refusing (an event already happened)."""
        now = time.monotonic()
        self._buckets[who] = (max(0.0, self._level(who, now) - 1.0), now)

    def check(self, who: str) -> None:
        now = time.monotonic()
        level, last = self._buckets.get(who, (float(self.burst), now))
        level = min(float(self.burst), level + (now - last) * self.rate)
        if level < 1.0:
            self._buckets[who] = (level, now)
            raise RateLimited(
                "too many requests for this token", retry_after=(1.0 - level) / self.rate
            )
        self._buckets[who] = (level - 1.0, now)
