"""``clinicq sms ...``: preview the daily text, send what is due, show delivery status.

The engine attaches the ``sms`` group and puts an ``SmsCliConfig`` in ``ctx.obj`` (it alone
reads the environment). Bad input ends with a one-line error and exit status 1.
"""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import asyncpg
import click
from prometheus_client import CollectorRegistry

from engine.api.metrics_port import serve_metrics
from engine.api.ops import metrics_answerer
from engine.auth import TokenBook
from engine.errors import EngineError
from notifier.compose import LANGUAGES
from notifier.crypto import PhoneCipher
from notifier.hospitals import daily_message
from notifier.hospitals_postgres import Hospitals
from notifier.metrics import SmsMetrics
from notifier.outbox_postgres import Outbox
from notifier.settings import NotifierSettings
from notifier.store_postgres import SmsStore, init_schema
from notifier.vitals import assess, merge
from notifier.worker import Worker, utcnow

T = TypeVar("T")


@dataclass(frozen=True)
class SmsCliConfig:
    database_url: str
    settings: NotifierSettings
    metrics_access: str = "loopback"  # who may read --metrics-port (CLINICQ_METRICS)


def _run(ctx: click.Context, job: Callable[[asyncpg.Pool, NotifierSettings], Awaitable[T]]) -> T:
    config = ctx.find_object(SmsCliConfig)
    if config is None:
        raise click.ClickException("the sms commands need the engine's database and SMS settings")

    async def main() -> T:
        pool = await asyncpg.create_pool(config.database_url, min_size=1, max_size=4)
        try:
            await init_schema(pool)
            return await job(pool, config.settings)
        finally:
            await pool.close()

    try:
        config.settings.validate()
        return asyncio.run(main())
    except EngineError as exc:
        raise click.ClickException(exc.message) from None
    except (OSError, asyncpg.PostgresError) as exc:
        raise click.ClickException(f"database unavailable: {type(exc).__name__}") from None


@click.group("sms")
def sms() -> None:
    """ICU daily SMS to relatives."""


@sms.command()
@click.option("--patient", "patient_id", default="", help="ICU patient id.")
@click.option("--language", default="ru", help="ru (default) or en.")
@click.pass_context
def preview(ctx: click.Context, patient_id: str, language: str) -> None:
    """Print today's message for a patient without sending it."""
    if not patient_id.strip():
        raise click.ClickException("--patient is required")
    if language not in LANGUAGES:
        raise click.ClickException(f"--language must be one of {', '.join(LANGUAGES)}")

    async def job(pool: asyncpg.Pool, settings: NotifierSettings) -> str:
        store = SmsStore(pool, PhoneCipher(settings.encryption_key))
        patient = await store.get_patient(patient_id)
        _, sched = await Hospitals(pool, settings.default_schedule).fetch(patient.clinic)
        now = utcnow()
        vitals = assess(merge(await store.observations(patient_id)), now, settings.stale_after)
        message = daily_message(
            sched,
            language=language,
            local_date=now.astimezone(sched.zone).date(),
            vitals=vitals,
            max_segments=settings.max_segments,
            patient=patient.label,
        )
        parts = message.segments
        return f"{message.text}\n-- {parts.count} segment(s), {parts.encoding}, {parts.units} units"

    click.echo(_run(ctx, job))


@sms.command("send-due")
@click.option("--loop", is_flag=True, help="Keep running instead of stopping when idle.")
@click.option(
    "--metrics-port", default=0, type=int, help="serve Prometheus metrics on this port (0: none)"
)
@click.option("--metrics-host", default="127.0.0.1", show_default=True,
              help="the address the metrics port listens on")  # fmt: skip
@click.pass_context
def send_due(ctx: click.Context, loop: bool, metrics_port: int, metrics_host: str) -> None:
    """Queue today's messages and send what is due (until idle unless --loop)."""

    config = ctx.find_object(SmsCliConfig)
    access = config.metrics_access if config else "loopback"

    async def job(pool: asyncpg.Pool, settings: NotifierSettings) -> dict[str, int]:
        metrics, server = None, None
        if metrics_port:
            registry = CollectorRegistry()
            metrics = SmsMetrics(registry)
            answer = metrics_answerer(access, TokenBook(pool), registry)
            server = await serve_metrics(
                metrics_host, range(metrics_port, metrics_port + 1), answer
            )
            if server is None:
                raise click.ClickException(f"port {metrics_port} is taken (--metrics-port)")
        worker = Worker(pool, settings, name="sms-cli", metrics=metrics)
        if loop:
            # A service manager stops the sender with SIGTERM (deploy/systemd/clinicq-sms.service):
            # drain the rows in hand and exit 0, as on Ctrl-C, instead of dying mid-send.
            running = asyncio.get_running_loop()
            for signum in (signal.SIGTERM, signal.SIGINT):
                running.add_signal_handler(signum, worker.request_stop)
        try:
            await worker.run(burst=not loop)
        finally:
            await worker.close()
            if server is not None:
                server.close()
        return await worker.outbox.counts()

    counts = _run(ctx, job)
    click.echo(" ".join(f"{state}={n}" for state, n in sorted(counts.items())) or "nothing queued")


@sms.command()
@click.option("--patient", "patient_id", default="", help="Show one patient's messages.")
@click.pass_context
def status(ctx: click.Context, patient_id: str) -> None:
    """Outbox counts by state, or one patient's messages (numbers masked)."""

    async def job(pool: asyncpg.Pool, settings: NotifierSettings) -> list[str]:
        cipher = PhoneCipher(settings.encryption_key)
        if not patient_id:
            counts = await Outbox(pool, cipher).counts()
            return [f"{state}: {n}" for state, n in sorted(counts.items())] or ["nothing queued"]
        lines: list[str] = []
        for m in await SmsStore(pool, cipher).messages(patient_id):
            sent = m.sent_at.isoformat(timespec="seconds") if m.sent_at else "-"
            row: list[Any] = [m.local_date, m.phone_masked, m.state, m.delivery or "-", sent]
            lines.append("  ".join(str(x) for x in row))
        return lines or ["no messages"]

    for line in _run(ctx, job):
        click.echo(line)
