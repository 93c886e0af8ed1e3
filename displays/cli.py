"""``clinicq push``: serve the screens' WebSockets (added to the ``clinicq`` group)."""

from __future__ import annotations

import click

from displays.feed import FeedOptions
from displays.push import PushOptions, run
from engine.errors import EngineError
from engine.settings import Settings


@click.command()
@click.option("--host", default=None, help="default: CLINICQ_HOST")
@click.option("--port", default=8001, type=int, show_default=True)
@click.option("--processes", default=1, type=int, show_default=True)
@click.option(
    "--port-per-process",
    is_flag=True,
    help="process i listens on port+i (for a proxy spreading clinics by URL) "
    "instead of all sharing one port through SO_REUSEPORT",
)
@click.option("--max-sockets", default=19_000, type=int, show_default=True)
@click.option("--slow-bytes", default=256 * 1024, type=int, show_default=True,
              help="drop a socket whose unsent backlog passes this")  # fmt: skip
@click.option("--sndbuf", default=64 * 1024, type=int, show_default=True,
              help="kernel send buffer per socket (SO_SNDBUF); 0 keeps the kernel's autotuning")  # fmt: skip
@click.option("--metrics-port", default=0, type=int,
              help="process i also serves /metrics on this port + i, for Prometheus (0: none)")  # fmt: skip
@click.option("--heartbeat", default=15.0, type=float, show_default=True)
@click.option("--board-every", default=1.0, type=float, show_default=True)
def push(
    host: str | None,
    port: int,
    processes: int,
    port_per_process: bool,
    max_sockets: int,
    slow_bytes: int,
    sndbuf: int,
    metrics_port: int,
    heartbeat: float,
    board_every: float,
) -> None:
    """Serve live screens over WebSockets from the Redis named by REDIS_URL (docs/DISPLAYS.md)."""
    try:
        settings = Settings.from_env()
    except EngineError as exc:
        raise click.ClickException(exc.message) from exc
    if not (settings.redis_url and settings.database_url):
        raise click.ClickException("set REDIS_URL and DATABASE_URL")
    if processes < 1 or heartbeat <= 0 or slow_bytes < 1024:
        raise click.ClickException("--processes >= 1, --heartbeat > 0, --slow-bytes >= 1024")
    feed = FeedOptions(
        heartbeat=heartbeat,
        silence=max(3 * heartbeat + 5, 20.0),
        slow_bytes=slow_bytes,
        board_every=board_every,
    )
    options = PushOptions(
        host=host or settings.host,
        port=port,
        processes=processes,
        port_per_process=port_per_process,
        max_sockets=max_sockets,
        sockets_per_token=settings.push_sockets_per_token,
        sockets_per_ticket=settings.push_sockets_per_ticket,
        sndbuf=sndbuf,
        feed=feed,
        metrics_access=settings.metrics_access,
        metrics_port=metrics_port,
    )
    run(settings, options)
