"""``clinicq``: run the engine, manage tokens, verify the journal."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import secrets
import signal
import sys
from collections.abc import Awaitable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import asyncpg
import click
import httpx
import uvicorn

from clinic_sim.cli import commands as sim_commands
from clinicq.parts import SCHEMAS
from clinicq.settings import Settings
from clinicq.supervise import Kept
from displays.cli import push
from engine import audit as audit_mod
from engine.archive import Archived, archive, parse_month
from engine.audit import Anchor, parse_anchors
from engine.auth import ROLES, create_token, list_tokens, revoke_tokens
from engine.embedded import EmbeddedPostgres, EmbeddedRedis
from engine.errors import EngineError
from engine.journal_postgres import apply_schema
from engine.runtime import close_engine, open_engine
from notifier.cli import SmsCliConfig, sms
from notifier.crypto import PhoneCipher
from notifier.demo import seed_icu_demo
from notifier.store_postgres import SmsStore
from ticketing.cli import commands as ticket_commands

T = TypeVar("T")


def _run(coro: Awaitable[T]) -> T:
    try:
        return asyncio.run(coro)  # type: ignore[arg-type]
    except EngineError as exc:
        raise click.ClickException(exc.message) from exc
    except (OSError, asyncpg.PostgresError) as exc:
        raise click.ClickException(f"cannot reach PostgreSQL: {exc}") from exc


def _settings() -> Settings:
    try:
        return Settings.from_env()
    except EngineError as exc:
        raise click.ClickException(exc.message) from exc


def _need_database(settings: Settings) -> str:
    if not settings.database_url:
        raise click.ClickException("set DATABASE_URL (or use `clinicq run`, which starts its own)")
    return settings.database_url


@click.group()
@click.pass_context
def main(ctx: click.Context) -> None:
    """Clinic Queue: a real-time queue engine for polyclinics."""
    # force: python-escpos calls logging.basicConfig() when imported (ticketing imports it),
    # which would make this call a no-op and hide every INFO line (a unit's journal needs them).
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s", force=True
    )
    settings = _settings()
    if settings.database_url and settings.sms_enabled:
        ctx.obj = SmsCliConfig(settings.database_url, settings.notifier, settings.metrics_access)


@main.command()
@click.option("--workers", default=None, type=int, help="uvicorn worker processes")
@click.option("--host", default=None)
@click.option("--port", default=None, type=int)
def serve(workers: int | None, host: str | None, port: int | None) -> None:
    """Serve the engine on the Redis and PostgreSQL named by REDIS_URL and DATABASE_URL."""
    settings = _settings()
    if not (settings.redis_url and settings.database_url):
        raise click.ClickException("set REDIS_URL and DATABASE_URL, or use `clinicq run`")
    _serve(
        settings.replace(
            workers=workers or settings.workers,
            host=host or settings.host,
            port=port or settings.port,
        )
    )


def _serve(settings: Settings) -> None:
    # Each uvicorn worker builds its app from the environment (clinicq.asgi): hand the settings
    # over there, complete, rather than let a worker read defaults this process overrode.
    os.environ.update(settings.environ())
    uvicorn.run(
        "clinicq.asgi:app",
        factory=True,
        host=settings.host,
        port=settings.port,
        workers=settings.workers,
        log_level="warning",
        loop="uvloop",
        http="httptools",
    )


@main.command()
@click.option("--workers", default=1, type=int)
@click.option("--port", default=None, type=int)
def run(workers: int, port: int | None) -> None:
    """Start embedded servers under ./var (unless REDIS_URL/DATABASE_URL are set), seed the demo
    clinic, print links, and serve."""
    settings = _settings()
    data = settings.data_dir
    # uvicorn re-raises the signal it stopped on once it has shut down; SIGTERM's default
    # action would end this process on the spot and leave the embedded servers running. End
    # it like Ctrl-C instead, through the `finally` below.
    signal.signal(signal.SIGTERM, _exit_on_signal)
    redis_server = pg_server = None
    if not settings.redis_url:
        redis_server = EmbeddedRedis(data / "redis").start()
        settings = settings.replace(redis_url=redis_server.url)
    if not settings.database_url:
        pg_server = EmbeddedPostgres(data / "postgres").start()
        settings = settings.replace(database_url=pg_server.url)
    if not settings.sms_enabled:
        settings = settings.with_notifier(encryption_key=_demo_key(data / "notifier.key"))
    settings = settings.replace(workers=workers, port=port or settings.port)
    push_port = settings.port + 1
    pusher = Kept(
        "push server",
        [sys.executable, "-m", "clinicq.cli", "push", "--port", str(push_port)],
        env={**os.environ, **settings.environ()},
    )
    try:
        tokens = _run(_demo_tokens(settings))
        base, ws = settings.base_url, f"push=ws://{settings.host}:{push_port}"
        click.echo("\nClinic Queue is starting. Demo clinic 'demo' (Городская поликлиника № 42):")
        for what, path, role in (
            ("kiosk", "/kiosk/demo", "kiosk"),
            ("waiting-room screen", "/screen/demo", "display"),
            ("doctor panel", "/panel/demo/ivanova", "doctor"),  # Иванова's own token
            ("department head", "/dashboard/demo", "head"),
            ("ICU doctor's desk", "/icu/demo", "icu_doctor"),  # Иванова's, as attending
            ("information desk", "/desk/demo", "registrar"),
            ("city overview", "/city", "admin"),
        ):
            click.echo(f"  {what + ':':<22}{base}{path}?token={tokens[role]}&{ws}")
        click.echo(f"  {'API docs:':<22}{base}/docs")
        click.echo(
            f"  {'stores:':<22}REDIS_URL={settings.redis_url} DATABASE_URL={settings.database_url}"
        )
        click.echo(
            f"  {'tokens (shown once):':<22}" + ", ".join(f"{r}={t}" for r, t in tokens.items())
        )
        me = _own_command()
        click.echo(
            f"  {'other doctors:':<22}the panel link above is Иванова's; for another doctor, "
            f"DATABASE_URL={settings.database_url} {me} token create --role doctor --clinic demo "
            "--doctor petrov"
        )
        click.echo(f"  {'a simulated hour:':<22}{me} demo --url {base} --token {tokens['head']}\n")
        _serve(settings)
    finally:
        pusher.stop()
        if redis_server:
            redis_server.stop()
        if pg_server:
            pg_server.stop()


def _own_command() -> str:
    """How to run clinicq again from here: `.venv/bin/clinicq` when `make run` started it, since
    the virtual environment is not on the PATH."""
    me = Path(sys.argv[0])
    if me.name == "clinicq" and me.exists():
        return os.path.relpath(me) if not me.is_relative_to("/usr") else me.name
    return f"{os.path.relpath(sys.executable)} -m clinicq.cli"


def _exit_on_signal(signum: int, _frame: object) -> None:
    raise SystemExit(128 + signum)


def _demo_key(path: Path) -> bytes:
    """The demo's key for phone numbers at rest, made once under ./var (set your own in production)."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_hex(32))
        path.chmod(0o600)
    return bytes.fromhex(path.read_text().strip())


