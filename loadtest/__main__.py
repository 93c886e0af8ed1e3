"""``python -m loadtest bench``: see loadtest/bench.py."""

from __future__ import annotations

import sys

import click

from loadtest import bench


@click.group()
def cli() -> None:
    """Clinic Queue's load tests and benchmarks (loopback traffic only)."""


@cli.command("bench")
@click.option("--seconds", default=15, show_default=True, type=click.IntRange(1, 600))
@click.option("--connections", default=64, show_default=True, type=click.IntRange(1, 2000))
@click.option("--workers", default=2, show_default=True, type=click.IntRange(1, 16))
def bench_command(seconds: int, connections: int, workers: int) -> None:
    """Durable take-ticket throughput against a bare Starlette + Lua baseline."""
    sys.exit(bench.main(seconds, connections, workers))


if __name__ == "__main__":
    cli()
