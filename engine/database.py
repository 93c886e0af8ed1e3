"""Prepare PostgreSQL as its administrator, then hand the engine a least-privilege URL.

``DATABASE_URL`` names the administrator (the owner of the tables: on the embedded server and a
trust-auth machine, the superuser). It creates or upgrades every table and the role
``clinicq_engine`` (roles.sql); the engine's pools then connect as that role, which may read the
journal and append to it only through ``journal_append``. ``CLINICQ_ENGINE_DATABASE_URL`` names
the engine's connection explicitly (a password, another host); without it the administrator's URL
is reused with the user changed.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from urllib.parse import urlsplit, urlunsplit

import asyncpg

from engine.journal_postgres import apply_roles, apply_schema

log = logging.getLogger(__name__)
ENGINE_ROLE = "clinicq_engine"


def as_role(url: str, role: str = ENGINE_ROLE) -> str:
    """``url`` with its user replaced by ``role`` and no password (trust or peer auth)."""
    parts = urlsplit(url)
    host = parts.netloc.rpartition("@")[2]
    return urlunsplit(parts._replace(netloc=f"{role}@{host}"))


async def prepare(
    admin_url: str,
    engine_url: str | None = None,
    *,
    schemas: Sequence[Callable[[asyncpg.Pool], Awaitable[None]]] = (),
) -> str:
    """Create or upgrade the engine's schema and the parts' ``schemas``, then the engine's role
    (granted on every table there is); return the URL the engine connects with."""
    pool = await asyncpg.create_pool(admin_url, min_size=1, max_size=2)
    try:
        await apply_schema(pool)
        for apply in schemas:
            await apply(pool)
        try:
            await apply_roles(pool)
        except asyncpg.InsufficientPrivilegeError:
            log.warning(
                "cannot create the role %s as this user: the engine runs with the administrator's "
                "rights; set CLINICQ_ENGINE_DATABASE_URL to a least-privilege role",
                ENGINE_ROLE,
            )
            return engine_url or admin_url
    finally:
        await pool.close()
    return engine_url or as_role(admin_url)