async def _demo_tokens(settings: Settings) -> dict[str, str]:
    engine = await open_engine(settings, schemas=SCHEMAS, seed=True)
    try:
        await revoke_tokens(engine.pool, label="demo")  # last run's demo links stop working
        out = {}
        for role, doctor in (("kiosk", None), ("display", None), ("doctor", "ivanova"),
                             ("head", None), ("registrar", None), ("partner", None), ("icu_doctor", "ivanova"),
                             ("admin", None)):  # fmt: skip
            clinic = None if role in ("partner", "admin") else "demo"
            _, out[role] = await create_token(
                engine.pool, role, clinic=clinic, doctor=doctor, label="demo"
            )
        if settings.sms_enabled:
            store = SmsStore(engine.pool, PhoneCipher(settings.notifier.encryption_key))
            await seed_icu_demo(store, "demo", "ivanova", datetime.now(UTC))
        return out
    finally:
        await close_engine(engine)


@main.group()
def token() -> None:
    """Manage API tokens."""


@token.command("create")
@click.option("--role", required=True, type=click.Choice(ROLES))
@click.option("--clinic", default=None)
@click.option("--doctor", default=None)
@click.option("--label", default="")
def token_create(role: str, clinic: str | None, doctor: str | None, label: str) -> None:
    """Create a token and print it once; only its digest is stored."""
    url = _need_database(_settings())

    async def go() -> tuple[str, str]:
        pool = await asyncpg.create_pool(url, min_size=1, max_size=2)
        try:
            await apply_schema(pool)
            return await create_token(pool, role, clinic=clinic, doctor=doctor, label=label)
        finally:
            await pool.close()

    token_id, secret = _run(go())
    click.echo(f"{token_id} {secret}")


@token.command("list")
def token_list() -> None:
    """List tokens (never the secrets): id, role, clinic, doctor, label, created, revoked."""
    url = _need_database(_settings())

    async def go() -> list[Any]:
        pool = await asyncpg.create_pool(url, min_size=1, max_size=2)
        try:
            await apply_schema(pool)
            return await list_tokens(pool)
        finally:
            await pool.close()

    for row in _run(go()):
        state = f"revoked {row['revoked_at']:%Y-%m-%d}" if row["revoked_at"] else "live"
        click.echo(
            f"{row['id']}  {row['role']:<10} {row['clinic'] or '-':<12} {row['doctor'] or '-':<10} "
            f"{row['label'] or '-':<10} {row['created_at']:%Y-%m-%d %H:%M}  {state}"
        )


@token.command("revoke")
@click.argument("token_id")
def token_revoke(token_id: str) -> None:
    """Revoke a token by its id (tk_...); it stops working within 30 s on every worker."""
    url = _need_database(_settings())

    async def go() -> int:
        pool = await asyncpg.create_pool(url, min_size=1, max_size=2)
        try:
            await apply_schema(pool)
            return await revoke_tokens(pool, token_id=token_id)
        finally:
            await pool.close()

    if _run(go()) == 0:
        raise click.ClickException(f"no live token {token_id!r}")
    click.echo(f"revoked {token_id}")


@main.group()
def audit() -> None:
    """Check the journal, and anchor its chain heads outside the database."""


def _read_anchors(path: Path | None) -> dict[str, Anchor]:
    if path is None:
        return {}
    try:
        return parse_anchors([json.loads(line) for line in path.read_text().splitlines() if line])
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise click.ClickException(f"cannot read the anchor file {path}: {exc}") from exc


@audit.command("verify")
@click.option("--clinic", default=None, help="one clinic (default: all)")
@click.option(
    "--anchor",
    "anchor_file",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help="an anchor file written by `audit anchor`: the chain must still pass through it",
)
@click.option(
    "--snapshots", is_flag=True, help="also re-fold the journal to check every stored snapshot"
)
def audit_verify(clinic: str | None, anchor_file: Path | None, snapshots: bool) -> None:
    """Walk every clinic's hash chain in one consistent snapshot; exit 1 naming the clinic, the
    offset and the kind of break if any entry was altered, removed or reordered."""
    settings = _settings()
    url, key = _need_database(settings), settings.audit_key
    anchors = _read_anchors(anchor_file)

    async def go() -> list[Any]:
        pool = await asyncpg.create_pool(url, min_size=1, max_size=2)
        try:
            await apply_schema(pool)
            known = await audit_mod.clinics(pool)
            if clinic and clinic not in known:
                raise click.ClickException(f"no journal for clinic {clinic!r}")
            names = [clinic] if clinic else sorted(set(known) | set(anchors))
            reports = []
            for name in names:
                report = await audit_mod.verify(pool, name, anchors, key)
                if report.ok and snapshots:
                    report = await audit_mod.verify_snapshots(pool, name) or report
                reports.append(report)
            return reports
        finally:
            await pool.close()

    reports = _run(go())
    bad = 0
    for report in reports:
        if report.ok:
            click.echo(f"{report.clinic}: ok, {report.entries} entries, head {report.head}")
        else:
            bad += 1
            click.echo(f"{report.clinic}: BROKEN at offset {report.broken_at}: {report.reason}")
    if not reports:
        click.echo("no journal entries")
    sys.exit(1 if bad else 0)


@audit.command("anchor")
@click.option(
    "--out",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help="append the heads to this file (JSON lines)",
)
@click.option("--url", "post_url", default=None, help="also POST the heads as JSON to this URL")
def audit_anchor(out: Path | None, post_url: str | None) -> None:
    """Print every clinic's chain head now (JSON lines). Keep it outside the database: a later
    rewrite of the chain, even by a superuser, no longer passes `audit verify --anchor`."""
    url = _need_database(_settings())

    async def go() -> list[Anchor]:
        pool = await asyncpg.create_pool(url, min_size=1, max_size=2)
        try:
            await apply_schema(pool)
            return await audit_mod.anchor(pool)
        finally:
            await pool.close()

    heads = _run(go())
    stamp = datetime.now(UTC).isoformat(timespec="seconds")
    lines = [json.dumps({**a.as_json(), "at": stamp}, ensure_ascii=False) for a in heads]
    for line in lines:
        click.echo(line)
    if out is not None:
        try:
            with out.open("a") as f:
                f.writelines(line + "\n" for line in lines)
        except OSError as exc:
            raise click.ClickException(f"cannot write {out}: {exc}") from exc
    if post_url:
        try:
            response = httpx.post(post_url, json=[json.loads(line) for line in lines], timeout=10)
            response.raise_for_status()
        except httpx.HTTPError as exc:
            raise click.ClickException(f"could not send the anchor to {post_url}: {exc}") from exc


@main.group()
def journal() -> None:
    """Look after the journal's retention."""


@journal.command("archive")
@click.option("--before", required=True, help="archive every month before this one (YYYY-MM)")
def journal_archive(before: str) -> None:
    """Check, checkpoint and detach each monthly partition before a month; the detached tables
    stay until exported (pg_dump -t journal_YYYY_MM) and dropped. See engine/archive.py."""
    settings = _settings()
    url = _need_database(settings)

    async def go() -> list[Archived]:
        pool = await asyncpg.create_pool(url, min_size=1, max_size=2)
        try:
            await apply_schema(pool)
            return await archive(pool, parse_month(before), settings.audit_key)
        finally:
            await pool.close()

    done = _run(go())
    for a in done:
        click.echo(
            f"{a.partition}: detached, {a.entries} entries of {a.clinics} clinics checkpointed"
        )
    if not done:
        click.echo(f"no month before {before} to archive")


main.add_command(push)

for _command in [*ticket_commands, *sim_commands, sms]:
    main.add_command(_command)


if __name__ == "__main__":
    main()
